"""What the HTTP server and its client agree on, with the standard library only.

    ERRORS / error_body(exc)      a RagError -> (HTTP status, the OpenAI error shape)
    error_from(body)              the error shape -> the same RagError, on the client
    fingerprint(settings)         which settings change an answer (the client uses a
                                  server only when they match its own)
    citation_extra(c)             the `citations` field of a chat completion

The client (`rag ask` talking to `rag serve`) imports this module, so it
must stay cheap: no FastAPI, pydantic, torch or faiss here. Left out: the
routes themselves (rag/serve/app.py) and the OpenAI records (openai_format.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import (
    ConfigError,
    GenerationError,
    IndexNotReadyError,
    InputError,
    ModelError,
    RagError,
    user_message,
)
from rag.types import Citation

DEFAULT_MODEL_ALIAS = "rag"  # `model: "rag"` names the server's default collection
MAX_BODY_BYTES = 1 << 20  # a question is at most a few kB; 1 MiB leaves room for long histories

# error class -> (HTTP status, OpenAI error type, code). The first match in
# order wins, so subclasses come before their bases.
ERRORS: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (InputError, 400, "invalid_request_error", "invalid_input"),
    (ConfigError, 400, "invalid_request_error", "invalid_setting"),
    (IndexNotReadyError, 503, "server_error", "index_not_ready"),
    (ModelError, 503, "server_error", "model_unavailable"),
    (GenerationError, 502, "server_error", "generation_failed"),
    (RagError, 500, "server_error", "rag_error"),
)
_CODE_TO_ERROR: dict[str, type[RagError]] = {
    code: cls for cls, _s, _t, code in ERRORS if issubclass(cls, RagError)
}


def error_shape(message: str, type_: str, code: str) -> dict[str, Any]:
    """The OpenAI error body: clients (openai, LangChain) read `error.message`."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The HTTP status and body for an exception that reached the server's edge."""
    for cls, status, type_, code in ERRORS:
        if isinstance(exc, cls):
            return status, error_shape(user_message(exc), type_, code)
    # Not one of ours: the message says it is a bug; never a traceback.
    return 500, error_shape(user_message(exc), "server_error", "internal_error")


def error_from(body: Any, status: int) -> RagError:
    """The client side of `error_body`: the same error class and message."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return RagError(f"the server answered HTTP {status} without an error message")
    cls = _CODE_TO_ERROR.get(str(err.get("code")), RagError)
    return cls(str(err.get("message") or f"HTTP {status}"))


# Settings that never change an answer (where the server listens, how fast
# it refreshes, threads) or that travel with each request (mode, top_k,
# answerer, fusion, collection): left out of the fingerprint.
_NOT_IN_FINGERPRINT = frozenset({
    "host", "port", "llm_threads", "llm_timeout_s", "cache_dir", "collection", "mode", "top_k",
    "answerer", "fusion", "auto_build", "live_refresh", "refresh_check_s", "embed_batch_size",
    "max_upload_mb", "server_url",
})


def fingerprint(settings: Settings) -> str:
    """A short hash of the settings that decide an answer besides the
    per-request options. `rag ask` uses a server only when the server's
    fingerprint equals its own, so a server over other documents, another
    index or another model is never asked by mistake."""
    values: dict[str, Any] = {}
    for f in fields(settings):
        if f.name in _NOT_IN_FINGERPRINT:
            continue
        v = getattr(settings, f.name)
        values[f.name] = str(Path(v).resolve()) if isinstance(v, Path) else v
    raw = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def citation_extra(c: Citation) -> dict[str, Any]:
    """One entry of the `citations` field of a chat completion (README: HTTP API)."""
    return {
        "n": c.n, "file": c.source, "article": c.article, "title": c.title, "date": c.date,
        "page": c.page, "start": c.start, "end": c.end, "quote": c.quote,
    }
