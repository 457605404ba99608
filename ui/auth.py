"""Logging in to the page: one user name and password, and failed attempts
slowed down per client, so a password cannot be guessed at full speed.

    limiter = LoginLimiter("alice", password)
    app.launch(auth=limiter, app_kwargs=client_address_kwargs())

Gradio calls `auth(username, password)` from its /login route without the
request, so a small ASGI middleware puts the client's address in a
context variable the limiter reads. After `free` failures from one
address, each further failure makes that address wait twice as long
(1 s, 2 s, 4 s ... up to `max_wait_s`) before any attempt is even
checked; a success clears its record. Passwords are compared in constant
time.

Left out: more than one account, and addresses behind a reverse proxy
(all its clients then share one record: slower for everyone, never faster
for an attacker).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_client: ContextVar[str] = ContextVar("rag_login_client", default="unknown")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class ClientAddressMiddleware:
    """Pure ASGI middleware: the client's address, for the login limiter."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = _client.set(str(client[0]) if client else "unknown")
        try:
            await self.app(scope, receive, send)
        finally:
            _client.reset(token)


def client_address_kwargs() -> dict[str, Any]:
    """`app_kwargs` for `Blocks.launch` that install the middleware."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(ClientAddressMiddleware)]}


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0


class LoginLimiter:
    """A Gradio `auth` callable: checks one account, backs off per client.

    A plain (not async) callable on purpose: Gradio awaits `auth` only when
    it is a coroutine function, and would take the coroutine an async
    `__call__` returns as a successful login.
    """

    MAX_CLIENTS = 10_000  # records kept; expired ones are dropped beyond this

    def __init__(
        self, username: str, password: str, *, free: int = 3, base_s: float = 1.0, max_wait_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._user = username.encode("utf-8", "surrogatepass")
        self._password = password.encode("utf-8", "surrogatepass")
        self.free, self.base_s, self.max_wait_s, self.clock = free, base_s, max_wait_s, clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def __call__(self, username: str, password: str) -> bool:
        return self.check(_client.get(), username, password)

    def wait_s(self, client: str) -> float:
        """How long `client` must wait before an attempt is checked again."""
        with self._lock:
            rec = self._records.get(client)
            return max(0.0, rec.blocked_until - self.clock()) if rec else 0.0

    def check(self, client: str, username: str, password: str) -> bool:
        now = self.clock()
        with self._lock:
            rec = self._records.get(client)
            if rec is not None and now < rec.blocked_until:
                log.warning("login from %s refused: %.0f s of back-off left", client, rec.blocked_until - now)
                return False
        user_ok = hmac.compare_digest(username.encode("utf-8", "surrogatepass"), self._user)
        password_ok = hmac.compare_digest(password.encode("utf-8", "surrogatepass"), self._password)
        with self._lock:
            if user_ok and password_ok:
                self._records.pop(client, None)
                return True
            rec = self._records.setdefault(client, _Record())
            rec.failures += 1
            if rec.failures > self.free:
                wait = min(self.max_wait_s, self.base_s * 2 ** (rec.failures - self.free - 1))
                rec.blocked_until = now + wait
                log.warning("failed login %d from %s; next attempt in %.0f s", rec.failures, client, wait)
            self._prune(now)
            return False

    def _prune(self, now: float) -> None:
        if len(self._records) > self.MAX_CLIENTS:
            for key in [k for k, r in self._records.items() if r.blocked_until < now - self.max_wait_s]:
                del self._records[key]
