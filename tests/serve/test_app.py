"""`rag serve` as its clients meet it: a real server process on a free
loopback port, over the real seeds index and model, extractive answerer.

One server per module (started once, about 10-60 s: it builds its index
in a temp folder the first time the model is converted), with an API key,
so every request here carries it and one test checks the refusals without
it. Clients: the official `openai` package (plain and streaming),
LangChain's `ChatOpenAI`, httpx for the error cases, and `rag ask` in a
subprocess with and without the server.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.cli.common import format_answer
from rag.types import Answer
from ui.harness import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How much actual FDI was there in 2022?"
FIGURE = "41414"
SOURCE = "000_1456ab72d246df34.txt"
KEY = "test-" + secrets.token_hex(12)
# `rag ask` in a fresh interpreter; afterwards it reports the heavy modules it imported.
RAG_ASK = (
    "import json, sys\n"
    "from rag.cli import main\n"
    "code = 0\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    code = e.code if isinstance(e.code, int) else 1\n"
    "heavy = sorted(m for m in ('torch', 'faiss', 'sentence_transformers') if m in sys.modules)\n"
    "sys.stderr.write('HEAVY=' + json.dumps(heavy) + '\\n')\n"
    "sys.exit(code)\n"
)


@dataclass
class Served:
    url: str
    env: dict[str, str]  # the server's environment; clients start from it

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEY}"}


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k == "RAG_CACHE_DIR"}
    env.update(
        PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", TOKENIZERS_PARALLELISM="false",
        RAG_ANSWERER="extractive", RAG_INDEX_DIR=str(tmp / "index"), RAG_DATA_DIR=str(tmp / "data"),
        RAG_SERVER_URL="off",
    )
    return env


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {**base_env(tmp), "RAG_API_KEY": KEY}
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rag.cli import main; main()", "serve", "--port", str(port)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, tmp / "server.log")
        yield Served(url, env)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            pytest.fail(f"rag serve exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/v1/health", headers={"Authorization": f"Bearer {KEY}"}, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"rag serve did not answer within {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def openai_client(served: Served) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{served.url}/v1", api_key=KEY, max_retries=0, timeout=120)


def ask_messages(question: str = QUESTION) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


# ------------------------------------------------------------ OpenAI clients
def test_openai_client_answers_with_citations(served: Served) -> None:
    resp = openai_client(served).chat.completions.create(model="rag", messages=ask_messages())  # type: ignore[arg-type]
    text = resp.choices[0].message.content or ""
    assert FIGURE in text and "[1]" in text
    for citations in (resp.model_extra["citations"], resp.choices[0].message.model_extra["citations"]):  # type: ignore[index]
        assert citations[0]["file"] == SOURCE
        assert citations[0]["n"] == 1 and FIGURE in citations[0]["quote"]
        assert {"file", "article", "title", "date", "start", "end", "quote", "page"} <= set(citations[0])
    assert resp.model_extra["rag"]["answerer"] == "extractive"  # type: ignore[index]


def test_openai_client_streams_with_citations_in_the_last_chunk(served: Served) -> None:
    stream = openai_client(served).chat.completions.create(model="rag", messages=ask_messages(), stream=True)  # type: ignore[arg-type]
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert FIGURE in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"][0]["file"] == SOURCE  # type: ignore[index]
    assert last.model_extra["rag"]["answer"] == text  # type: ignore[index]


def test_langchain_chat_openai(served: Served) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{served.url}/v1", api_key=KEY, model="rag", max_retries=0)  # type: ignore[arg-type]
    assert FIGURE in str(llm.invoke(QUESTION).content)
    assert FIGURE in "".join(str(c.content) for c in llm.stream(QUESTION))


def test_models_name_the_collections(served: Served) -> None:
    ids = [m.id for m in openai_client(served).models.list()]
    assert ids[:2] == ["rag", "seeds"]
    resp = openai_client(served).chat.completions.create(model="seeds", messages=ask_messages())  # type: ignore[arg-type]
    assert FIGURE in (resp.choices[0].message.content or "")


def test_follow_up_is_rewritten_from_the_history(served: Served) -> None:
    messages = [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "2022年平湖实际外资是多少？"},
        {"role": "assistant", "content": "2022年实际外资（部口径）达到41414万美元。[1]"},
        {"role": "user", "content": "那2020年呢？"},
    ]
    r = httpx.post(f"{served.url}/v1/chat/completions", json={"model": "rag", "messages": messages},
                   headers=served.headers, timeout=60)
    assert r.status_code == 200, r.text
    rewritten = r.json()["rag"]["rewritten_question"]
    assert "2020" in rewritten and "实际外资" in rewritten


def test_sixteen_concurrent_requests_all_answer(served: Served) -> None:
    client = openai_client(served)

    def one(_: int) -> tuple[str, str]:
        r = client.chat.completions.create(model="rag", messages=ask_messages())  # type: ignore[arg-type]
        return r.choices[0].message.content or "", r.model_extra["citations"][0]["file"]  # type: ignore[index]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert len(results) == 16
    assert all(FIGURE in text and source == SOURCE for text, source in results)


# ------------------------------------------------------------ the edge
def test_api_key_is_required(served: Served) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        r = httpx.post(f"{served.url}/v1/chat/completions", json={"model": "rag", "messages": ask_messages()},
                       headers=headers, timeout=30)
        assert r.status_code == 401
        assert "API key" in r.json()["error"]["message"]
    assert httpx.get(f"{served.url}/v1/health", timeout=10).status_code == 401
    from openai import AuthenticationError, OpenAI

    with pytest.raises(AuthenticationError):
        OpenAI(base_url=f"{served.url}/v1", api_key="wrong", max_retries=0).models.list()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (json.dumps({"model": "rag", "messages": []}).encode(), 400, "'messages' is empty"),
        (json.dumps({"model": "nope", "messages": ask_messages()}).encode(), 404, "'nope' does not exist"),
        (json.dumps({"messages": ask_messages()}).encode(), 400, "model"),
        (json.dumps({"model": "rag", "messages": [{"role": "wizard", "content": "x"}]}).encode(), 400, "role"),
        (json.dumps({"model": "rag", "messages": [{"role": "assistant", "content": "x"}]}).encode(), 400, "last message"),
        (json.dumps({"model": "rag", "messages": ask_messages("？！")}).encode(), 400, "only punctuation"),
        (json.dumps({"model": "rag", "messages": ask_messages("x" * 600)}).encode(), 400, "the limit is 500"),
        (json.dumps({"model": "rag", "stream": True, "messages": ask_messages("？！")}).encode(), 400, "punctuation"),
        (b"{" + b" " * (1 << 20) + b"}", 413, "over"),
    ],
)
def test_bad_requests_get_the_openai_error_shape(served: Served, body: bytes, status: int, words: str) -> None:
    r = httpx.post(f"{served.url}/v1/chat/completions", content=body, timeout=30,
                   headers={**served.headers, "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert words in err["message"] and err["type"] and err["code"]
    assert "Traceback" not in r.text


def test_health_and_native_endpoints(served: Served) -> None:
    h = httpx.get(f"{served.url}/v1/health", headers=served.headers, timeout=10).json()
    assert h["status"] == "ok" and h["collections"]["seeds"]["loaded"] and h["embedder"]["loaded"]
    assert h["collections"]["seeds"]["chunks"] > 100
    s = httpx.post(f"{served.url}/v1/search", json={"query": "实际外资 2022", "k": 3}, headers=served.headers, timeout=30)
    assert s.status_code == 200 and len(s.json()["hits"]) == 3
    r = httpx.get(f"{served.url}/v1/nothing", headers=served.headers, timeout=10)
    assert r.status_code == 404 and "no such endpoint" in r.json()["error"]["message"]
    page = httpx.get(f"{served.url}/", timeout=10)  # the chat page, mounted in the same process
    assert page.status_code == 200 and "gradio" in page.text.lower()


# ------------------------------------------------------------ rag ask
def rag_ask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RAG_ASK, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=300)


def without_timings(out: str) -> dict[str, Any]:
    d = json.loads(out)
    d.pop("timings_ms")
    return d


def test_rag_ask_uses_the_server_with_identical_output(served: Served) -> None:
    client_env = {**served.env, "RAG_SERVER_URL": served.url}
    remote = rag_ask(client_env, "-v", "ask", "--json", QUESTION)
    assert remote.returncode == 0, remote.stderr
    assert f"answered by the server at {served.url}" in remote.stderr
    assert "HEAVY=[]" in remote.stderr  # the client path loads no model code
    local = rag_ask(client_env, "-v", "ask", "--json", "--local", QUESTION)
    assert local.returncode == 0, local.stderr
    assert "HEAVY=[]" not in local.stderr
    assert without_timings(remote.stdout) == without_timings(local.stdout)
    # The text output is format_answer of that same Answer.
    text = rag_ask(client_env, "ask", QUESTION)
    assert text.returncode == 0, text.stderr
    assert text.stdout.rstrip("\n") == format_answer(Answer.from_dict(json.loads(local.stdout)))


def test_rag_ask_errors_are_the_same_through_the_server(served: Served) -> None:
    client_env = {**served.env, "RAG_SERVER_URL": served.url}
    remote = rag_ask(client_env, "ask", "？！")
    local = rag_ask({**client_env, "RAG_SERVER_URL": "off"}, "ask", "？！")
    assert remote.returncode == local.returncode == 1
    strip = lambda s: s.replace("HEAVY=[]\n", "")  # noqa: E731
    assert strip(remote.stderr) == strip(local.stderr) == "error: the question has no words, only punctuation or symbols\n"


def test_rag_ask_asks_only_a_server_with_its_settings(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.config import Settings
    from rag.serve.client import find_server

    env = {**served.env, "RAG_SERVER_URL": served.url}
    monkeypatch.setenv("RAG_API_KEY", KEY)
    assert find_server(Settings.load(env=env))[0] is not None
    other, why = find_server(Settings.load(env={**env, "RAG_CHUNK_SIZE": "300"}))
    assert other is None and "other documents, index or settings" in why
    assert find_server(Settings.load(env={**env, "RAG_SERVER_URL": "off"}))[0] is None
    monkeypatch.setenv("RAG_API_KEY", "wrong")
    refused, why = find_server(Settings.load(env=env))
    assert refused is None and "API key" in why
