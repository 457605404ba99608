"""`rag ask` through a running `rag serve`, with the standard library only.

    server, why = find_server(settings)       # None unless one answers its health
                                               # check quickly, with our settings
    answer, skipped = ask_server(server, question, options, on_delta=print)

The server is used only when its settings fingerprint equals ours
(`protocol.fingerprint`): same documents, index, model and answering
settings, so its answer is the one the in-process pipeline would give.
Its errors come back as the same `RagError` classes with the same
messages, so `rag ask` prints the same line and exits with the same code.

Imports no torch, faiss, sentence-transformers, numpy or pydantic: the
point is a `rag ask` that starts in a fraction of a second (a test checks
`sys.modules`). Left out: `rag search` and the other commands (in-process).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rag.config import Settings
from rag.errors import RagError
from rag.ingest.scan import Problem
from rag.serve.protocol import error_from, fingerprint
from rag.types import Answer

# The health check must cost little when no server runs (connection
# refused is immediate) and not hang on a stuck one.
HEALTH_TIMEOUT_S = 0.5
ASK_TIMEOUT_S = 600.0  # a generated answer on a busy server may wait in the queue


@dataclass(frozen=True)
class Remote:
    url: str
    api_key: str | None


class ServerGone(RagError):
    """The server stopped answering before an answer arrived (the CLI then answers in-process)."""


def find_server(settings: Settings, timeout: float = HEALTH_TIMEOUT_S) -> tuple[Remote | None, str]:
    """The server to ask, or None; the string says which, or why not (for -v)."""
    url = settings.server_endpoint
    if url is None:
        return None, "RAG_SERVER_URL=off"
    remote = Remote(url, settings.api_key)
    try:
        status, body = _call(remote, "GET", "/v1/health", None, timeout)
    except (OSError, ValueError) as e:  # refused, timed out, not JSON
        return None, f"no server at {url} ({_reason(e)})"
    if status == 401:
        return None, f"the server at {url} refused the API key (RAG_API_KEY)"
    if status != 200 or not isinstance(body, dict) or "fingerprint" not in body:
        return None, f"{url} did not answer as a rag server (HTTP {status})"
    if body["fingerprint"] != fingerprint(settings):
        return None, f"the server at {url} runs with other documents, index or settings"
    if settings.collection not in body.get("collections", {}):
        return None, f"the server at {url} has no collection {settings.collection!r}"
    return remote, f"the server at {url}"


def ask_server(
    remote: Remote, question: str, options: Mapping[str, Any], *, stream: bool,
    on_delta: Callable[[str], None] | None = None,
) -> tuple[Answer, list[Problem]]:
    """POST /v1/ask; with `stream`, text deltas go to `on_delta` as they arrive."""
    payload = {"question": question, **{k: v for k, v in options.items() if v is not None}, "stream": stream}
    if not stream:
        status, body = _call(remote, "POST", "/v1/ask", payload, ASK_TIMEOUT_S)
        if status != 200:
            raise error_from(body, status)
        return _answer(body)
    for event in _events(remote, "/v1/ask", payload):
        if "delta" in event and on_delta is not None:
            on_delta(str(event["delta"]))
        elif "answer" in event:
            return _answer(event["answer"])
        elif "error" in event:
            raise error_from(event, 200)
    raise ServerGone(f"the server at {remote.url} ended the answer early")


def _answer(body: Any) -> tuple[Answer, list[Problem]]:
    if not isinstance(body, dict):
        raise RagError("the server's answer is not a JSON object")
    skipped = [Problem(source=str(p["source"]), reason=str(p["reason"])) for p in body.get("skipped", ())]
    return Answer.from_dict(body), skipped


def _request(remote: Remote, method: str, path: str, payload: Any) -> urllib.request.Request:
    headers = {"Accept": "application/json"}
    if remote.api_key:
        headers["Authorization"] = f"Bearer {remote.api_key}"
    data = None
    if payload is not None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    return urllib.request.Request(remote.url + path, data=data, method=method, headers=headers)


def _call(remote: Remote, method: str, path: str, payload: Any, timeout: float) -> tuple[int, Any]:
    """(status, JSON body); an HTTP error status is returned, not raised."""
    req = _request(remote, method, path, payload)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read())
        except ValueError:
            return e.code, None


def _events(remote: Remote, path: str, payload: Any) -> Iterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream."""
    req = _request(remote, "POST", path, payload)
    try:
        with urllib.request.urlopen(req, timeout=ASK_TIMEOUT_S) as r:
            for raw in r:
                line = raw.decode("utf-8").strip()
                if line.startswith("data:"):
                    yield json.loads(line[5:])
    except urllib.error.HTTPError as e:
        try:
            body = json.loads(e.read())
        except ValueError:
            body = None
        raise error_from(body, e.code) from None
    except (OSError, ValueError) as e:
        raise ServerGone(f"the server at {remote.url} stopped answering ({_reason(e)})") from e


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return str(e) or type(e).__name__
