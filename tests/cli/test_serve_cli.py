"""`rag serve` on the command line, and `rag ask` choosing between a server
and the in-process pipeline (no server is started here: tests/serve does)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from click.testing import CliRunner

from rag.cli import cli, main

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RAG_SERVER_URL", "off")


def run_main(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    code = 0
    with runner.isolation(env=env or {}) as (out, err, _):
        try:
            main(args)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        return code, out.getvalue().decode(), err.getvalue().decode()


def test_serve_help() -> None:
    r = CliRunner().invoke(cli, ["serve", "--help"])
    assert r.exit_code == 0
    for words in ("--api-key", "--host", "--port", "/v1/chat/completions", "RAG_API_KEY"):
        assert words in r.output


def test_serve_refuses_a_public_host_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr("rag.serve.run", lambda *a, **k: started.append((a, k)))
    code, out, err = run_main(["serve", "--host", "0.0.0.0"])
    assert code == 1 and not started and out == ""
    assert err == "error: host 0.0.0.0 is reachable from other machines; serving on it needs an API key (--api-key or RAG_API_KEY)\n"


def test_serve_with_a_key_starts_and_warns_about_a_key_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr("rag.serve.run", lambda settings, **k: started.append((settings.host, settings.port, k)))
    code, _, err = run_main(["serve", "--host", "0.0.0.0", "--port", "8123", "--api-key", "k", "--no-page"])
    assert code == 0 and started == [("0.0.0.0", 8123, {"api_key": "k", "page": False})]
    assert "visible to other users" in err
    code, _, err = run_main(["serve", "--host", "0.0.0.0"], env={"RAG_API_KEY": "k"})
    assert code == 0 and err == "" and started[-1][2] == {"api_key": "k", "page": True}


def test_serve_refuses_a_port_in_use() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, _, err = run_main(["serve", "--port", str(port)])
    assert code == 1 and err.startswith(f"error: cannot listen on 127.0.0.1:{port}")


def test_ask_says_when_no_server_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.harness import free_port

    # A free port: nothing listens, so the health check fails at once and
    # the question is answered in this process (here: refused before any model loads).
    code, _, err = run_main(["-v", "ask", "？！"], env={"RAG_SERVER_URL": f"http://127.0.0.1:{free_port()}"})
    assert code == 1
    assert "answering in this process: no server at" in err
    assert err.endswith("error: the question has no words, only punctuation or symbols\n")
    code, _, err = run_main(["-v", "ask", "--local", "？！"], env={"RAG_SERVER_URL": "http://127.0.0.1:1"})
    assert code == 1 and "answering in this process" not in err
