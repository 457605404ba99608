"""What the fault suite shares (not a test module): a small corpus, the
CLI in-process and as a real process, and how to find the live build.

The CLI helpers are the ones tests/cli uses: `run_main` drives
`rag.cli.main` (the console script's entry point) and captures its exit
status and streams; `rag_process` runs the installed `rag` script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.cli.test_cli import A_TXT, B_TXT, METADATA, QUESTION, Run, run_main  # noqa: F401 - re-exported

ROOT = Path(__file__).resolve().parents[2]


def make_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.txt").write_text(A_TXT, encoding="utf-8")
    (folder / "b.txt").write_text(B_TXT, encoding="utf-8")
    (folder / "metadata.toml").write_text(METADATA, encoding="utf-8")
    return folder


def live(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()


def manifest(index_dir: Path) -> dict:
    return json.loads((live(index_dir) / "manifest.json").read_text(encoding="utf-8"))


def one_line_error(r: Run, *needles: str, code: int = 1) -> None:
    """Exit `code`, no traceback, exactly one line on stderr, holding the needles."""
    assert r.code == code, r.output
    assert "Traceback" not in r.output
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def rag_script() -> str:
    for candidate in (Path(sys.executable).parent / "rag", shutil.which("rag")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail("the `rag` console script is not installed (pip install -e .)")


def process_env(**rag: str) -> dict[str, str]:
    """The environment for a real `rag` process: this checkout first on the path, no RAG_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", TOKENIZERS_PARALLELISM="false",
               RAG_ANSWERER="extractive",  # `auto` would load the local model where installed
               RAG_SERVER_URL="off")  # never a `rag serve` of this machine (issue 12)
    env.update({f"RAG_{k.upper()}": v for k, v in rag.items()})
    return env


def rag_process(args: Sequence[str | bytes], env: Mapping[str, str], **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([rag_script(), *args], env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]


def rag_run(args: Sequence[str | bytes], env: Mapping[str, str], timeout: float = 180) -> Run:
    p = rag_process(args, env)
    out, err = p.communicate(timeout=timeout)
    return Run(p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
