"""A fake OCR engine for unit tests: returns the lines it was given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.ingest.ocr.base import OcrLine

if TYPE_CHECKING:
    from PIL.Image import Image


class FakeOcr:
    name = "fake-ocr"

    def __init__(self, lines: Sequence[OcrLine] = ()) -> None:
        self.lines = list(lines)
        self.calls = 0

    def recognize(self, image: Image) -> list[OcrLine]:
        self.calls += 1
        return list(self.lines)
