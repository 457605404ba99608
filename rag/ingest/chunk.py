"""Split cleaned Documents into sentence-aligned Chunks with offsets.

Sentences end at 。！？；… (with any closing quote that follows) and at
paragraph breaks. Whole sentences are packed into chunks of at most `size`
characters; consecutive chunks share up to `overlap` characters of whole
sentences, so a fact near a boundary is whole in at least one chunk. A
sentence longer than `size` is cut at a comma (，、,) or, failing that, at
`size`. Every chunk satisfies `doc.text[chunk.start:chunk.end] == chunk.text`.

A chunk never crosses a page break of a paged document (PDF, scan): a
sentence that runs over a page end is cut there, so every chunk has one
page, and a citation's page is exact.

Sizes are in characters of cleaned text, the same unit used for slicing.
Left out: token-based sizes (the embedder truncates at 512 tokens, far
above any chunk here).
"""

from __future__ import annotations

from collections.abc import Iterable

from rag.text import sentence_spans
from rag.types import Chunk, Document


def _cut_long(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence at commas, else hard at `size`."""
    out = []
    s = start
    while end - s > size:
        window = text[s : s + size]
        cut = max(window.rfind(c) for c in "，、,：:")
        e = s + cut + 1 if cut >= size // 3 else s + size
        out.append((s, e))
        s = e
    if end > s:
        out.append((s, end))
    return out


def _split_at(spans: Iterable[tuple[int, int]], breaks: list[int]) -> list[tuple[int, int]]:
    """Cut spans at the given offsets (page breaks)."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        for b in breaks:
            if s < b < e:
                out.append((s, b))
                s = b
        out.append((s, e))
    return out


def chunk_document(doc: Document, size: int = 200, overlap: int = 50) -> list[Chunk]:
    if size < 1 or overlap < 0 or overlap >= size:
        raise ValueError("need size >= 1 and 0 <= overlap < size")
    breaks = doc.page_breaks()
    units: list[tuple[int, int]] = []
    for s, e in _split_at(sentence_spans(doc.text), breaks):
        units.extend(_cut_long(doc.text, s, e, size))
    page_of = [doc.page_at(s) for s, _ in units]

    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and units[j + 1][1] - units[i][0] <= size and page_of[j + 1] == page_of[i]:
            j += 1
        start, end = units[i][0], units[j][1]
        text = doc.text[start:end]
        o_start, o_end = doc.original_span(start, end)
        chunks.append(
            Chunk(
                id=Chunk.make_id(doc.source, doc.article, text),
                source=doc.source,
                article=doc.article,
                title=doc.title,
                date=doc.date,
                page=page_of[i],
                start=start,
                end=end,
                text=text,
                orig_start=o_start,
                orig_end=o_end,
            )
        )
        if j + 1 >= len(units):
            break
        # Next chunk: back up over whole sentences totalling <= overlap chars,
        # but always move forward by at least one sentence.
        k = j + 1
        while k - 1 > i and end - units[k - 1][0] <= overlap:
            k -= 1
        i = k
    return chunks


def chunk_documents(docs: Iterable[Document], size: int = 200, overlap: int = 50) -> list[Chunk]:
    out: list[Chunk] = []
    seen: set[str] = set()
    for d in docs:
        for c in chunk_document(d, size, overlap):
            if c.id in seen:  # identical text in one article: keep the first
                continue
            seen.add(c.id)
            out.append(c)
    return out
