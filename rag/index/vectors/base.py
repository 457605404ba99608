"""The vector-store seam: a `VectorIndex` protocol, one module per store.

Rows are positions: row i is the vector of chunk i of the index, so a store
holds nothing but vectors and hands back (row, score) pairs. Vectors are
L2-normalised float32, so inner product is cosine.

    store = FaissVectors.from_vectors(matrix)     # build
    store.save(folder); FaissVectors.load(folder) # persist (no pickle)
    store.search(query_vector, k)                 # [(row, score)], best first
    store.vectors()                               # all rows, for reuse on rebuild

Implementations: `faiss.FaissVectors` (the default, the only module that
imports faiss) and `memory.NumpyVectors` (exact search in numpy; the fake
for unit tests and the reference for approximate stores).

To add a store: a module with a class that has these methods, and an entry
in `STORES` (rag/index/vectors/__init__.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class VectorIndex(Protocol):
    name: str  # recorded in the index manifest

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top k rows for one L2-normalised query vector, best first."""
        ...

    def vectors(self) -> np.ndarray:
        """All stored vectors, row order, float32 (n x dim)."""
        ...

    def save(self, folder: Path) -> list[str]:
        """Write the store's files into `folder`; return their names."""
        ...


def normalized(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32, C-contiguous (zero rows stay zero)."""
    m = np.ascontiguousarray(np.asarray(matrix, dtype=np.float32))
    if m.ndim == 1:
        m = m.reshape(1, -1)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.ascontiguousarray(m / np.maximum(norms, 1e-12))
