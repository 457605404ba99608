"""Issue 14, case 3 (stale answers): a running page notices changed documents.

Before: the page loaded the index once; after a document was edited or
deleted it still answered from the old text and cited the deleted file.

Now, before answering, the pipeline checks the documents (stat, then a
hash of changed files only), rebuilds in the background while answering
from the old index with a notice, and never cites a deleted file. Tested
on the pipeline and through the page's HTTP API (a real Gradio server).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gradio_client import Client

from rag.config import Settings
from rag.models.fake import FakeEmbedder
from rag.pipeline import Pipeline
from tests.faults.support import A_TXT, make_docs
from tests.ui.support import api_ask, running_app

pytestmark = pytest.mark.faults

NEW_FACT = "2024年平湖新设立了量子计算研究院，首期投资88亿元。"


def _pipeline(docs: Path, index: Path, **kw: object) -> tuple[Pipeline, FakeEmbedder]:
    emb = FakeEmbedder()
    p = Pipeline(Settings.load(env={}, docs_dir=docs, index_dir=index, **{"refresh_check_s": 0, "answerer": "extractive", **kw}), embedder=emb)
    p.ensure_index(allow_build=True)
    return p, emb


def _settle(p: Pipeline, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while p.refreshing:
        assert time.monotonic() < end, "the refresh did not finish"
        time.sleep(0.05)
    assert p._refresh is None or not p._refresh.is_alive()


def test_an_edited_file_is_refreshed_in_the_background(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    p, emb = _pipeline(docs, tmp_path / "index")
    first = p.index.path
    (docs / "a.txt").write_text(A_TXT + NEW_FACT + "\n", encoding="utf-8")

    during = p.ask("平湖新设立了什么研究院？")
    assert during.notice and "a.txt changed" in during.notice and "previous index" in during.notice
    _settle(p)
    after = p.ask("平湖新设立了什么研究院？")
    assert p.index.path != first and not first.exists()
    assert after.notice and "The index was refreshed (a.txt changed)" in after.notice
    assert "量子计算研究院" in after.text
    again = p.ask("平湖新设立了什么研究院？")
    assert again.notice is None  # said once


def test_a_deleted_file_is_never_cited(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    p, _ = _pipeline(docs, tmp_path / "index")
    assert any(c.source == "b.txt" for c in p.ask("光机电产业链有多少家规上企业？").citations)
    (docs / "b.txt").unlink()
    during = p.ask("光机电产业链有多少家规上企业？")
    assert during.notice and "b.txt was removed" in during.notice and "deleted files are left out" in during.notice
    assert all(h.chunk.source != "b.txt" for h in during.hits)
    _settle(p)
    after = p.ask("光机电产业链有多少家规上企业？")
    assert all(h.chunk.source != "b.txt" for h in after.hits)
    assert "b.txt" not in p.index.manifest["files"]


def test_touching_a_file_or_asking_often_costs_no_rebuild(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    p, emb = _pipeline(docs, tmp_path / "index")
    path = p.index.path
    (docs / "a.txt").write_text(A_TXT, encoding="utf-8")  # same bytes, new mtime
    for _ in range(3):
        assert p.ask("2022年平湖实际外资是多少？").notice is None
    assert p._refresh is None and p.index.path == path  # no rebuild was started


def test_check_interval_limits_the_stat_walks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = make_docs(tmp_path / "docs")
    p, _ = _pipeline(docs, tmp_path / "index", refresh_check_s=3600)
    walks = []
    import rag.pipeline as pipeline_module

    real = pipeline_module.changes
    monkeypatch.setattr(pipeline_module, "changes", lambda *a: walks.append(1) or real(*a))
    (docs / "a.txt").write_text(A_TXT + NEW_FACT, encoding="utf-8")
    assert p.ask("2022年平湖实际外资是多少？").notice is None  # not yet looked
    assert walks == []


def test_without_auto_build_the_notice_says_what_to_run(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    p, _ = _pipeline(docs, tmp_path / "index", auto_build=False)
    (docs / "a.txt").write_text(A_TXT + NEW_FACT, encoding="utf-8")
    ans = p.ask("2022年平湖实际外资是多少？")
    assert ans.notice and "a.txt changed" in ans.notice and "rag index" in ans.notice
    assert not p.refreshing


def test_a_failed_refresh_is_reported_and_the_old_index_kept(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    p, _ = _pipeline(docs, tmp_path / "index")
    old = p.index.path
    for name in ("a.txt", "b.txt"):
        (docs / name).write_bytes(bytes(range(256)) * 8)  # nothing readable left
    p.ask("2022年平湖实际外资是多少？")
    _settle(p)
    for _ in range(2):  # said on every answer; not retried until the documents change again
        ans = p.ask("2022年平湖实际外资是多少？")
        assert ans.notice and "could not be refreshed" in ans.notice and "no readable documents" in ans.notice
        assert not p.refreshing and p.index.path == old
    (docs / "a.txt").write_text(A_TXT, encoding="utf-8")
    p.ask("2022年平湖实际外资是多少？")
    _settle(p)
    assert "The index was refreshed" in (p.ask("2022年平湖实际外资是多少？").notice or "")
    assert p.index.path != old


def test_the_page_notices_an_edited_and_a_deleted_file(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    p, _ = _pipeline(docs, tmp_path / "index")
    with running_app(p) as url:
        client = Client(url, verbose=False)
        reply, sources, _ = api_ask(client, "光机电产业链有多少家规上企业？")
        assert "b.txt" in sources

        (docs / "a.txt").write_text(A_TXT + NEW_FACT + "\n", encoding="utf-8")
        (docs / "b.txt").unlink()
        reply, sources, _ = api_ask(client, "光机电产业链有多少家规上企业？")
        assert "rag-notice" in reply and "being refreshed" in reply
        assert "b.txt was removed" in reply and "b.txt" not in sources
        _settle(p)
        reply, sources, _ = api_ask(client, "平湖新设立了什么研究院？")
        assert "量子计算研究院" in reply and "The index was refreshed" in reply
        assert "b.txt" not in sources
