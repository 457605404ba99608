"""The index on disk: manifest, staleness, atomic builds, incremental updates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.errors import IndexNotReadyError
from rag.index import build
from rag.index.build import BuildReport, Index, IndexSpec, load_index, model_id
from rag.index.layout import CURRENT, live_build
from rag.index.manifest import FORMAT_VERSION
from rag.models.fake import FakeEmbedder

pytestmark = pytest.mark.unit
SEEDS = Path(__file__).resolve().parents[2] / "seeds"
BM25_NAMES = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy", "params.index.json",
              "vocab.index.json")


def ensure_index(s: Settings, emb: FakeEmbedder, **kw: bool) -> tuple[Index, BuildReport]:
    spec = IndexSpec(s.docs_dir, s.index_dir, s.chunk_size, s.chunk_overlap, s.embed_batch_size)
    return build.ensure_index(spec, emb, model=model_id(emb, s.embed_model), **kw)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    shutil.copytree(SEEDS, d)
    return d


def _settings(tmp_path: Path, docs: Path, **kw: object) -> Settings:
    return Settings.load(env={}, docs_dir=docs, index_dir=tmp_path / "index", **kw)


def test_manifest_records_format_model_settings_and_digests(tmp_path: Path, docs: Path) -> None:
    s = _settings(tmp_path, docs)
    index, report = ensure_index(s, FakeEmbedder())
    assert report.built and report.embedded == report.chunks > 100
    m = json.loads((index.path / "manifest.json").read_text())
    assert m["format_version"] == FORMAT_VERSION
    assert m["embed_model"] == "fake-ngram-64" and m["dim"] == 64
    assert m["chunker"] == {"size": s.chunk_size, "overlap": s.chunk_overlap}
    assert len(m["files"]) == 5 and all(len(f["sha256"]) == 64 for f in m["files"].values())
    files = {"chunks.jsonl", "vectors.faiss", "tokens.jsonl"}
    assert {p.name for p in index.path.iterdir()} == {".rag-build", "manifest.json", "bm25", *files}
    # every index file has its SHA-256 and size
    assert set(m["index_files"]) == files | {f"bm25/{n}" for n in BM25_NAMES}
    assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in m["index_files"].values())
    # no pickle: every file is JSON, JSON lines, a FAISS index or a plain .npy array
    for p in index.path.rglob("*"):
        if p.is_file():
            assert not p.read_bytes().startswith(b"\x80")
    for p in (index.path / "bm25").glob("*.npy"):
        np.load(p, allow_pickle=False)  # an object array would need pickle and fail here


def test_fresh_index_is_reused(tmp_path: Path, docs: Path) -> None:
    s = _settings(tmp_path, docs)
    ensure_index(s, FakeEmbedder())
    emb = FakeEmbedder()
    _, report = ensure_index(s, emb)
    assert not report.built and emb.calls == []


def test_touching_one_file_reembeds_only_its_chunks(tmp_path: Path, docs: Path) -> None:
    s = _settings(tmp_path, docs)
    _, first = ensure_index(s, FakeEmbedder())
    f = docs / "004_0bfc2728c4c24ec3.txt"
    f.write_text(f.read_text(encoding="utf-8") + "\n\n新增的一段文字，说明平湖新设立了一个测试产业园。\n", encoding="utf-8")
    emb = FakeEmbedder()
    index, report = ensure_index(s, emb)
    assert report.built and report.reasons == ["004_0bfc2728c4c24ec3.txt changed"]
    assert 0 < report.embedded <= 3 and report.reused >= first.chunks - 3
    assert any("测试产业园" in c.text for c in index.chunks)


def test_deleting_a_file_drops_its_chunks(tmp_path: Path, docs: Path) -> None:
    s = _settings(tmp_path, docs)
    ensure_index(s, FakeEmbedder())
    (docs / "003_cbb89e9e58ce2ee3.txt").unlink()
    emb = FakeEmbedder()
    index, report = ensure_index(s, emb)
    assert "003_cbb89e9e58ce2ee3.txt was removed" in report.reasons
    assert emb.calls == []  # nothing new to embed
    assert not any(c.source.startswith("003") for c in index.chunks)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"chunk_size": 300}, "chunker settings changed"),
        ({"embed_model": "fake:32"}, "embedding model changed"),
    ],
)
def test_mismatch_rebuilds_or_says_why(tmp_path: Path, docs: Path, change: dict, reason: str) -> None:
    from rag.models.embed import load_embedder

    ensure_index(_settings(tmp_path, docs), FakeEmbedder())
    s2 = _settings(tmp_path, docs, **change)
    with pytest.raises(IndexNotReadyError, match=reason):
        ensure_index(s2, load_embedder(s2), allow_build=False)
    _, report = ensure_index(s2, load_embedder(s2))
    assert report.built and any(reason in r for r in report.reasons)


def test_missing_index_without_auto_build_is_a_clear_error(tmp_path: Path, docs: Path) -> None:
    with pytest.raises(IndexNotReadyError, match="run: rag index"):
        ensure_index(_settings(tmp_path, docs), FakeEmbedder(), allow_build=False)


class _Crash(Exception):
    pass


def test_interrupted_build_leaves_previous_index_usable(tmp_path: Path, docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _settings(tmp_path, docs)
    good, _ = ensure_index(s, FakeEmbedder())
    (docs / "004_0bfc2728c4c24ec3.txt").write_text("全新的内容。", encoding="utf-8")

    def boom(*a: object, **k: object) -> None:
        raise _Crash("disk full")

    monkeypatch.setattr(__import__("faiss"), "write_index", boom)
    with pytest.raises(_Crash):
        ensure_index(s, FakeEmbedder())
    monkeypatch.undo()
    assert live_build(s.index_dir) == good.path
    assert [p.name for p in s.index_dir.glob("build-*")] == [good.path.name]  # no half-written folder
    loaded = load_index(good.path)
    assert len(loaded.chunks) == len(good.chunks)


def test_corrupt_current_pointer_means_no_index(tmp_path: Path, docs: Path) -> None:
    s = _settings(tmp_path, docs)
    ensure_index(s, FakeEmbedder())
    (s.index_dir / CURRENT).write_text("../../etc\n")
    with pytest.raises(IndexNotReadyError, match="CURRENT is malformed"):
        live_build(s.index_dir)
    _, report = ensure_index(s, FakeEmbedder())
    assert report.built and "CURRENT is malformed" in report.reasons[0]


def test_unreadable_file_is_reported_not_rebuilt_every_time(tmp_path: Path, docs: Path) -> None:
    (docs / "bad.txt").write_bytes(bytes(range(256)) * 4)  # no encoding explains it
    s = _settings(tmp_path, docs)
    _, report = ensure_index(s, FakeEmbedder())
    assert [p.source for p in report.problems] == ["bad.txt"]
    _, again = ensure_index(s, FakeEmbedder())
    assert not again.built and [p.source for p in again.problems] == ["bad.txt"]
