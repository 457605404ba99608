"""PDF files: the text layer page by page (pypdfium2), OCR for scanned pages.

Each page's text is pdfium's text of that page, with its line ends
normalised to "\\n"; pages are joined by a blank line and each page is a
`Region` (page numbers from 1), so every chunk and citation can name its
page. A page with (almost) no text but an image on it is a scan: it is
rendered at 200 dpi and read by OCR, when the OCR extra is installed
(otherwise the page is left out and a note says so).

An encrypted PDF, a damaged one and a PDF with no text at all are each a
`DocumentError` that says which. `page_text` is shared with the page
renderer (rag/ingest/pageview.py), so highlighting finds the same text.

Left out: PDF outlines/bookmarks as article boundaries, form fields,
annotations, and passwords.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rag.errors import DocumentError
from rag.ingest.readers.base import PageProgress, Region, SourceText, TextBox, read_head

OCR_DPI = 200
# A page with fewer non-space characters than this and an image is a scan
# (a scanned page often carries a page number or a stray text object).
MIN_TEXT_CHARS = 20
_DROP = {"\x00", "\x02", "\ufffe", "\uffff"}


def page_text(textpage: Any) -> tuple[str, list[int]]:
    """A page's text with "\\n" line ends, and each character's pdfium index."""
    raw = textpage.get_text_range()
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(raw):
        if ch in _DROP:
            continue
        if ch == "\r":
            if i + 1 < len(raw) and raw[i + 1] == "\n":
                continue  # "\r\n" -> the "\n" that follows
            ch = "\n"
        out.append(ch)
        index.append(i)
    return "".join(out), index


def open_pdf(path: Path) -> Any:
    """A pypdfium2 PdfDocument, or DocumentError saying why not."""
    import pypdfium2 as pdfium

    head = read_head(path, 1024)
    if b"%PDF-" not in head:
        raise DocumentError("is not a PDF file (no %PDF header)")
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        msg = str(e)
        if "password" in msg.lower():
            raise DocumentError("is encrypted (password-protected); save it without a password and add it again") from e
        raise DocumentError(f"is damaged or not a valid PDF ({msg})") from e


def _has_image(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))


class PdfReader:
    suffixes: tuple[str, ...] = (".pdf",)
    kind = "pdf"

    def read(self, path: Path, progress: PageProgress | None = None) -> SourceText:
        pdf = open_pdf(path)
        try:
            st = self._read(pdf, progress)
        finally:
            pdf.close()
        if st.title == path.stem:  # image converters name the PDF after the file: no title
            st = replace(st, title=None)
        return st

    def _read(self, pdf: Any, progress: PageProgress | None) -> SourceText:
        n = len(pdf)
        parts: list[str] = []
        regions: list[Region] = []
        boxes: list[TextBox] = []
        ocr_pages: list[int] = []
        no_ocr: list[int] = []
        pos = 0
        for i in range(n):
            page = pdf[i]
            text, _ = page_text(page.get_textpage())
            text = text.strip("\n")
            if len("".join(text.split())) < MIN_TEXT_CHARS and _has_image(page):
                try:
                    text, page_boxes = self._ocr(page, i + 1, pos + (2 if parts else 0))
                except DocumentError:
                    no_ocr.append(i + 1)
                    text, page_boxes = "", []
                if text.strip():
                    ocr_pages.append(i + 1)
                    boxes.extend(page_boxes)
            if text.strip():
                if parts:
                    parts.append("\n\n")
                    pos += 2
                regions.append(Region(pos, pos + len(text), i + 1, f"p. {i + 1}"))
                parts.append(text)
                pos += len(text)
            if progress:
                progress(i + 1, n)
        notes = []
        if no_ocr:
            from rag.ingest.ocr import INSTALL

            notes.append(f"pages {_ranges(no_ocr)} are scans and OCR is not installed ({INSTALL})")
        if not regions:
            if no_ocr:
                raise DocumentError(f"has no text layer (a scan) and OCR is not installed; install it with: {_install()}")
            raise DocumentError("has no text (no text layer, and OCR found none)")
        title = (pdf.get_metadata_value("Title") or "").strip() or None
        return SourceText(
            text="".join(parts), kind="pdf", regions=tuple(regions), title=title, offsets_in_file=False,
            pages=n, ocr_pages=tuple(ocr_pages), boxes=tuple(boxes), notes=tuple(notes),
        )

    @staticmethod
    def _ocr(page: Any, number: int, base: int) -> tuple[str, list[TextBox]]:
        from rag.ingest.readers.image import ocr_page

        image = page.render(scale=OCR_DPI / 72).to_pil()
        return ocr_page(image, number, base)


def _install() -> str:
    from rag.ingest.ocr import INSTALL

    return INSTALL


def _ranges(pages: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    out: list[str] = []
    start = prev = pages[0]
    for p in [*pages[1:], None]:
        if p is not None and p == prev + 1:
            prev = p
            continue
        out.append(f"{start}-{prev}" if prev > start else str(start))
        if p is not None:
            start = prev = p
    return ", ".join(out)
