"""Offline OCR for scanned pages and images (an optional extra).

    from rag.ingest.ocr import ocr_engine
    lines = ocr_engine().recognize(pil_image)

    base           OcrEngine protocol, OcrLine, lines_to_text (paragraphs + boxes)
    rapid          RapidOCR (PP-OCRv4, onnxruntime); the default
    fake           FakeOcr for unit tests
    reading_order  column-aware order of line boxes (newspaper pages)

`ocr_engine()` is the process's one engine (models load on first use);
`use_engine(e)` swaps it (tests). Without the extra, reading a scan raises
`MissingExtraError` naming the install command.
"""

from __future__ import annotations

import threading

from rag.ingest.ocr.base import OcrEngine, OcrLine, lines_to_text
from rag.ingest.ocr.rapid import INSTALL, RapidOcrEngine, available

_engine: OcrEngine | None = None
_lock = threading.Lock()


def ocr_engine() -> OcrEngine:
    global _engine
    with _lock:
        if _engine is None:
            _engine = RapidOcrEngine()
        return _engine


def use_engine(engine: OcrEngine | None) -> OcrEngine | None:
    """Replace the process's engine (None: the default again); returns the old one."""
    global _engine
    with _lock:
        old, _engine = _engine, engine
        return old


__all__ = ["INSTALL", "OcrEngine", "OcrLine", "RapidOcrEngine", "available", "lines_to_text", "ocr_engine", "use_engine"]
