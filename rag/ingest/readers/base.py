"""The reader seam: one protocol, one module per file format.

    reader = reader_for(path)            # None: not a format we read
    doc = reader.read(path)              # SourceText, or raises DocumentError

A reader turns a file into text plus what is known about where each part of
that text came from. For plain text the text *is* the file; for formats
with pages (PDF) or paragraphs (Word), `regions` say which span of the
extracted text is which page or paragraph, so provenance survives into
every chunk and citation.

To add a format: write `readers/<format>.py` with a class that has
`suffixes` and `read(path)`, and list it in `readers/__init__.py`.
Nothing else changes.

Left out: choosing a reader by content (magic bytes) rather than suffix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Region:
    """A span [start, end) of the extracted text that is one page (PDF) or
    one paragraph (Word); `label` is what a citation shows ("p. 3")."""

    start: int
    end: int
    page: int | None = None
    label: str = ""


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


class Reader(Protocol):
    """Reads one format. Raises `rag.errors.DocumentError` with a reason a
    user can act on ("is not UTF-8 (byte 12)", "is encrypted")."""

    suffixes: tuple[str, ...]

    def read(self, path: Path) -> SourceText: ...
