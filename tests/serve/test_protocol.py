"""What `rag serve` and its client agree on, without a server: the error
mapping both ways, the settings fingerprint, the OpenAI request records,
and an Answer surviving its JSON form (the client rebuilds it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import (
    ConfigError,
    GenerationError,
    IndexNotReadyError,
    InputError,
    ModelError,
    RagError,
)
from rag.pipeline import Pipeline
from rag.serve import check_bind, is_loopback
from rag.serve.openai_format import ChatRequest
from rag.serve.protocol import error_body, error_from, fingerprint
from rag.types import Answer, Turn

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("exc", "status"),
    [(InputError("bad question"), 400), (ConfigError("bad mode"), 400), (IndexNotReadyError("no index"), 503),
     (ModelError("no model"), 503), (GenerationError("timeout"), 502), (RagError("other"), 500)],
)
def test_errors_cross_http_as_the_same_class_and_message(exc: RagError, status: int) -> None:
    got_status, body = error_body(exc)
    assert got_status == status
    assert set(body["error"]) >= {"message", "type", "code"}
    back = error_from(body, got_status)
    assert type(back) is type(exc) and str(back) == str(exc)


def test_an_unexpected_error_is_one_line_not_a_traceback() -> None:
    status, body = error_body(ValueError("boom\nsecond line"))
    assert status == 500 and body["error"]["message"].startswith("unexpected ValueError: boom (a bug")
    assert isinstance(error_from({"no": "shape"}, 502), RagError)


def test_fingerprint_follows_what_changes_an_answer(tmp_path: Path) -> None:
    base = Settings.load(env={}, index_dir=tmp_path / "i")
    assert fingerprint(base) == fingerprint(base.with_(port=9999, top_k=9, mode="bm25", host="0.0.0.0"))
    assert fingerprint(base) == fingerprint(Settings.load(env={}, index_dir=tmp_path / "x" / ".." / "i"))
    for change in ({"index_dir": tmp_path / "j"}, {"chunk_size": 300}, {"embed_model": "fake"},
                   {"refusal_threshold": 0.5}, {"docs_dir": tmp_path}):
        assert fingerprint(base) != fingerprint(base.with_(**change)), change


def test_server_endpoint_default_and_off() -> None:
    assert Settings.load(env={}).server_endpoint == "http://127.0.0.1:7860"
    assert Settings.load(env={"RAG_PORT": "8000"}).server_endpoint == "http://127.0.0.1:8000"
    assert Settings.load(env={"RAG_SERVER_URL": "http://h:1/"}).server_endpoint == "http://h:1"
    assert Settings.load(env={"RAG_SERVER_URL": "off"}).server_endpoint is None


def test_a_non_loopback_host_needs_a_key() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "key")
    with pytest.raises(ConfigError, match="needs an API key"):
        check_bind("0.0.0.0", None)


def test_chat_request_question_and_history() -> None:
    req = ChatRequest.parse({
        "model": "rag", "temperature": 0.2, "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "2022年平湖实际外资是多少？"},
            {"role": "assistant", "content": "41414万美元。[1]"},
            {"role": "user", "content": [{"type": "text", "text": "那2020年"}, {"type": "text", "text": "呢？"}]},
        ],
    })
    assert req.question == "那2020年呢？"
    assert req.history() == (Turn(question="2022年平湖实际外资是多少？", answer="41414万美元。[1]"),)


@pytest.mark.parametrize(
    ("data", "words"),
    [({"model": "rag", "messages": []}, "'messages' is empty"), ({"messages": [{"role": "user", "content": "q"}]}, "model"),
     ({"model": "rag", "messages": [{"role": "assistant", "content": "a"}]}, "last message"),
     ({"model": "rag", "messages": "hello"}, "messages"), ([1, 2], "invalid request")],
)
def test_chat_request_refuses_with_a_message(data: object, words: str) -> None:
    with pytest.raises(InputError, match=words):
        ChatRequest.parse(data)


def test_answer_survives_its_json_form(fake_pipeline: Pipeline) -> None:
    a = fake_pipeline.ask("2022年平湖实际外资是多少？")
    assert Answer.from_dict(a.to_dict()) == a
