"""`rag serve`: one process with warm models, an HTTP API and the chat page.

    app        the FastAPI app: /v1/ask, /v1/search, /v1/health, /v1/models,
               /v1/chat/completions (OpenAI format), the page mounted at /
    openai_format  the OpenAI request and response records
    protocol   what server and client agree on (errors, settings fingerprint);
               standard library only
    client     `rag ask` through a running server (standard library only)

    run(settings, api_key=...)   index, warm up, then serve until interrupted

Bound to 127.0.0.1 by default. Any other address needs an API key
(`check_bind`); with a key, every API request must carry it. The page is
mounted only on a loopback address: it has no API key (use `rag chat
--allow-remote` with a password to share the page).

Importing this package is cheap (FastAPI, uvicorn and the models load in
`run`). Left out: TLS, several worker processes (the pipeline holds the
models in memory; one process serialises its use).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import time

from rag.config import Settings
from rag.errors import ConfigError


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # any other name may resolve to a public address


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to serve the API beyond this machine without a key."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(
            f"host {host} is reachable from other machines; serving on it needs an API key "
            "(--api-key or RAG_API_KEY)"
        )


def check_port_free(host: str, port: int) -> None:
    """Fail with a message now rather than after loading the models."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e} (--port / RAG_PORT)") from None


def run(settings: Settings, *, api_key: str | None = None, page: bool = True) -> None:
    """Build or load the index, load the models, then serve until interrupted."""
    host, port = settings.host, settings.port
    check_bind(host, api_key)
    check_port_free(host, port)
    import uvicorn

    from rag.collections import Workspace
    from rag.pipeline import Pipeline
    from rag.serve.app import Server, create_app
    from ui.app import TerminalProgress, build_app, warm_up

    t0 = time.perf_counter()
    pipeline = Pipeline(settings)
    pipeline.ensure_index(progress=TerminalProgress())
    server = Server(Workspace(pipeline), api_key=api_key)
    mount = page and is_loopback(host)
    if page and not mount:
        print(f"note: the chat page is not served on {host} (it has no API key); API only", file=sys.stderr)
    blocks = build_app(pipeline, workspace=server.workspace, gate=server.gate) if mount else None
    app = create_app(server, blocks)
    warm_up(pipeline)  # the first request should not wait for the models
    where = f"http://{host}:{port}"
    print(f"Ready in {time.perf_counter() - t0:.1f} s: API {where}/v1" + (f", page {where}/" if mount else "")
          + (" (API key required)" if api_key else ""), file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
