"""Issue 14, case 6: a build killed mid-way keeps the old index answering
and resumes without embedding its finished batches again.

A real `rag index` process embeds with a slow fake embedder
(`fake:64?delay_ms=..&log=..`: a sleep per text, and each batch size
appended to a log file); the test waits until some batches are staged,
kills it with SIGKILL, and counts (never times) what was embedded.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from bench.corpus import write_corpus
from rag.index.build import IndexSpec, build_index, load_index
from rag.index.staging import STAGING, Staging
from rag.models.fake import FakeEmbedder
from tests.faults.support import QUESTION, live, make_docs, process_env, rag_process, rag_run

pytestmark = pytest.mark.faults
BATCH = 16


def _staged_batches(index: Path) -> int:
    p = index / STAGING / "batches.jsonl"
    return p.read_bytes().count(b"\n") if p.exists() else 0


def _logged(log: Path) -> int:
    return sum(int(x) for x in log.read_text(encoding="utf-8").split()) if log.exists() else 0


def _wait_for(cond, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    docs = make_docs(tmp_path / "docs")
    index = tmp_path / "index"
    r = rag_run(["index"], process_env(docs_dir=str(docs), index_dir=str(index), embed_model="fake"))
    assert r.code == 0, r.output
    write_corpus(docs / "more", 600, files=6)
    return tmp_path, docs, index


def test_killed_build_keeps_the_old_index_and_resumes(setup: tuple[Path, Path, Path]) -> None:
    tmp, docs, index = setup
    old = live(index)
    log1, log2 = tmp / "killed.log", tmp / "resumed.log"
    env = process_env(docs_dir=str(docs), index_dir=str(index), embed_batch_size=str(BATCH))

    p = rag_process(["--model", f"fake:64?delay_ms=3&log={log1}", "index"], env)
    _wait_for(lambda: _staged_batches(index) >= 8)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL

    # The old build is still live, intact, and answers (without the new folder it is fresh).
    assert live(index) == old
    old_chunks = len(load_index(old).chunks)  # loading verifies every file's SHA-256
    shutil.move(docs / "more", tmp / "more")
    r = rag_run(["--no-build", "--model", "fake", "ask", QUESTION, "--json"], env)
    assert r.code == 0, r.output
    assert "41414" in json.loads(r.stdout)["answer"]
    shutil.move(tmp / "more", docs / "more")

    staged = Staging.open(index, "fake-ngram-64").rows
    embedded_before_kill = _logged(log1)
    assert staged >= 8 * BATCH
    assert embedded_before_kill - staged <= BATCH  # only the batch in flight was lost

    r = rag_run(["--model", f"fake:64?log={log2}", "index"], env)
    assert r.code == 0, r.output
    assert f"{staged} resumed from an interrupted build" in r.stdout
    total_new = int(r.stdout.split(" chunks (")[0].rsplit(" ", 1)[1]) - old_chunks
    assert _logged(log2) == total_new - staged  # nothing staged was embedded again
    assert not (index / STAGING).exists()  # the staging goes once the build is live
    assert not old.exists()

    # The resumed index is the index a clean build makes.
    fresh = tmp / "fresh"
    clean, _ = build_index(IndexSpec(docs, fresh), FakeEmbedder(), model="fake-ngram-64")
    resumed = load_index(live(index))
    assert [c.id for c in resumed.chunks] == [c.id for c in clean.chunks]
    np.testing.assert_allclose(resumed.vectors.vectors(), clean.vectors.vectors(), atol=1e-6)


def test_torn_staging_tail_is_dropped(tmp_path: Path) -> None:
    """A kill between the rows and the line (or inside either) loses only that batch."""
    st = Staging.open(tmp_path, "m")
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 4), dtype=np.float32), rng.random((2, 4), dtype=np.float32)
    st.append(["k1", "k2", "k3"], a)
    st.append(["k4", "k5"], b)
    folder = tmp_path / STAGING
    rows, lines = folder / "vectors.f32", folder / "batches.jsonl"
    full_rows, full_lines = rows.read_bytes(), lines.read_bytes()

    lines.write_bytes(full_lines[:-5])  # the second line torn
    again = Staging.open(tmp_path, "m")
    assert set(again.vectors) == {"k1", "k2", "k3"} and again.rows == 3
    np.testing.assert_array_equal(again.vectors["k2"], a[1])
    assert rows.stat().st_size == 3 * 4 * 4  # the orphan rows were cut off
    again.append(["k6"], b[:1])  # and appending continues cleanly
    assert set(Staging.open(tmp_path, "m").vectors) == {"k1", "k2", "k3", "k6"}

    rows.write_bytes(full_rows[:-4])  # rows short of what the line promises
    lines.write_bytes(full_lines)
    assert set(Staging.open(tmp_path, "m").vectors) == {"k1", "k2", "k3"}

    damaged = bytearray(full_rows)
    damaged[0] ^= 0xFF  # a flipped bit in the first batch: nothing after it is trusted
    rows.write_bytes(bytes(damaged))
    lines.write_bytes(full_lines)
    assert Staging.open(tmp_path, "m").vectors == {}

    st = Staging.open(tmp_path, "m")
    st.append(["k1"], a[:1])
    assert Staging.open(tmp_path, "other-model").vectors == {}  # another model's vectors are dropped
    assert not folder.exists()


def test_ctrl_c_during_a_build_exits_130_and_keeps_the_batches(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    write_corpus(docs / "more", 300, files=3)
    index = tmp_path / "index"
    env = process_env(docs_dir=str(docs), index_dir=str(index), embed_batch_size=str(BATCH))
    p = rag_process(["--model", "fake:64?delay_ms=5", "index"], env)
    _wait_for(lambda: _staged_batches(index) >= 2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    text = err.decode("utf-8", "replace")
    assert p.returncode == 130, text
    assert "Traceback" not in text
    assert [x for x in text.splitlines() if x.strip()][-1].strip().endswith("interrupted")
    assert not (index / "CURRENT").exists()
    assert Staging.open(index, "fake-ngram-64").rows >= 2 * BATCH
