"""rag.models.chat.side_model: side calls use the same model; only the local
one needs to know (it keeps the reader's evaluated prompt around them)."""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.models.chat import make_chat_model, side_model
from rag.models.llama import LlamaCppChat

pytestmark = pytest.mark.unit


def test_a_server_model_is_its_own_side_model() -> None:
    model = make_chat_model(
        Settings.load(env={}, llm_backend="openai", openai_base_url="http://127.0.0.1:9/v1", openai_model="m")
    )
    assert side_model(model) is model


def test_the_local_side_model_is_a_copy_marked_side() -> None:
    reader = LlamaCppChat(model_path="/nonexistent.gguf", n_threads=2)  # cheap: nothing loads until a call
    side = side_model(reader)
    assert isinstance(side, LlamaCppChat) and side.side and not reader.side
    assert (side.model_path, side.n_threads, side.max_tokens) == (reader.model_path, reader.n_threads, reader.max_tokens)
