"""FAISS exact inner-product search: the default vector store.

The only module that imports faiss. Saved with `faiss.write_index` as
`vectors.faiss` (FAISS's own binary format, no pickle).

Left out: approximate indexes (HNSW, IVF), which pay off only far beyond
the seeds' few hundred rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rag.index.vectors.base import normalized

FILE = "vectors.faiss"


class FaissVectors:
    name = "faiss"

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def from_vectors(cls, matrix: np.ndarray) -> FaissVectors:
        import faiss

        m = normalized(matrix)
        index = faiss.IndexFlatIP(m.shape[1])
        index.add(m)
        return cls(index)

    @classmethod
    def load(cls, folder: Path) -> FaissVectors:
        import faiss

        try:
            return cls(faiss.read_index(str(folder / FILE)))
        except RuntimeError as e:  # faiss reports a bad or missing file this way
            raise ValueError(f"cannot read {folder / FILE}: {str(e).splitlines()[0]}") from e

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        n = len(self)
        if n == 0 or k < 1:
            return []
        scores, ids = self._index.search(normalized(query), min(k, n))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def vectors(self) -> np.ndarray:
        n = len(self)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_n(0, n), dtype=np.float32)

    def save(self, folder: Path) -> list[str]:
        import faiss

        faiss.write_index(self._index, str(folder / FILE))
        return [FILE]
