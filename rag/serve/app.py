"""The HTTP API and the chat page in one FastAPI app, over one warm `Workspace`.

    POST /v1/ask               {"question", "collection"?, "mode"?, "k"?, "answerer"?,
                                "fusion"?, "history"?, "stream"?} -> the `rag ask --json` body
    POST /v1/search            {"query", "collection"?, "mode"?, "k"?, "fusion"?}
                               -> the `rag search --json` body
    GET  /v1/health            index and model status (cheap: never waits for a question)
    GET  /v1/models            the collections, as OpenAI models ("rag" = the default one)
    POST /v1/chat/completions  the OpenAI format, plain or streamed (SSE); openai_format.py
    /                          the chat page (ui/app.py), sharing the same pipelines

One lock (`Server.gate`) serialises every use of the pipelines, from the
API and from the page: the pipeline and the local model are not
thread-safe. Requests wait for it in order; none is dropped. A streamed
answer runs in its own worker thread that holds the gate and hands deltas
over a queue, so a client that leaves never keeps the gate.

This is the edge: a `RagError` becomes the OpenAI error shape with a 4xx/5xx
status (`protocol.error_body`), a malformed body a 400, an oversized one a
413, anything else a 500 with one line (the traceback goes to the log).
With an API key, every /v1 request needs `Authorization: Bearer <key>`
(compared in constant time).

Left out: TLS (put a reverse proxy in front), per-user keys, rate limits.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from rag.errors import InputError, RagError
from rag.serve import openai_format as oai
from rag.serve.protocol import (
    DEFAULT_MODEL_ALIAS,
    MAX_BODY_BYTES,
    error_body,
    error_shape,
    fingerprint,
)
from rag.types import Answer, AnswerStream, Turn

if TYPE_CHECKING:
    import gradio as gr

    from rag.collections import Workspace
    from rag.pipeline import Pipeline

log = logging.getLogger(__name__)
T = TypeVar("T")


class TooLarge(Exception):
    """The request body is over MAX_BODY_BYTES (answered 413)."""


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    collection: str | None = None
    mode: str | None = None
    k: int | None = Field(default=None, ge=1, le=50)
    answerer: str | None = None
    fusion: str | None = None
    history: list[dict[str, str]] = Field(default_factory=list)
    stream: bool = False


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str
    collection: str | None = None
    mode: str | None = None
    k: int | None = Field(default=None, ge=1, le=50)
    fusion: str | None = None


class Server:
    """What the routes share: the pipelines, the gate, the key."""

    def __init__(self, workspace: Workspace, api_key: str | None = None) -> None:
        self.workspace = workspace
        self.api_key = api_key
        self.gate = threading.Lock()

    @property
    def default_collection(self) -> str:
        return self.workspace.settings.collection

    def collections(self) -> list[str]:
        from rag.collections import collection_names

        names = collection_names(self.workspace.settings)
        return [self.default_collection, *(n for n in names if n != self.default_collection)]

    def pipeline(self, collection: str | None) -> Pipeline:
        """The pipeline of a collection that exists (else a 404, raised as UnknownModel)."""
        name = collection or self.default_collection
        if name == DEFAULT_MODEL_ALIAS:
            name = self.default_collection
        if name not in self.collections():
            raise UnknownModel(name)
        return self.workspace.pipeline(name)

    def authorized(self, header: str | None) -> bool:
        if self.api_key is None:
            return True
        scheme, _, token = (header or "").partition(" ")
        # compare_digest: the time taken does not tell how much of the key matched.
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api_key.encode())

    def locked(self, fn: Callable[[], T]) -> T:
        with self.gate:
            return fn()

    def events(self, start: Callable[[], AnswerStream]) -> Iterator[str | Answer | BaseException]:
        """Run `start()` and drain its stream in a worker thread that holds the
        gate; yield each delta, then the Answer (or the exception)."""
        q: queue.Queue[str | Answer | BaseException | None] = queue.Queue()

        def work() -> None:
            try:
                with self.gate:
                    answering = start()
                    for delta in answering:
                        q.put(delta)
                    q.put(answering.answer())
            except BaseException as e:  # noqa: BLE001 - handed to the request, which answers with it
                q.put(e)
            finally:
                q.put(None)

        threading.Thread(target=work, name="rag-answer", daemon=True).start()
        while (item := q.get()) is not None:
            yield item

    def health(self) -> dict[str, Any]:
        """Index and model status; reads only, never takes the gate."""
        from rag import __version__

        ws = self.workspace
        cols: dict[str, Any] = {}
        for name in self.collections():
            p = ws.loaded(name)
            build = p.last_build if p is not None else None
            cols[name] = {
                "loaded": build is not None,
                "chunks": build.chunks if build is not None else None,
                "files": build.files if build is not None else None,
                "index": str(build.path) if build is not None else None,
                "skipped": [x.to_dict() for x in p.problems] if p is not None else [],
                "refreshing": p.refreshing if p is not None else [],
            }
        base = ws.base
        available, why = base.llm_status()
        return {
            "status": "ok",
            "version": __version__,
            "fingerprint": fingerprint(ws.settings),
            "default_model": self.default_collection,
            "collections": cols,
            "embedder": {"model": ws.settings.embed_model, "loaded": base.embedder_loaded},
            "llm": {"available": available, "detail": why},
        }


class UnknownModel(RagError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"model (collection) {name!r} does not exist; GET /v1/models lists them")


def create_app(server: Server, page: gr.Blocks | None = None) -> FastAPI:
    """The API routes, and the chat page mounted at / when given."""
    app = FastAPI(title="rag-zh", docs_url=None, redoc_url=None, openapi_url=None)
    _guard(app, server)
    _errors(app)
    _native_routes(app, server)
    _openai_routes(app, server)
    _not_found(app)  # last: routes match in order
    if page is not None:
        import gradio as gr

        from ui import render
        from ui.app import _theme

        gr.mount_gradio_app(
            app, page, path="/", show_error=False, ssr_mode=False, mcp_server=False, theme=_theme(),
            css=render.CSS, max_file_size=int(2 * server.workspace.settings.max_upload_mb * 2**20),
        )
    return app


def _guard(app: FastAPI, server: Server) -> None:
    """API key and body size, for /v1 only (the page has its own limits)."""

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Any:
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)
        if not server.authorized(request.headers.get("authorization")):
            return JSONResponse(
                error_shape("a valid API key is needed: send 'Authorization: Bearer <key>'",
                            "invalid_request_error", "invalid_api_key"),
                status_code=401, headers={"WWW-Authenticate": "Bearer"},
            )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _too_large()
        return await call_next(request)


def _too_large() -> JSONResponse:
    return JSONResponse(
        error_shape(f"the request body is over {MAX_BODY_BYTES} bytes", "invalid_request_error", "body_too_large"),
        status_code=413,
    )


def _errors(app: FastAPI) -> None:
    @app.exception_handler(UnknownModel)
    async def unknown_model(request: Request, exc: UnknownModel) -> JSONResponse:
        return JSONResponse(error_shape(str(exc), "invalid_request_error", "model_not_found"), status_code=404)

    @app.exception_handler(TooLarge)
    async def too_large(request: Request, exc: TooLarge) -> JSONResponse:
        return _too_large()

    @app.exception_handler(Exception)
    async def any_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RagError | OSError):
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        status, body = error_body(exc)
        return JSONResponse(body, status_code=status)


async def read_json(request: Request) -> Any:
    """The body as JSON, refusing more than MAX_BODY_BYTES even without a Content-Length."""
    parts, total = [], 0
    async for part in request.stream():
        total += len(part)
        if total > MAX_BODY_BYTES:
            raise TooLarge
        parts.append(part)
    raw = b"".join(parts)
    if not raw.strip():
        raise InputError("the request body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"the request body is not valid JSON ({e})") from None


def parse(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InputError(oai.validation_message(e)) from None


def _native_routes(app: FastAPI, server: Server) -> None:
    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return server.health()

    @app.post("/v1/search")
    async def search(request: Request) -> dict[str, Any]:
        body: SearchBody = parse(SearchBody, await read_json(request))
        p = server.pipeline(body.collection)

        def run() -> dict[str, Any]:
            timings: dict[str, float] = {}
            p.ensure_index()  # a collection asked for the first time, or emptied since
            hits = p.search(body.query, mode=body.mode, k=body.k, fusion=body.fusion, timings=timings)
            return {"query": body.query, "hits": [h.to_dict() for h in hits], "timings_ms": timings,
                    "skipped": [x.to_dict() for x in p.problems]}

        return await run_in_threadpool(server.locked, run)

    @app.post("/v1/ask", response_model=None)
    async def ask(request: Request) -> Any:
        body: AskBody = parse(AskBody, await read_json(request))
        p = server.pipeline(body.collection)
        history = tuple(Turn(question=t.get("question", ""), answer=t.get("answer", "")) for t in body.history)

        def start() -> AnswerStream:
            p.ensure_index()
            return p.stream(body.question, mode=body.mode, k=body.k, answerer=body.answerer,
                            fusion=body.fusion, history=history)

        def with_skipped(a: Answer) -> dict[str, Any]:
            return {**a.to_dict(), "skipped": [x.to_dict() for x in p.problems]}

        if not body.stream:
            return await run_in_threadpool(server.locked, lambda: with_skipped(start().answer()))

        def sse() -> Iterator[str]:
            for item in server.events(start):
                if isinstance(item, BaseException):
                    yield _sse(error_body(item)[1])
                elif isinstance(item, Answer):
                    yield _sse({"answer": with_skipped(item)})
                else:
                    yield _sse({"delta": item})

        return _streaming(sse())


def _not_found(app: FastAPI) -> None:
    """Unknown /v1 paths get the OpenAI error shape, not the page's 404."""

    @app.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    def not_found(rest: str) -> JSONResponse:
        return JSONResponse(error_shape(f"no such endpoint: /v1/{rest}", "invalid_request_error", "not_found"),
                            status_code=404)


