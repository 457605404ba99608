"""The OCR seam: an engine turns a page image into text lines with boxes.

    engine = default_engine()            # RapidOCR, loaded on first use
    lines = engine.recognize(image)      # [OcrLine(text, score, box)] in reading order
    text, boxes = lines_to_text(lines, size, page, base)

`OcrEngine` is the protocol; `rapid.RapidOcrEngine` is the real one
(PP-OCRv4 through onnxruntime, models inside the wheel), `fake.FakeOcr`
returns lines it was given (unit tests). `lines_to_text` lays lines out as
text with a blank line between paragraphs (a new paragraph starts after a
short line, at an indent, or after a gap), and keeps each line's box.

Left out: rotated pages and vertical (top-to-bottom) writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rag.ingest.readers.base import TextBox

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass(frozen=True)
class OcrLine:
    """One recognised line: its text, the engine's confidence, and its box
    (x0, y0, x1, y1) in pixels of the image it was read from."""

    text: str
    score: float
    box: tuple[float, float, float, float]


class OcrEngine(Protocol):
    name: str

    def recognize(self, image: Image) -> list[OcrLine]:
        """The text lines of `image`, in reading order ([] for no text)."""
        ...


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2] if s else 0.0


def lines_to_text(
    lines: Sequence[OcrLine], size: tuple[int, int], page: int, base: int = 0
) -> tuple[str, list[TextBox]]:
    """Lines in reading order -> (text, one TextBox per line).

    Boxes on one row (a line the engine cut in two) are joined on one line.
    Lines of one paragraph are separated by "\\n" (the cleaner joins them),
    paragraphs by a blank line. A paragraph ends when a line stops short of
    its column's right edge by more than two character heights, when the
    next line is indented by more than one character height, or when the
    gap above the next line is more than one line height. Boxes are stored
    as fractions of the image size; `base` is the offset of the text in the
    whole extracted text.
    """
    w, h = max(size[0], 1), max(size[1], 1)
    height = _median([ln.box[3] - ln.box[1] for ln in lines]) or 1.0
    parts: list[str] = []
    boxes: list[TextBox] = []
    pos = base
    prev: tuple[float, float, float, float] | None = None  # the current line's box so far
    right = 0.0  # right edge of the current column (max x1 of its lines)
    for ln in lines:
        text = ln.text.strip()
        if not text:
            continue
        x0, y0, x1, y1 = ln.box
        if prev is not None and _same_row(prev, ln.box) and x0 >= prev[2] - height:
            # One printed line the engine cut in two: carry on the same line.
            sep = " " if (parts[-1][-1:].isascii() and parts[-1][-1:].isalnum() and text[0].isascii() and text[0].isalnum()) else ""
            prev = (prev[0], min(prev[1], y0), max(prev[2], x1), max(prev[3], y1))
        elif prev is not None:
            same_column = abs(x0 - prev[0]) < 3 * height and y0 >= prev[1]
            short = prev[2] < right - 2 * height
            indent = x0 > prev[0] + height
            gap = y0 - prev[3] > height
            sep = "\n\n" if (not same_column or short or indent or gap) else "\n"
            if not same_column:
                right = 0.0
            prev = ln.box
        else:
            sep = ""
            prev = ln.box
        right = max(right, prev[2])
        parts.append(sep)
        pos += len(sep)
        boxes.append(TextBox(pos, pos + len(text), page, x0 / w, y0 / h, x1 / w, y1 / h))
        parts.append(text)
        pos += len(text)
    return "".join(parts), boxes


def _same_row(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Do two boxes overlap vertically by more than half the lower one's height?"""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap > 0.5 * min(a[3] - a[1], b[3] - b[1])
