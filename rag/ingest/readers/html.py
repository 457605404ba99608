"""Saved web pages (.html, .htm): the main text, with trafilatura.

trafilatura finds the article (scripts, styles, navigation, footers and
boilerplate dropped), keeps tables, and decodes the page by its declared or
detected charset. When it finds no main text (a very short page) its
whole-page text fallback is used. Offsets point into the extracted text;
the title is the page's.

Left out: links, images, comments, and following frames.
"""

from __future__ import annotations

from pathlib import Path

from rag.errors import DocumentError
from rag.ingest.readers.base import PageProgress, SourceText, read_bytes


class HtmlReader:
    suffixes: tuple[str, ...] = (".html", ".htm")
    kind = "html"

    def read(self, path: Path, progress: PageProgress | None = None) -> SourceText:
        import trafilatura

        raw = read_bytes(path)
        try:
            text = trafilatura.extract(
                raw, favor_recall=True, include_tables=True, include_comments=False,
                include_links=False, include_images=False, deduplicate=False,
            ) or trafilatura.html2txt(raw)
            meta = trafilatura.extract_metadata(raw)
        except (ValueError, TypeError) as e:  # lxml on something that is not HTML
            raise DocumentError(f"is not a readable HTML page ({e})") from e
        text = "\n\n".join(line.strip() for line in (text or "").splitlines() if line.strip())
        if not text:
            raise DocumentError("has no text")
        title = (meta.title or "").strip() or None if meta is not None else None
        return SourceText(text=text, kind="html", title=title, offsets_in_file=False)
