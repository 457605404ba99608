"""Issue 14, case 8 (small doors): the password out of `ps`, and no fast guessing.

Before: `--password` was the only way to give the password (visible in
`ps`), and the login allowed unlimited fast guesses. Now the password can
come from RAG_UI_PASSWORD or a file, the flag warns, and failed logins are
slowed down per client (tested through a real Gradio server and its
/login route).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.config import Settings
from rag.models.fake import FakeEmbedder
from rag.pipeline import Pipeline
from tests.faults.support import make_docs, run_main
from ui.auth import LoginLimiter
from ui.harness import free_port

pytestmark = pytest.mark.faults


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_backoff_per_client_doubles_and_resets() -> None:
    clock = Clock()
    lim = LoginLimiter("alice", "s3cret", free=3, base_s=1.0, max_wait_s=8.0, clock=clock)
    for _ in range(3):  # three free failures
        assert not lim.check("1.2.3.4", "alice", "guess")
        assert lim.wait_s("1.2.3.4") == 0
    waits = []
    for _ in range(5):
        assert not lim.check("1.2.3.4", "alice", "guess")
        waits.append(lim.wait_s("1.2.3.4"))
        assert not lim.check("1.2.3.4", "alice", "s3cret")  # refused unchecked while waiting
        clock.t += waits[-1]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert lim.check("5.6.7.8", "alice", "s3cret")  # another client is not slowed
    assert lim.check("1.2.3.4", "alice", "s3cret")  # after the wait the right password works
    assert lim.wait_s("1.2.3.4") == 0  # and the record is cleared
    assert not lim.check("1.2.3.4", "bob", "s3cret") and not lim.check("1.2.3.4", "alice", "")


def test_the_limiter_is_a_plain_callable() -> None:
    """Gradio awaits `auth` only if it is a coroutine function; an async
    __call__ would return a (truthy) coroutine, i.e. let everyone in."""
    import inspect

    lim = LoginLimiter("u", "p")
    assert not inspect.iscoroutinefunction(lim) and not inspect.iscoroutinefunction(lim.__call__)
    assert lim("u", "p") is True and lim("u", "x") is False


def test_login_through_the_page_is_rate_limited(tmp_path: Path) -> None:
    from ui.app import serve

    docs = make_docs(tmp_path / "docs")
    p = Pipeline(Settings.load(env={}, docs_dir=docs, index_dir=tmp_path / "index", answerer="extractive"), embedder=FakeEmbedder())
    p.ensure_index()
    port = free_port()
    app = serve(p, host="127.0.0.1", port=port, auth=("alice", "s3cret"), block=False, quiet=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as c:
            _wait_up(c)
            codes = [c.post("/login", data={"username": "alice", "password": f"guess{i}"}).status_code for i in range(4)]
            assert codes == [400, 400, 400, 400]  # the 4th failure starts a 1 s back-off
            right = c.post("/login", data={"username": "alice", "password": "s3cret"})
            assert right.status_code == 400  # the right password waits out the back-off too
            time.sleep(1.2)
            right = c.post("/login", data={"username": "alice", "password": "s3cret"})
            assert right.status_code == 200 and right.json() == {"success": True}
    finally:
        app.close()


def _wait_up(c: Any) -> None:
    end = time.monotonic() + 30
    while True:
        try:
            c.get("/")
            return
        except httpx.TransportError:
            assert time.monotonic() < end
            time.sleep(0.1)


def test_password_from_a_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr("ui.app.launch", lambda s, **kw: seen.append(kw["auth"]))
    pw = tmp_path / "pw"
    pw.write_text("from-file\n", encoding="utf-8")
    r = run_main(["chat", "--username", "alice", "--password-file", str(pw)])
    assert r.code == 0, r.output
    assert seen[-1] == ("alice", "from-file") and "warning" not in r.stderr
    r = run_main(["chat", "--username", "alice"], env={"RAG_UI_PASSWORD": "from-env"})
    assert r.code == 0 and seen[-1] == ("alice", "from-env") and "warning" not in r.stderr
    r = run_main(["chat", "--username", "alice", "--password", "on-the-line"])
    assert r.code == 0 and seen[-1] == ("alice", "on-the-line")
    assert "visible to other users (ps)" in r.stderr
    r = run_main(["chat", "--username", "alice", "--password", "x", "--password-file", str(pw)])
    assert r.code == 2 and "one way" in r.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    r = run_main(["chat", "--username", "alice", "--password-file", str(empty)])
    assert r.code == 1 and "is empty" in r.stderr
