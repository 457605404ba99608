"""The chat page through its API: a real Gradio server on 127.0.0.1 and
gradio_client, over the real pipeline (real embedder and index on the seeds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client

from rag.errors import ConfigError, IndexNotReadyError
from rag.pipeline import Pipeline
from rag.types import Answer, AnswerStream
from tests.ui.support import (
    KNOWN_ANSWERS,
    PLANTED_FILE,
    PLANTED_QUESTION,
    api_ask,
    last_reply,
    planted_docs,
    running_app,
    tmp_settings,
)
from ui import app as ui_app


@pytest.fixture
def client(real_url: str) -> Client:
    return Client(real_url, verbose=False)


@pytest.mark.integration
def test_asks_and_gets_the_figure_with_its_source(client: Client):
    reply, sources, chat = api_ask(client, "2022年平湖实际外资是多少？")
    assert "41414" in reply
    assert "[1]" in reply
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert "000_1456ab72d246df34.txt" in sources
    assert '<mark class="rag-quote">' in sources and "41414" in sources


@pytest.mark.integration
def test_eight_concurrent_questions_all_answered(real_url: str):
    questions = list(KNOWN_ANSWERS)
    assert len(questions) == 8
    replies: dict[str, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(questions))

    def run(q: str) -> None:
        try:
            c = Client(real_url, verbose=False)  # its own session, its own history
            start.wait(timeout=60)
            replies[q] = api_ask(c, q)[0]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    wrong = {q: r for q, r in replies.items() if KNOWN_ANSWERS[q] not in r}
    assert len(replies) == 8 and not wrong, wrong


@pytest.mark.integration
def test_sessions_keep_their_own_history(real_url: str):
    a, b = Client(real_url, verbose=False), Client(real_url, verbose=False)
    api_ask(a, "2022年平湖实际外资是多少？")
    follow_up, _, chat_a = api_ask(a, "那2021年呢？")
    assert len(chat_a) == 4
    assert "Interpreted as" in follow_up  # condensed with session a's history
    fresh, _, chat_b = api_ask(b, "那2021年呢？")
    assert len(chat_b) == 2 and "Interpreted as" not in fresh


@pytest.mark.integration
def test_empty_message_is_ignored_and_long_one_explained(client: Client):
    msg, chat, sources = client.predict("   ", "hybrid", 5, "extractive", False, api_name="/chat")
    for out in (msg, chat, sources):  # nothing changes
        assert isinstance(out, dict) and out.get("__type__") == "update"
    reply, _, chat = api_ask(client, "长" * 2000)
    assert "2000 characters" in reply and "limit is 500" in reply
    assert "rag-error" in reply and "Traceback" not in reply


@pytest.mark.integration
def test_refusal_is_shown_as_such(client: Client):
    reply, sources, _ = api_ask(client, "平湖2022年的GDP增速是多少？")
    assert "资料中未找到相关信息" in reply
    assert "rag-label-refused" in reply and "rag-label-refused" in sources


@pytest.mark.integration
def test_clear_resets_the_conversation(client: Client):
    api_ask(client, "平湖有多少家日资企业？")
    msg, chat, sources = client.predict(api_name="/clear")
    assert (msg, chat) == ("", []) and "rag-sources-empty" in sources
    _, _, chat = api_ask(client, "平湖有多少家日资企业？")
    assert len(chat) == 2


@pytest.mark.integration
def test_planted_markup_is_escaped(tmp_path: Path, real_pipeline: Pipeline):
    docs = planted_docs(tmp_path / "docs")
    p = Pipeline(tmp_settings(docs, tmp_path / "index"), embedder=real_pipeline.embedder)
    p.ensure_index()
    with running_app(p) as url:
        reply, sources, chat = api_ask(Client(url, verbose=False), PLANTED_QUESTION)
    rendered = reply + sources
    assert "王小明" in reply and PLANTED_FILE in sources
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sources
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "&lt;img src=x onerror=alert(2)&gt;" in sources


class _Failing:
    """A stand-in pipeline whose answering raises `exc`."""

    def __init__(self, settings: Any, exc: BaseException) -> None:
        self.settings = settings
        self.exc = exc

    def stream(self, *args: Any, **kwargs: Any) -> AnswerStream:
        raise self.exc


@pytest.mark.integration
@pytest.mark.parametrize(
    ("exc", "shown", "hidden"),
    [
        (IndexNotReadyError("no index in /x; run: rag index"), "run: rag index", None),
        (RuntimeError("secret internal detail"), ui_app.GENERIC_ERROR, "secret internal detail"),
    ],
)
def test_errors_become_chat_messages(tmp_path: Path, exc, shown, hidden, caplog):
    stub = _Failing(tmp_settings(tmp_path, tmp_path / "index"), exc)
    with running_app(stub) as url:
        reply, _, chat = api_ask(Client(url, verbose=False), "2022年平湖实际外资是多少？")
    assert shown in reply and "rag-error" in reply and len(chat) == 2
    assert "Traceback" not in reply
    if hidden:
        assert hidden not in reply
        assert any("answering" in r.getMessage() for r in caplog.records)  # logged


@pytest.mark.integration
def test_llm_choice_when_unavailable_explains_how_to_enable(client: Client, real_pipeline: Pipeline, monkeypatch):
    hint = "llama-cpp-python is not installed; install it with: bash scripts/setup.sh --llm"
    monkeypatch.setattr(real_pipeline, "llm_status", lambda: (False, hint))
    reply, sources, chat = api_ask(client, "平湖有多少家日资企业？", answerer="llm")
    assert "cannot be used" in reply and "setup.sh --llm" in reply and "rag-notice" in reply
    assert "114" in reply and "answerer extractive" in sources  # answered without it


@pytest.mark.integration
@pytest.mark.llm
def test_llm_answerer_through_the_page(client: Client, real_pipeline: Pipeline):
    available, why = real_pipeline.llm_status()
    if not available:
        pytest.skip(f"LLM answerer not available: {why}")
    reply, sources, _ = api_ask(client, "平湖有多少家日资企业？", answerer="llm")
    assert "114" in reply or "资料中未找到相关信息" in reply
    assert "rag-error" not in reply


class _Streaming:
    """A stand-in pipeline whose stream has two deltas, then the Answer."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def stream(self, question: str, **kwargs: Any) -> AnswerStream:
        return AnswerStream(self._gen(question))

    def _gen(self, question: str) -> Generator[str, None, Answer]:
        yield "平湖共有日资企业"
        time.sleep(0.3)
        yield "114家。"
        time.sleep(0.3)
        return Answer(
            question=question,
            text="平湖共有日资企业114家。[1]",
            refused=False,
            citations=(),
            hits=(),
            lang="zh",
            answerer="llm",
            mode="hybrid",
        )


