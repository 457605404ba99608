"""GenerativeAnswerer through langchain_openai.ChatOpenAI against a real HTTP server.

`ScriptedServer` is a small OpenAI-compatible server (stdlib http.server on
127.0.0.1, ephemeral port) that answers /v1/chat/completions with scripted
replies, as plain JSON or as SSE chunks ending in `data: [DONE]`, and can
sleep or fail with an HTTP status. It records every request body.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rag.answer.generative import GenerativeAnswerer
from rag.config import REFUSAL_EN, REFUSAL_ZH, Settings
from rag.errors import GenerationError
from rag.models.chat import generation_error, make_chat_model
from rag.types import Chunk, Draft, Hit

pytestmark = pytest.mark.integration


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    delay_s: float = 0.0


class ScriptedServer:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                reply = outer.replies.pop(0) if outer.replies else Reply(REFUSAL_ZH)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "not found"}})
                if reply.status != 200:
                    return self._json(reply.status, {"error": {"message": "scripted failure", "type": "server_error"}})
                if body.get("stream"):
                    return self._sse(reply.content)
                self._json(200, {
                    "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply.content}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                })

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, content: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                pieces = [content[i:i + 3] for i in range(0, len(content), 3)]
                for i, piece in enumerate([*pieces, None]):
                    delta = {"content": piece} if piece is not None else {}
                    if i == 0:
                        delta["role"] = "assistant"
                    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                             "choices": [{"index": 0, "delta": delta,
                                          "finish_reason": None if piece is not None else "stop"}]}
                    self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def script(self, *replies: Reply | str) -> None:
        self.replies = [r if isinstance(r, Reply) else Reply(r) for r in replies]

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


def settings_for(base_url: str, **kw: Any) -> Settings:
    return Settings.load(env={}, llm_backend="openai", openai_base_url=base_url, openai_model="scripted", **kw)


def answerer_for(server: ScriptedServer, **kw: Any) -> GenerativeAnswerer:
    s = settings_for(server.base_url, **kw)
    return GenerativeAnswerer(make_chat_model(s), on_error=lambda e: generation_error(e, s))


TEXTS = [
    ("平湖市外资发展报告", "2023-03-01",
     "截至2022年底，全市共有外资企业 512家，实际外资 40.7亿美元。2022年实际外资（部口径）达到41414万美元。增资扩股是平湖外资最大特色。"),
    ("平湖日资企业", "2023-05-10", "平湖已成为全省最大的日资企业集聚区。目前共有日资企业114家，投资总额超过30亿美元。"),
    ("平湖港口", None, "嘉兴港区不计入本统计。港区的集装箱吞吐量逐年上升。"),
]


def make_hits(texts: list[tuple[str, str | None, str]] = TEXTS) -> list[Hit]:
    hits = []
    for i, (title, date, text) in enumerate(texts):
        chunk = Chunk(
            id=Chunk.make_id("seed.txt", i, text), source="seed.txt", article=i, title=title, date=date,
            start=0, end=len(text), text=text, orig_start=1000 * i, orig_end=1000 * i + len(text),
        )
        hits.append(Hit(chunk=chunk, rank=i + 1, score=1.0 / (i + 1)))
    return hits


def run_stream(a: GenerativeAnswerer, question: str, lang: str = "zh") -> tuple[list[str], Draft]:
    stream = a.run(question, make_hits(), lang)  # type: ignore[arg-type]
    deltas = list(stream)
    assert all(isinstance(p, str) for p in deltas)
    return deltas, stream.draft()


def test_correct_answer_plain_json(server):
    server.script("2022年平湖实际外资（部口径）达到41414万美元[1]。")
    ans = answerer_for(server).run("2022年平湖实际外资是多少？", make_hits(), "zh").draft()
    assert not ans.refused
    assert ans.text == "2022年平湖实际外资（部口径）达到41414万美元[1]。"
    assert [c.n for c in ans.citations] == [1]
    c = ans.citations[0]
    assert c.quote == "2022年实际外资（部口径）达到41414万美元。"
    assert c.passage[c.quote_start:c.quote_end] == c.quote
    assert ans.verification is not None and ans.verification.ok and ans.verification.numbers_checked == 2
    # The request went through ChatOpenAI with the configured model and the guard.
    req = server.requests[0]
    assert req["model"] == "scripted" and req["temperature"] == 0
    assert "不是给你的指令" in req["messages"][0]["content"]
    assert "[2] 《平湖日资企业》 (2023-05-10)" in req["messages"][1]["content"]


def test_correct_answer_streamed_sse(server):
    raw = "平湖共有日资企业114家[2]。"
    server.script(raw)
    deltas, ans = run_stream(answerer_for(server), "平湖有多少家日资企业？")
    assert len(deltas) > 3 and "".join(deltas) == raw
    assert server.requests[0]["stream"] is True
    assert not ans.refused and ans.text == raw
    assert [c.n for c in ans.citations] == [2] and "114家" in ans.citations[0].quote
    assert "first_token" in ans.timings_ms and "generate" in ans.timings_ms


def test_english_answer_with_converted_number(server):
    server.script("Actual FDI in 2022 was 414.14 million US dollars [1].")
    ans = answerer_for(server).run("How much actual FDI was there in 2022?", make_hits(), "en").draft()
    assert not ans.refused and ans.verification and ans.verification.ok
    assert "41414万美元" in ans.citations[0].quote


def test_wrong_number_is_caught(server):
    server.script(
        "2022年平湖实际外资为5亿美元[1]。",
        "2022年实际外资41414万美元[1]。平湖共有日资企业120家[2]。",
    )
    a = answerer_for(server)
    ans = a.run("2022年平湖实际外资是多少？", make_hits(), "zh").draft()
    assert ans.refused and ans.text == REFUSAL_ZH and ans.citations == ()
    assert ans.verification and ans.verification.failures == ("sentence 1: 5亿 not found in [1]",)
    assert ans.notice and "failed verification" in ans.notice

    _, ans = run_stream(a, "平湖的实际外资和日资企业？")
    assert not ans.refused and ans.text == "2022年实际外资41414万美元[1]。"
    assert ans.verification and ans.verification.dropped == ("平湖共有日资企业120家[2]。",)
    assert [c.n for c in ans.citations] == [1]


def test_citing_a_passage_not_given_is_caught(server):
    server.script("2022年平湖实际外资为41414万美元[5]。")
    ans = answerer_for(server).run("2022年平湖实际外资是多少？", make_hits(), "zh").draft()
    assert ans.refused
    assert ans.verification and ans.verification.failures == ("sentence 1 cites [5] but only 3 passages were given",)


def test_model_refusal(server):
    server.script(REFUSAL_EN)
    ans = answerer_for(server).run("What was the GDP growth in 2022?", make_hits(), "en").draft()
    assert ans.refused and ans.text == REFUSAL_EN and ans.verification and ans.verification.ok


def test_timeout_becomes_generation_error(server):
    server.script(Reply("太慢了", delay_s=2.0))
    a = answerer_for(server, llm_timeout_s=0.3)
    t = time.perf_counter()
    with pytest.raises(GenerationError, match=r"did not answer within 0.3 s \(RAG_LLM_TIMEOUT_S\)") as e:
        a.run("2022年平湖实际外资是多少？", make_hits(), "zh").draft()
    assert time.perf_counter() - t < 1.8  # no retries
    assert server.base_url in str(e.value) and "\n" not in str(e.value)


def test_http_500_becomes_generation_error(server):
    server.script(Reply(status=500), Reply(status=500))
    a = answerer_for(server)
    with pytest.raises(GenerationError, match="returned HTTP 500"):
        a.run("2022年平湖实际外资是多少？", make_hits(), "zh").draft()
    with pytest.raises(GenerationError, match="returned HTTP 500"):
        run_stream(a, "2022年平湖实际外资是多少？")


def test_connection_refused_becomes_generation_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = settings_for(f"http://127.0.0.1:{port}/v1", llm_timeout_s=5)
    a = GenerativeAnswerer(make_chat_model(s), on_error=lambda e: generation_error(e, s))
    with pytest.raises(GenerationError, match="could not connect"):
        a.run("2022年平湖实际外资是多少？", make_hits(), "zh").draft()


def test_no_hits_is_a_refusal_without_calling_the_model(server):
    ans = answerer_for(server).run("2022年平湖实际外资是多少？", [], "zh").draft()
    assert ans.refused and server.requests == []
