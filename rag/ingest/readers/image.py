"""Scanned pages as images (.png, .jpg, .jpeg): text by offline OCR.

The image is read with Pillow and recognised by the process's OCR engine
(rag/ingest/ocr); lines come back in column-aware reading order and are laid
out as paragraphs. Offsets point into the extracted text; each line keeps
its box, so the page can be drawn with a cited passage highlighted.

An image without readable text, an unreadable image and a missing OCR
extra are each a `DocumentError` that says so.

Left out: multi-page TIFF, rotation and deskewing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import DocumentError, MissingExtraError
from rag.ingest.readers.base import PageProgress, Region, SourceText, TextBox, read_bytes

if TYPE_CHECKING:
    from PIL.Image import Image


def ocr_page(image: Image, page: int, base: int) -> tuple[str, list[TextBox]]:
    """OCR one page image: (text, line boxes); offsets start at `base`."""
    from rag.ingest.ocr import lines_to_text, ocr_engine

    try:
        lines = ocr_engine().recognize(image)
    except MissingExtraError as e:
        raise DocumentError(f"needs OCR, which is not installed; install it with: {e.install}") from e
    return lines_to_text(lines, image.size, page, base)


def open_image(path: Path) -> Image:
    import io

    from PIL import Image as PILImage

    raw = read_bytes(path)
    try:
        img = PILImage.open(io.BytesIO(raw))
        img.load()
    except (OSError, ValueError, PILImage.DecompressionBombError) as e:
        raise DocumentError(f"is not a readable image ({e})") from e
    return img.convert("RGB")


class ImageReader:
    suffixes: tuple[str, ...] = (".png", ".jpg", ".jpeg")
    kind = "image"

    def read(self, path: Path, progress: PageProgress | None = None) -> SourceText:
        img = open_image(path)
        if progress:
            progress(0, 1)
        text, boxes = ocr_page(img, 1, 0)
        if progress:
            progress(1, 1)
        if not text.strip():
            raise DocumentError("has no text that OCR could read")
        return SourceText(
            text=text, kind="image", regions=(Region(0, len(text), 1, "p. 1"),), offsets_in_file=False,
            pages=1, ocr_pages=(1,), boxes=tuple(boxes),
        )
