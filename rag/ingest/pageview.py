"""A page of a source drawn as an image, with a cited passage highlighted.

    png = page_image(path, page=2, quote="2022年实际外资…", source=st)   # JPEG bytes or None

For a PDF page with a text layer, pdfium gives the rectangles of the quote's
characters; for a page read by OCR (a scanned PDF page or an image), the
line boxes kept in the `SourceText` (rag/ingest/readers/base.TextBox) are
used, cut proportionally within a line. The quote is found in the page's
text ignoring whitespace (cleaning joined lines), so it is found whatever
line breaks the page had. Not found: the page without a highlight.

Left out: highlighting a quote that runs over a page end (chunks never
cross pages, so a quote never does).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import DocumentError
from rag.ingest.readers.base import SourceText

if TYPE_CHECKING:
    from PIL.Image import Image

HIGHLIGHT = (255, 214, 0, 110)  # translucent yellow
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels, top-left origin


def find_compact(text: str, quote: str, start: int = 0) -> tuple[int, int] | None:
    """[a, b) of `quote` in `text`, comparing without whitespace; search from `start` first."""
    keep = [i for i, ch in enumerate(text) if not ch.isspace()]
    compact = "".join(text[i] for i in keep)
    q = "".join(quote.split())
    if not q:
        return None
    from_pos = next((k for k, i in enumerate(keep) if i >= start), 0)
    k = compact.find(q, from_pos)
    if k < 0:
        k = compact.find(q)
    if k < 0:
        return None
    return keep[k], keep[k + len(q) - 1] + 1


def _pdf_rects(page: Any, quote: str, scale: float) -> list[Rect]:
    from rag.ingest.readers.pdf import page_text

    textpage = page.get_textpage()
    text, index = page_text(textpage)
    span = find_compact(text, quote)
    if span is None:
        return []
    first, last = index[span[0]], index[span[1] - 1]
    height = page.get_height()
    rects = []
    for i in range(textpage.count_rects(first, last - first + 1)):
        left, bottom, right, top = textpage.get_rect(i)
        rects.append((left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
    return rects


def _box_rects(st: SourceText, page: int, quote: str, size: tuple[int, int]) -> list[Rect]:
    region = next((r for r in st.regions if r.page == page), None)
    boxes = [b for b in st.boxes if b.page == page]
    if region is None or not boxes:
        return []
    span = find_compact(st.text[: region.end], quote, region.start)
    if span is None:
        return []
    a, b = span
    w, h = size
    rects = []
    for box in boxes:
        lo, hi = max(a, box.start), min(b, box.end)
        if lo >= hi:
            continue
        n = max(box.end - box.start, 1)
        x0 = box.x0 + (box.x1 - box.x0) * (lo - box.start) / n
        x1 = box.x0 + (box.x1 - box.x0) * (hi - box.start) / n
        rects.append((x0 * w, box.y0 * h, x1 * w, box.y1 * h))
    return rects


def _draw(image: Image, rects: Sequence[Rect]) -> Image:
    from PIL import Image as PILImage
    from PIL import ImageDraw

    base = image.convert("RGBA")
    overlay = PILImage.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for x0, y0, x1, y1 in rects:
        draw.rectangle((x0 - 1, y0 - 1, x1 + 1, y1 + 1), fill=HIGHLIGHT)
    return PILImage.alpha_composite(base, overlay).convert("RGB")


def page_image(
    path: Path, page: int, quote: str, *, source: SourceText | None = None, width: int = 900
) -> bytes | None:
    """JPEG bytes of `page` (1-based) of a PDF or image with `quote` highlighted;
    None when the file is not paged or cannot be drawn."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            image, rects = _pdf_page(path, page, quote, source, width)
        elif suffix in (".png", ".jpg", ".jpeg"):
            from rag.ingest.readers.image import open_image

            image = open_image(path)
            scale = width / image.width
            image = image.resize((width, max(1, round(image.height * scale))))
            rects = _box_rects(source, 1, quote, image.size) if source is not None else []
        else:
            return None
    except DocumentError:
        return None
    out = io.BytesIO()
    _draw(image, rects).save(out, format="JPEG", quality=80)
    return out.getvalue()


def _pdf_page(path: Path, page: int, quote: str, source: SourceText | None, width: int) -> tuple[Image, list[Rect]]:
    from rag.ingest.readers.pdf import open_pdf

    pdf = open_pdf(path)
    try:
        if not 1 <= page <= len(pdf):
            raise DocumentError(f"has no page {page}")
        p = pdf[page - 1]
        scale = width / p.get_width()
        image = p.render(scale=scale).to_pil()
        if source is not None and page in source.ocr_pages:
            rects = _box_rects(source, page, quote, image.size)
        else:
            rects = _pdf_rects(p, quote, scale)
        return image, rects
    finally:
        pdf.close()
