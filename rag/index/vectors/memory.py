"""Exact search in numpy: the fake store for unit tests, and the reference
an approximate store is measured against. Saved as `vectors.npy`
(`np.save`, loaded with `allow_pickle=False`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.index.vectors.base import LexicalIndex, normalized

FILE = "vectors.npy"


class NumpyVectors:
    name = "numpy"

    def __init__(self, matrix: np.ndarray) -> None:
        self._m = matrix

    @classmethod
    def from_vectors(cls, matrix: np.ndarray) -> NumpyVectors:
        return cls(normalized(matrix))

    @classmethod
    def load(cls, folder: Path) -> NumpyVectors:
        return cls(np.load(folder / FILE, allow_pickle=False))

    @property
    def dim(self) -> int:
        return int(self._m.shape[1])

    def __len__(self) -> int:
        return int(self._m.shape[0])

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if len(self) == 0 or k < 1:
            return []
        scores = self._m @ normalized(query)[0]
        # Stable order: by score, ties by row, as FAISS's flat index does.
        order = np.lexsort((np.arange(len(scores)), -scores))[:k]
        return [(int(i), float(scores[i])) for i in order]

    def vectors(self) -> np.ndarray:
        return self._m.copy()

    def save(self, folder: Path) -> list[str]:
        np.save(folder / FILE, self._m, allow_pickle=False)
        return [FILE]

    def activate(self) -> None:
        """Nothing to publish: the files are in the build folder."""

    def discard(self) -> None:
        """Nothing outside the build folder."""

    def lexical(self) -> LexicalIndex | None:
        return None
