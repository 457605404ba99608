"""The documents panel's HTML and the page labels and images in the sources
panel (pure functions; every file name and message escaped)."""

from __future__ import annotations

import dataclasses

import pytest

from rag.collections import DocumentInfo, Progress
from tests.ui.test_render import answer, citation
from ui import render
from ui.documents import _final_rows, documents_table, message_html, upload_rows

pytestmark = pytest.mark.unit
EVIL = '<img src=x onerror=alert(1)>.pdf'


def test_upload_rows_escape_and_show_progress() -> None:
    out = upload_rows([Progress(EVIL, "reading", 0.25, "page 1/4"), Progress("b.txt", "rejected", 1.0, "is empty (0 bytes)")])
    assert "<img" not in out and "&lt;img src=x" in out
    assert 'data-stage="reading"' in out and 'value="0.25"' in out and "page 1/4" in out
    assert 'class="rag-status-skipped">skipped · 未收录: is empty (0 bytes)' in out


def test_documents_table() -> None:
    docs = [DocumentInfo(EVIL, "pdf", 10, 3, 7, "indexed"),
            DocumentInfo("b.txt", "text", 0, None, 0, "skipped", "is empty")]
    out = documents_table(docs)
    assert "&lt;img" in out and "<img" not in out
    assert "<td>3</td><td>7</td>" in out and "skipped: is empty" in out and "<td>–</td>" in out
    assert "cannot be changed here" in documents_table([], read_only=True)
    assert message_html("<b>x</b>", error=True) == '<div class="rag-error">&lt;b&gt;x&lt;/b&gt;</div>'


def test_final_rows_follow_renamed_and_rejected_files() -> None:
    from rag.collections import ChangeReport, FileResult

    rows = {"a/b.txt": Progress("a/b.txt", "indexing", 0.5), "c.pdf": Progress("c.pdf", "reading", 0.1)}
    report = ChangeReport("t", [FileResult("b.txt", "added", given="a/b.txt"), FileResult("c.pdf", "rejected", "is encrypted")])
    out = _final_rows(rows, report)
    assert [(r.name, r.stage, r.detail) for r in out] == [("a/b.txt → b.txt", "done", "added"), ("c.pdf", "rejected", "is encrypted")]


def test_citation_names_the_page_and_shows_its_image() -> None:
    c = dataclasses.replace(citation(), page=2)
    a = answer(citations=(c,))
    msg = render.answer_message(a)
    assert "[1] 000&#95;x.txt · p. 2 ·" in msg
    panel = render.sources_panel(a, {1: "data:image/jpeg;base64,AAAA"})
    assert "第 2 页 · p. 2" in panel and '<img class="rag-page-img" src="data:image/jpeg;base64,AAAA"' in panel
    # Only data: image URIs are drawn.
    assert "rag-page-img" not in render.sources_panel(a, {1: "javascript:alert(1)"})
    assert "rag-page" not in render.sources_panel(answer())
