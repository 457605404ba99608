"""Plain text and Markdown files (.txt, .md), UTF-8 with or without a BOM.

Left out: other encodings (reported as unreadable with the byte offset).
"""

from __future__ import annotations

from pathlib import Path

from rag.errors import DocumentError
from rag.ingest.readers.base import SourceText


class TextReader:
    suffixes: tuple[str, ...] = (".txt", ".md")

    def read(self, path: Path) -> SourceText:
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise DocumentError(f"cannot be read: {e.strerror or e}") from e
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DocumentError(f"is not UTF-8 (byte {e.start}); convert it to UTF-8") from e
        text = text.removeprefix("\ufeff")
        if not text.strip():
            raise DocumentError("is empty")
        return SourceText(text=text, kind="text")
