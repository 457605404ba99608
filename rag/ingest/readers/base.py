"""The reader seam: one protocol, one module per file format.

    reader = choose_reader(path)         # by suffix, checked against the content
    doc = reader.read(path)              # SourceText, or raises DocumentError

A reader turns a file into text plus what is known about where each part of
that text came from. For plain text the text *is* the file; for formats
with pages (PDF, images) or paragraphs (Word), `regions` say which span of
the extracted text is which page or paragraph, so provenance survives into
every chunk and citation. Offsets of extracted formats point into
`SourceText.text` (the extracted text), not into the file's bytes.

Text that came from OCR also keeps the box of every line (`boxes`), so a
page can later be drawn with a cited passage highlighted.

To add a format: write `readers/<format>.py` with a class that has
`suffixes`, `kind` and `read(path, progress=None)`, and list it in
`readers/__init__.py`. Nothing else changes.

A `SourceText` is JSON-serialisable (`to_json`/`from_json`) so slow
extractions (OCR) are cached by file content (rag/ingest/extract.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

# (pages done, pages in all): readers of paged formats report each page.
PageProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class Region:
    """A span [start, end) of the extracted text that is one page (PDF,
    image) or one paragraph (Word); `label` is what a person reads ("p. 3")."""

    start: int
    end: int
    page: int | None = None
    label: str = ""


@dataclass(frozen=True)
class TextBox:
    """Where the line `text[start:end]` stands on page `page`: a box in
    fractions (0..1) of the page's width and height, top-left origin."""

    start: int
    end: int
    page: int
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class SourceText:
    """What a reader extracted from one file."""

    text: str
    kind: str  # "text", "pdf", "docx", "html", "image"
    regions: tuple[Region, ...] = ()
    title: str | None = None
    # The file's text itself (offsets point into the file), or extracted
    # text (offsets point into `text`, as the reader made it).
    offsets_in_file: bool = True
    pages: int | None = None  # pages in the file (PDF; 1 for an image)
    ocr_pages: tuple[int, ...] = ()  # pages read by OCR
    boxes: tuple[TextBox, ...] = ()  # OCR line boxes
    notes: tuple[str, ...] = ()  # what a user should know ("page 3 has no text layer")
    encoding: str | None = None  # text files: the detected encoding

    def page_at(self, offset: int) -> int | None:
        """The page holding text offset `offset`, or None."""
        for r in self.regions:
            if r.page is not None and r.start <= offset < r.end:
                return r.page
        return None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SourceText:
        return cls(
            text=str(d["text"]),
            kind=str(d["kind"]),
            regions=tuple(Region(**r) for r in d.get("regions", ())),
            title=d.get("title"),
            offsets_in_file=bool(d.get("offsets_in_file", False)),
            pages=d.get("pages"),
            ocr_pages=tuple(int(p) for p in d.get("ocr_pages", ())),
            boxes=tuple(TextBox(**b) for b in d.get("boxes", ())),
            notes=tuple(str(n) for n in d.get("notes", ())),
            encoding=d.get("encoding"),
        )


class Reader(Protocol):
    """Reads one format. Raises `rag.errors.DocumentError` with a reason a
    user can act on ("is not UTF-8 (byte 12)", "is encrypted")."""

    suffixes: tuple[str, ...]
    kind: str

    def read(self, path: Path, progress: PageProgress | None = None) -> SourceText: ...


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a DocumentError that says why not."""
    from rag.errors import DocumentError

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DocumentError(f"cannot be read: {e.strerror or e}") from e
    if not raw:
        raise DocumentError("is empty (0 bytes)")
    return raw


def read_head(path: Path, n: int) -> bytes:
    """The file's first `n` bytes (format sniffing), or a DocumentError."""
    from rag.errors import DocumentError

    try:
        with path.open("rb") as f:
            head = f.read(n)
    except OSError as e:
        raise DocumentError(f"cannot be read: {e.strerror or e}") from e
    if not head:
        raise DocumentError("is empty (0 bytes)")
    return head
