"""Issue 14, cases 4 and 7: every listed traceback is now one line with the
right exit status, and the page shows the same line.

Before: an unreadable file (as a non-root user) stopped every build with
PermissionError; a question with invalid UTF-8 bytes raised TypeError in
the tokenizer; --index-dir pointing at a file raised FileExistsError (see
test_housekeeping.py); an unwritable `rag eval --out` raised
FileNotFoundError after the whole run, losing the results; Ctrl-C exited 1
where the README says 130; a question of only punctuation ("？？！！。。")
was answered with a cited heading. (Manifest and CURRENT damage: see
test_integrity.py.)
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import user_message
from rag.models.fake import FakeEmbedder
from rag.pipeline import Pipeline
from tests.faults.support import (
    QUESTION,
    make_docs,
    one_line_error,
    process_env,
    rag_process,
    rag_run,
    run_main,
)
from ui.app import ChatSession, Handlers

pytestmark = pytest.mark.faults


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return make_docs(tmp_path / "docs")


@pytest.fixture
def base(docs: Path, tmp_path: Path) -> list[str]:
    return ["--docs", str(docs), "--index-dir", str(tmp_path / "index"), "--model", "fake"]


def _page_reply(p: Pipeline, question: str) -> str:
    *_, last = Handlers(p).respond(question, ChatSession(), "hybrid", 5, "extractive", False)
    return str(last[1][-1]["content"])


# -- unreadable files ------------------------------------------------------------
def test_an_unreadable_file_is_skipped_not_fatal(base: list[str], docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulated (tests run as root, who can read anything): open() of b.txt fails."""
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "b.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    r = run_main([*base, "index"])
    assert r.code == 3, r.output
    assert "skipped b.txt: cannot be read: Permission denied" in r.stderr
    assert "1 files" in r.stdout and "Traceback" not in r.output
    r = run_main([*base, "index"])  # not rebuilt on every run
    assert r.code == 3 and r.stdout.startswith("index is up to date"), r.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway (the simulated test covers it)")
def test_an_unreadable_file_as_a_user(base: list[str], docs: Path) -> None:  # pragma: no cover - not run as root
    (docs / "b.txt").chmod(0)
    r = run_main([*base, "index"])
    assert r.code == 3, r.output
    assert "skipped b.txt: cannot be read" in r.stderr


def test_an_unreadable_metadata_file_is_one_line(base: list[str], docs: Path) -> None:
    (docs / "metadata.toml").write_bytes(b"\xff\xfe[[file]]")
    one_line_error(run_main([*base, "index"]), "metadata.toml: invalid metadata file")


# -- questions ---------------------------------------------------------------------
def test_invalid_utf8_bytes_in_a_question(docs: Path, tmp_path: Path) -> None:
    env = process_env(docs_dir=str(docs), index_dir=str(tmp_path / "index"), embed_model="fake")
    for command in (b"ask", b"search"):
        r = rag_run([command, b"\xff\xfe\xe5\xb9\xb3\xe6\xb9\x96?"], env)
        one_line_error(r, "the question contains bytes that are not valid UTF-8")
    assert not (tmp_path / "index").exists()  # refused before any work


@pytest.mark.parametrize("question", ["？？！！。。", "?!...", "……——", "😀🙂", "【】《》"])
def test_a_question_without_words_is_refused(base: list[str], tmp_path: Path, question: str) -> None:
    for command in ("ask", "search"):
        one_line_error(run_main([*base, command, question]), "the question has no words")
    assert not (tmp_path / "index").exists()


def test_the_page_says_the_same_line(base: list[str], docs: Path, tmp_path: Path) -> None:
    p = Pipeline(Settings.load(env={}, docs_dir=docs, index_dir=tmp_path / "index", answerer="extractive"), embedder=FakeEmbedder())
    p.ensure_index()
    for question in ("？？！！。。", "平湖\udcff"):
        cli = run_main([*base, "ask", question]).stderr.strip()
        page = _page_reply(p, question)
        assert cli.startswith("error: ") and cli[len("error: "):].split(";")[0] in page.replace("&#39;", "'")
        assert "rag-error" in page


# -- the CLI's edge ----------------------------------------------------------------
def test_eval_out_is_checked_before_the_run(base: list[str], tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"id": "q1", "question": QUESTION, "lang": "zh", "type": "numeric",
                              "answers": ["41414"], "source": "a.txt", "evidence": "2022年平湖实际外资（部口径）达到41414万美元"},
                             ensure_ascii=False) + "\n", encoding="utf-8")
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    for out in (afile, afile / "below"):
        r = run_main([*base, "eval", "--qa", str(qa), "--out", str(out)])
        assert r.code in (1, 2), r.output
        assert "Traceback" not in r.output and "--out" in r.stderr
    assert not (tmp_path / "index").exists()  # refused before the run


def test_an_unexpected_exception_is_one_line(base: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise TypeError("unsupported operand type(s)")

    monkeypatch.setattr(Pipeline, "stream", boom)
    r = run_main([*base, "ask", QUESTION])
    one_line_error(r, "error: unexpected TypeError: unsupported operand type(s)", "a bug")
    r = run_main(["-v", *base, "ask", QUESTION])  # -v shows where
    assert r.code == 1 and "Traceback" in r.stderr


def test_os_errors_are_one_line(base: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_main([*base, "index"]).code == 0

    def full(*a: object, **k: object) -> None:
        raise OSError(28, "No space left on device", str(tmp_path / "index" / "chunks.jsonl"))

    monkeypatch.setattr("rag.index.build._write_lines", full)
    r = run_main([*base, "index", "--rebuild"])
    one_line_error(r, "error: cannot access", "No space left on device")
    assert user_message(OSError(13, "Permission denied", "/x")) == "cannot access /x: Permission denied"


def test_ctrl_c_while_waiting_for_the_build_lock_exits_130(docs: Path, tmp_path: Path) -> None:
    """Another builder holds the lock: Ctrl-C while waiting for it is 130 too."""
    import fcntl

    index = tmp_path / "index"
    index.mkdir()
    with (index / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = rag_process(["index"], process_env(docs_dir=str(docs), index_dir=str(index), embed_model="fake"))
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert [x for x in err.decode().splitlines() if x.strip()] == ["interrupted"]


@pytest.mark.integration
@pytest.mark.parametrize("delay", [1.0, 4.0])
def test_ctrl_c_while_loading_the_model_exits_130(docs: Path, tmp_path: Path, delay: float) -> None:
    """The real model: importing torch, loading the model or embedding, at `delay` s."""
    env = process_env(docs_dir=str(docs), index_dir=str(tmp_path / "index"))
    if "RAG_CACHE_DIR" in os.environ:
        env["RAG_CACHE_DIR"] = os.environ["RAG_CACHE_DIR"]
    p = rag_process(["ask", QUESTION], env)
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    text = err.decode("utf-8", "replace")
    assert p.returncode == 130, text
    assert "Traceback" not in text
    assert [x for x in text.splitlines() if x.strip()][-1].strip().endswith("interrupted")
