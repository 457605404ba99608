"""Vector stores by name; see `base.py` for the protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from rag.index.vectors.base import VectorIndex, normalized
from rag.index.vectors.faiss import FaissVectors
from rag.index.vectors.memory import NumpyVectors


class VectorStoreType(Protocol):
    def from_vectors(self, matrix: np.ndarray) -> VectorIndex: ...

    def load(self, folder: Path) -> VectorIndex: ...


STORES: dict[str, VectorStoreType] = {"faiss": FaissVectors, "numpy": NumpyVectors}

__all__ = ["STORES", "FaissVectors", "NumpyVectors", "VectorIndex", "normalized"]