def _openai_routes(app: FastAPI, server: Server) -> None:
    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return oai.models_list([DEFAULT_MODEL_ALIAS, *server.collections()])

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Any:
        req = oai.ChatRequest.parse(await read_json(request))
        p = server.pipeline(req.model)
        question, history = req.question, req.history()

        def start() -> AnswerStream:
            p.ensure_index()
            return p.stream(question, history=history)

        if not req.stream:
            answer = await run_in_threadpool(server.locked, lambda: start().answer())
            return oai.completion(answer, req.model)
        p.check_question(question)  # a bad question is a 400, not an error inside a 200 stream
        return _streaming(_chat_chunks(server.events(start), req.model))


def _chat_chunks(items: Iterator[str | Answer | BaseException], model: str) -> Iterator[str]:
    """SSE lines of a streamed chat completion. Deltas are the unchecked text
    as generated; when the final (checked) text does not continue what was
    sent, the last chunk's `rag.answer` is the text to show."""
    import time

    cid, created, sent = oai.completion_id(), int(time.time()), ""
    yield _sse(oai.chunk(cid, model, created, {"role": "assistant", "content": ""}))
    for item in items:
        if isinstance(item, BaseException):
            yield _sse(error_body(item)[1])  # the openai client raises APIError on it
            return
        if isinstance(item, str):
            sent += item
            yield _sse(oai.chunk(cid, model, created, {"content": item}))
            continue
        rest = item.text[len(sent):] if item.text.startswith(sent) else ""
        if rest:  # the extractive answerer streams nothing: its whole text comes here
            yield _sse(oai.chunk(cid, model, created, {"content": rest}))
        yield _sse(oai.chunk(cid, model, created, {}, finish="stop", answer=item))
    yield "data: [DONE]\n\n"


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _streaming(lines: Iterator[str]) -> StreamingResponse:
    return StreamingResponse(lines, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
