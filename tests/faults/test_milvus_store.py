"""Issue 13: Milvus failures are named in one line and never answered by
FAISS or with an empty result; an interrupted build leaves the old alias
(and the old build) answering.

Cases: a restart (the index built by one process answers in the next:
Milvus Lite reopens a collection "released"); an unreachable server; the collection dropped under a loaded index
and between runs; a collection with another schema; a crash after the new
collection is written but before the alias switches; a crash after the
alias switches but before CURRENT does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import IndexNotReadyError, StoreError
from rag.index import build as build_mod
from rag.models.fake import FakeEmbedder
from rag.pipeline import Pipeline
from tests.faults.support import (
    QUESTION,
    live,
    make_docs,
    one_line_error,
    process_env,
    rag_run,
    run_main,
)

if not os.environ.get("CI"):
    pytest.importorskip("pymilvus", reason='the milvus extra is not installed (pip install -e ".[milvus]")')

from rag.index.vectors.milvus import MilvusVectors, forget_clients  # noqa: E402

pytestmark = pytest.mark.faults


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    yield
    forget_clients()


def _settings(tmp_path: Path, store: str, **kw: object) -> Settings:
    return Settings.load(env={}, docs_dir=make_docs(tmp_path / "docs"), index_dir=tmp_path / "index",
                         answerer="extractive", vector_store=store, **kw)


def _built(tmp_path: Path) -> Pipeline:
    p = Pipeline(_settings(tmp_path, f"milvus:{tmp_path}/m.db"), embedder=FakeEmbedder())
    p.ensure_index()
    return p


def _vectors(p: Pipeline) -> MilvusVectors:
    assert p.index is not None and isinstance(p.index.vectors, MilvusVectors)
    return p.index.vectors


def test_unreachable_server_is_one_line_never_faiss(tmp_path: Path) -> None:
    p = Pipeline(_settings(tmp_path, "milvus+http://127.0.0.1:9"), embedder=FakeEmbedder())
    with pytest.raises(StoreError, match="cannot reach Milvus at http://127.0.0.1:9"):
        p.ensure_index()
    assert not (tmp_path / "index" / "CURRENT").exists()  # nothing built elsewhere instead
    docs = make_docs(tmp_path / "docs")
    r = run_main(["--docs", str(docs), "--index-dir", str(tmp_path / "cli"), "--model", "fake", "ask", QUESTION],
                 env={"RAG_VECTOR_STORE": "milvus+http://127.0.0.1:9"})
    one_line_error(r, "cannot reach Milvus at http://127.0.0.1:9", "RAG_VECTOR_STORE")


def test_dropped_collection_under_a_loaded_index(tmp_path: Path) -> None:
    p = _built(tmp_path)
    v = _vectors(p)
    assert "41414" in p.ask(QUESTION).text
    v._client.drop_collection(v.collection)
    # the loaded index: a named error, not an empty or refused answer
    with pytest.raises(IndexNotReadyError, match=f"collection {v.collection} .* is missing"):
        p.ask(QUESTION, mode="dense")
    # a new process without auto-build names it; with auto-build it rebuilds
    q = Pipeline(p.settings.with_(auto_build=False), embedder=FakeEmbedder())
    with pytest.raises(IndexNotReadyError, match="is missing"):
        q.ensure_index()
    r = Pipeline(p.settings, embedder=FakeEmbedder())
    report = r.ensure_index()
    assert report.built and any("is missing" in x for x in report.reasons)
    assert "41414" in r.ask(QUESTION).text


def test_changed_schema_is_named_then_rebuilt(tmp_path: Path) -> None:
    from pymilvus import DataType

    p = _built(tmp_path)
    v = _vectors(p)
    c = v._client
    c.drop_collection(v.collection)
    schema = c.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=v.dim)
    ip = c.prepare_index_params()
    ip.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    c.create_collection(v.collection, schema=schema, index_params=ip)
    c.alter_alias(v.collection, v.alias) if _alias(c, v.alias) else c.create_alias(v.collection, v.alias)
    q = Pipeline(p.settings.with_(auto_build=False), embedder=FakeEmbedder())
    with pytest.raises(IndexNotReadyError, match="does not have the expected schema"):
        q.ensure_index()
    r = Pipeline(p.settings, embedder=FakeEmbedder())
    assert r.ensure_index().built and "41414" in r.ask(QUESTION).text


def _alias(client: object, alias: str) -> bool:
    try:
        client.describe_alias(alias)  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _touch_docs(p: Pipeline) -> None:
    (p.settings.docs_dir / "c.txt").write_text("平湖新增外资企业3家。", encoding="utf-8")


def test_crash_before_the_alias_switch_leaves_the_old_build_answering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _built(tmp_path)
    old = _vectors(p)
    old_build = live(tmp_path / "index")

    def crash(self: MilvusVectors) -> None:
        raise KeyboardInterrupt  # the process dies after writing the collection

    _touch_docs(p)
    monkeypatch.setattr(MilvusVectors, "activate", crash)
    monkeypatch.setattr(MilvusVectors, "discard", lambda self: None)  # a real crash cleans nothing
    with pytest.raises(KeyboardInterrupt):
        Pipeline(p.settings, embedder=FakeEmbedder()).ensure_index()
    monkeypatch.undo()
    c = old._client
    orphans = [n for n in c.list_collections() if n.startswith(old.alias + "_") and n != old.collection]
    assert len(orphans) == 1  # the new collection was written...
    assert c.describe_alias(old.alias)["collection_name"] == old.collection  # ...the alias did not move
    assert live(tmp_path / "index") == old_build
    q = Pipeline(p.settings.with_(auto_build=False), embedder=FakeEmbedder())
    with pytest.raises(IndexNotReadyError, match="c.txt is new"):  # the old build is intact, just stale
        q.ensure_index()
    forget_clients()
    r = Pipeline(p.settings, embedder=FakeEmbedder())
    assert r.ensure_index().built and "41414" in r.ask(QUESTION).text
    new = _vectors(r)
    left = {n for n in new._client.list_collections() if n.startswith(old.alias + "_")}
    assert left == {old.collection, new.collection}  # the orphan is gone


def test_crash_after_the_alias_switch_is_caught_on_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _built(tmp_path)
    old = _vectors(p)
    _touch_docs(p)

    def crash(index_dir: Path, build: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(build_mod, "switch", crash)
    monkeypatch.setattr(MilvusVectors, "discard", lambda self: None)
    with pytest.raises(KeyboardInterrupt):
        Pipeline(p.settings, embedder=FakeEmbedder()).ensure_index()
    monkeypatch.undo()
    assert old._client.describe_alias(old.alias)["collection_name"] != old.collection
    q = Pipeline(p.settings.with_(auto_build=False), embedder=FakeEmbedder())
    with pytest.raises(IndexNotReadyError, match="a build was interrupted"):
        q.ensure_index()
    r = Pipeline(p.settings, embedder=FakeEmbedder())
    assert r.ensure_index().built and "41414" in r.ask(QUESTION).text


def test_an_index_built_by_one_process_answers_in_the_next(tmp_path: Path) -> None:
    """`rag index`, then `rag ask` in a new process: the collection, which the
    reopened Milvus Lite file holds "released", is loaded, not rebuilt."""
    env = process_env(docs_dir=str(make_docs(tmp_path / "docs")), index_dir=str(tmp_path / "index"),
                      embed_model="fake", vector_store=f"milvus:{tmp_path}/m.db")
    r = rag_run(["index"], env)
    assert r.code == 0, r.stderr
    before = live(tmp_path / "index")
    r = rag_run(["ask", QUESTION], env)
    assert r.code == 0 and "[1]" in r.stdout, r.stderr or r.stdout
    assert "released" not in r.stderr
    assert live(tmp_path / "index") == before  # answered from the same build
