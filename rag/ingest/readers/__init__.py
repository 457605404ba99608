"""Readers by file suffix, checked against the file's content. See `base.py`.

    text .txt .md    charset-normalizer (UTF-8, UTF-8 BOM, UTF-16, GBK/GB18030)
    pdf  .pdf        pypdfium2 text layer; scanned pages by OCR
    docx .docx       python-docx paragraphs and tables
    html .html .htm  trafilatura main text
    image .png .jpg .jpeg  OCR (rag/ingest/ocr)

`reader_for(path)` answers by suffix (which files are documents at all);
`choose_reader(path)` also looks at the first bytes: a file whose content is
another format we read (a PDF saved as .txt, a PNG named .jpg) goes to that
format's reader, and a binary format whose bytes do not match its suffix
is refused with a reason.
"""

from __future__ import annotations

from pathlib import Path

from rag.errors import DocumentError
from rag.ingest.readers.base import PageProgress, Reader, Region, SourceText, TextBox, read_head
from rag.ingest.readers.docx import DocxReader
from rag.ingest.readers.html import HtmlReader
from rag.ingest.readers.image import ImageReader
from rag.ingest.readers.pdf import PdfReader
from rag.ingest.readers.text import TextReader

READERS: tuple[Reader, ...] = (TextReader(), PdfReader(), DocxReader(), HtmlReader(), ImageReader())
_BY_SUFFIX: dict[str, Reader] = {s: r for r in READERS for s in r.suffixes}
_BY_KIND: dict[str, Reader] = {r.kind: r for r in READERS}
SUFFIXES: tuple[str, ...] = tuple(_BY_SUFFIX)
# Magic bytes of the binary formats we read.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"PK\x03\x04", "docx"),
)


def reader_for(path: Path) -> Reader | None:
    """The reader for this file's suffix, or None."""
    return _BY_SUFFIX.get(path.suffix.lower())


def sniff(head: bytes) -> str | None:
    """The kind of binary document these first bytes start, or None."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def choose_reader(path: Path) -> Reader:
    """The reader for this file by suffix and content, or DocumentError."""
    by_suffix = reader_for(path)
    if by_suffix is None:
        raise DocumentError(f"has an unsupported type ({path.suffix or 'no suffix'}); supported: {' '.join(SUFFIXES)}")
    head = read_head(path, 16)
    kind = sniff(head)
    if kind is not None and kind != by_suffix.kind and kind != "docx":  # any zip is not a Word file
        return _BY_KIND[kind]
    # PdfReader looks for %PDF in the first KiB itself (junk may precede it).
    ole = head.startswith(b"\xd0\xcf\x11\xe0")  # DocxReader says: encrypted or an old .doc
    if by_suffix.kind in ("image", "docx") and kind != by_suffix.kind and not (ole and by_suffix.kind == "docx"):
        what = "PNG/JPEG image" if by_suffix.kind == "image" else "Word .docx file"
        raise DocumentError(f"is not a {what} (its content does not match its {path.suffix} name)")
    return by_suffix


__all__ = [
    "READERS", "SUFFIXES", "PageProgress", "Reader", "Region", "SourceText", "TextBox", "choose_reader",
    "reader_for", "sniff",
]
