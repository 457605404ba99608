"""Word files (.docx) with python-docx: paragraphs and tables, in order.

Each body paragraph is one paragraph of the extracted text (a blank line
between paragraphs, so the cleaner never runs two together); a table row
is one line of its cells joined by " | " (a merged cell, which python-docx
repeats for every grid column it covers, counts once). Each paragraph or
row is a `Region` labelled "¶ n". The title comes from the document's
properties.

Left out: headers, footers, footnotes, comments, text boxes and images.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from rag.errors import DocumentError
from rag.ingest.readers.base import PageProgress, Region, SourceText, read_head

_OLE = b"\xd0\xcf\x11\xe0"  # an old .doc, or an encrypted .docx


def _blocks(doc: Any) -> list[str]:
    """The text of each paragraph and each table row, in document order."""
    from docx.table import Table

    out: list[str] = []
    for item in doc.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells: list[str] = []
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # a merged cell repeats
                        continue
                    seen.add(id(cell._tc))
                    cells.append(" ".join(cell.text.split()))
                if any(cells):
                    out.append(" | ".join(cells))
        else:
            text = item.text.strip()
            if text:
                out.append(text)
    return out


class DocxReader:
    suffixes: tuple[str, ...] = (".docx",)
    kind = "docx"

    def read(self, path: Path, progress: PageProgress | None = None) -> SourceText:
        import docx
        from docx.opc.exceptions import PackageNotFoundError

        head = read_head(path, 4)
        if head == _OLE:
            raise DocumentError("is an encrypted or old-format (.doc) Word file; save it as .docx without a password")
        try:
            doc = docx.Document(str(path))
            blocks = _blocks(doc)
        except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
            raise DocumentError(f"is damaged or not a Word .docx file ({e})") from e
        if not blocks:
            raise DocumentError("has no text")
        regions: list[Region] = []
        pos = 0
        for n, block in enumerate(blocks, 1):
            regions.append(Region(pos, pos + len(block), None, f"¶ {n}"))
            pos += len(block) + 2
        title = (doc.core_properties.title or "").strip() or None
        return SourceText(
            text="\n\n".join(blocks), kind="docx", regions=tuple(regions), title=title, offsets_in_file=False,
        )