@pytest.mark.integration
def test_streamed_deltas_show_before_the_answer(tmp_path: Path):
    with running_app(_Streaming(tmp_settings(tmp_path, tmp_path / "index"))) as url:
        job = Client(url, verbose=False).submit(
            "平湖有多少家日资企业？", "hybrid", 5, "llm", False, api_name="/chat"
        )
        job.result(timeout=30)
        replies = [last_reply(out[1]) for out in job.outputs() if isinstance(out[1], list)]
    assert any(r.startswith("平湖共有日资企业 ▌") for r in replies), replies
    assert any(r.startswith("平湖共有日资企业114家。 ▌") for r in replies), replies
    assert replies[-1].startswith("平湖共有日资企业114家。[1]")


@pytest.mark.unit
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.org", "::"])
def test_remote_host_needs_allow_remote(host: str):
    with pytest.raises(ConfigError, match="--allow-remote"):
        ui_app.check_host(host, allow_remote=False)
    warning = ui_app.check_host(host, allow_remote=True)
    assert warning and "no username/password" in warning
    assert "." in (ui_app.check_host(host, allow_remote=True, auth=("u", "p")) or "")


@pytest.mark.unit
@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "localhost", "::1"])
def test_loopback_hosts_need_nothing(host: str):
    assert ui_app.check_host(host, allow_remote=False) is None


@pytest.mark.unit
def test_launch_refuses_remote_host_before_indexing(tmp_path: Path):
    s = tmp_settings(tmp_path / "missing-docs", tmp_path / "index", host="0.0.0.0")
    with pytest.raises(ConfigError):
        ui_app.launch(s)
    with pytest.raises(ConfigError, match="username and a password"):
        ui_app.check_host("127.0.0.1", allow_remote=False, auth=("u", ""))
