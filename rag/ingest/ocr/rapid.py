"""RapidOCR (PP-OCRv4 Chinese detection + recognition through onnxruntime).

The models ship inside the `rapidocr-onnxruntime` wheel: nothing is
downloaded at run time. Chosen by measurement against Tesseract chi_sim on
a rendered 3-column seed page (docs/measurements.md): 0.995 character
accuracy after the reading-order sort, about 6 s per page on one thread.

Settings, each measured: `use_cls=False` (the 0/180 degree line classifier
flipped good lines: 0.994 -> 0.979), one onnxruntime thread per engine (two
threads were slower on a busy 2-core machine), lines below a recognition
score of 0.5 dropped. One engine per process, behind a lock: RapidOCR keeps
per-call options on the instance, so it is not thread-safe.

Left out: GPU execution providers; the angle classifier.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rag.errors import MissingExtraError
from rag.ingest.ocr.base import OcrLine
from rag.ingest.ocr.reading_order import quad_to_box, reading_order

if TYPE_CHECKING:
    from PIL.Image import Image

INSTALL = "pip install 'rag-zh[ocr]'  (or: bash scripts/setup.sh)"
MIN_SCORE = 0.5


class RapidOcrEngine:
    name = "rapidocr-onnxruntime-1.4.4-ppocrv4"

    def __init__(self, threads: int = 1, min_score: float = MIN_SCORE) -> None:
        self.threads = threads
        self.min_score = min_score
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except (ImportError, OSError) as e:  # OSError: opencv without libGL
                raise MissingExtraError(
                    "rapidocr-onnxruntime", INSTALL, f"needed to read scanned pages and images: {e}"
                ) from e
            self._engine = RapidOCR(use_cls=False, intra_op_num_threads=self.threads)
        return self._engine

    def recognize(self, image: Image) -> list[OcrLine]:
        import numpy as np

        bgr = np.asarray(image.convert("RGB"))[:, :, ::-1].copy()  # RapidOCR wants OpenCV's BGR
        with self._lock:
            result, _elapsed = self._load()(bgr)
        if not result:  # a blank image gives (None, None)
            return []
        lines = [
            OcrLine(str(text), float(score), quad_to_box(quad))
            for quad, text, score in result
            if float(score) >= self.min_score and str(text).strip()
        ]
        return [lines[i] for i in reading_order([ln.box for ln in lines])]


def available() -> bool:
    """Is the OCR extra installed (without loading its models)?"""
    import importlib.util

    return importlib.util.find_spec("rapidocr_onnxruntime") is not None
