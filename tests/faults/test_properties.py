"""Property tests (Hypothesis) for cleaning and chunking, on arbitrary text.

- cleaning never raises, and every cleaned character maps to a place in
  the original: the same character there, or a line break / space that
  cleaning turned into a separator;
- every chunk's `text` is `document.text[start:end]`, and its original
  span, mapped back through the document's origin offsets, is where the
  chunk's characters are in the original file.

Example counts are modest (CI time: about 2 s); FAULTS_EXAMPLES=3000 runs more.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.ingest import chunk_document, documents_from_text
from rag.ingest.clean import clean_text

pytestmark = pytest.mark.faults

FRAGMENTS = [
    "平湖", "外资", "企业", "2022年", "41414万美元", "。", "，", "！", "？", "；", "：", "、", "“", "”",
    "（", "）", "## ", "# ", "\n", "\n\n", "\r\n", " ", "\t", "\u3000", "为为", "124124", "家企业家企业",
    "abc", "Pinghu FDI", "...", "…", "■", "1、", "\ufeff", "😀", "\x00", "\u200b",
]
texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(FRAGMENTS), max_size=80).map("".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=20).map(lambda xs: "\n".join(x + x for x in xs)),  # doubled lines
)
SETTINGS = settings(max_examples=int(os.environ.get("FAULTS_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(raw=texts, base=st.integers(0, 50), furniture=st.lists(st.sampled_from(["平湖", "abc", "■"]), max_size=2))
def test_cleaning_never_raises_and_maps_back(raw: str, base: int, furniture: list[str]) -> None:
    text, origin = clean_text(raw, base, tuple(furniture))
    assert len(origin) == len(text)
    assert origin == sorted(origin) and len(set(origin)) == len(origin)
    for ch, o in zip(text, origin, strict=True):
        assert base <= o < base + len(raw)
        assert raw[o - base] == ch or (ch in " \n" and raw[o - base].isspace()), (ch, raw[o - base])


@SETTINGS
@given(raw=texts, size=st.integers(20, 120), overlap=st.integers(0, 9))
def test_every_chunk_is_its_documents_text_and_maps_to_the_original(raw: str, size: int, overlap: int) -> None:
    for doc in documents_from_text("f.txt", raw, None):
        chunks = chunk_document(doc, size, overlap)
        covered = set()
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
            assert 0 < len(c.text) <= size
            assert (c.orig_start, c.orig_end) == (doc.origin[c.start], doc.origin[c.end - 1] + 1)
            span = raw[c.orig_start : c.orig_end]
            for i, ch in enumerate(c.text):  # each character is where its origin says, in the span
                o = doc.origin[c.start + i]
                assert c.orig_start <= o < c.orig_end
                assert span[o - c.orig_start] == ch or ch in " \n"
            covered.update(range(c.start, c.end))
        # Nothing but separators is left out of every chunk.
        assert all(doc.text[i] in " \n" for i in range(len(doc.text)) if i not in covered)
