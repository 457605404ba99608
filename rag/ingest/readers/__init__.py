"""Readers by file suffix. See `base.py` for the protocol."""

from __future__ import annotations

from pathlib import Path

from rag.ingest.readers.base import Reader, Region, SourceText
from rag.ingest.readers.text import TextReader

READERS: tuple[Reader, ...] = (TextReader(),)
_BY_SUFFIX: dict[str, Reader] = {s: r for r in READERS for s in r.suffixes}
SUFFIXES: tuple[str, ...] = tuple(_BY_SUFFIX)


def reader_for(path: Path) -> Reader | None:
    """The reader for this file's suffix, or None."""
    return _BY_SUFFIX.get(path.suffix.lower())


__all__ = ["READERS", "SUFFIXES", "Reader", "Region", "SourceText", "reader_for"]
