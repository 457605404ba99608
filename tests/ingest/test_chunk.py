"""Chunking: sentence boundaries, sizes, overlap and exact offsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest import load_corpus
from rag.ingest.chunk import chunk_document, chunk_documents
from rag.text import sentence_spans as split_sentences
from rag.types import Document

pytestmark = pytest.mark.unit
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _doc(text: str) -> Document:
    return Document(source="t.txt", article=0, title="t", date=None, text=text, origin=tuple(range(len(text))))


def test_split_sentences_on_chinese_punctuation_and_quotes() -> None:
    t = "外资增长。“很好！”他说；好吗？\n新段落"
    assert [t[s:e] for s, e in split_sentences(t)] == ["外资增长。", "“很好！”", "他说；", "好吗？", "新段落"]


def test_chunks_pack_whole_sentences_with_overlap() -> None:
    # Four sentences of 10 characters: size 25 holds two, overlap 10 repeats one.
    text = "一二三四五六七八九。" * 4
    chunks = chunk_document(_doc(text), size=25, overlap=10)
    assert [(c.start, c.end) for c in chunks] == [(0, 20), (10, 30), (20, 40)]


def test_overlong_sentence_is_cut_at_commas() -> None:
    text = "甲" * 30 + "，" + "乙" * 30 + "。"
    chunks = chunk_document(_doc(text), size=40, overlap=0)
    assert [c.text for c in chunks] == ["甲" * 30 + "，", "乙" * 30 + "。"]


def test_every_seed_chunk_matches_its_document_span() -> None:
    docs, _ = load_corpus(SEEDS)
    by = {(d.source, d.article): d for d in docs}
    chunks = chunk_documents(docs, size=200, overlap=50)
    assert len(chunks) > 100
    for c in chunks:
        d = by[(c.source, c.article)]
        assert d.text[c.start : c.end] == c.text
        assert len(c.text) <= 200
        assert (c.orig_start, c.orig_end) == d.original_span(c.start, c.end)
    # every character of every document is in some chunk
    for d in docs:
        covered = set()
        for c in chunks:
            if (c.source, c.article) == (d.source, d.article):
                covered.update(range(c.start, c.end))
        assert all(i in covered for i, ch in enumerate(d.text) if not ch.isspace())


def test_chunk_ids_are_stable_content_hashes() -> None:
    docs, _ = load_corpus(SEEDS)
    a = chunk_documents(docs)
    b = chunk_documents(docs)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
