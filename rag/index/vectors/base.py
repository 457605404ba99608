"""The vector-store seam: a `VectorIndex` protocol, one module per store.

Rows are positions: row i is the vector of chunk i of the index, so a store
holds nothing but vectors and hands back (row, score) pairs. Vectors are
L2-normalised float32, so inner product is cosine.

    store = FaissVectors.from_vectors(matrix)     # build
    store.save(folder); FaissVectors.load(folder) # persist (no pickle)
    store.search(query_vector, k)                 # [(row, score)], best first
    store.vectors()                               # all rows, for reuse on rebuild

Implementations: `faiss.FaissVectors` (the default, the only module that
imports faiss; exact, or IVF-Flat past a size), `memory.NumpyVectors` (exact
search in numpy; the fake for unit tests and the reference for
approximate stores) and `milvus.MilvusVectors` (Milvus Lite or a server;
the only module that imports pymilvus; it also answers BM25).

A build makes a store with `VectorStore.create(rows, namespace)`, saves it
into the new build folder, then calls `activate()` just before the build
goes live and `discard()` if the build fails: stores that live outside the
folder (Milvus) publish or drop their new collection there.

To add a store: a module with a class that has these methods, and a case
in `open_store` (rag/index/vectors/__init__.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.types import Chunk


class LexicalIndex(Protocol):
    """Ranks rows by BM25 for a query's words (rag/index/bm25.py, or a store's own)."""

    @property
    def n_docs(self) -> int: ...

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Best k rows sharing a word with the query, best first."""
        ...

    def idf(self, term: str) -> float:
        """BM25's idf of a word (the extractive answerer weighs words by it)."""
        ...


@dataclass(frozen=True)
class Rows:
    """What a build hands a store: row i is chunk i, its vector and its BM25 words."""

    matrix: np.ndarray
    chunks: Sequence[Chunk]
    words: Sequence[Sequence[str]]


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

    def activate(self) -> None:
        """Make this build the store's live one (right before CURRENT switches)."""
        ...

    def discard(self) -> None:
        """Drop what `create` made outside the build folder (the build failed)."""
        ...

    def lexical(self) -> LexicalIndex | None:
        """The store's own BM25 over the rows' words, or None (then bm25s is used)."""
        ...


class VectorStore(Protocol):
    """Makes and loads one kind of `VectorIndex`."""

    def create(self, rows: Rows, namespace: str) -> VectorIndex:
        """A new store holding `rows`; `namespace` names the index folder it belongs to."""
        ...

    def load(self, folder: Path) -> VectorIndex:
        """The store a build folder recorded; ValueError or IndexNotReadyError if unusable."""
        ...


def normalized(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32, C-contiguous (zero rows stay zero)."""
    m = np.ascontiguousarray(np.asarray(matrix, dtype=np.float32))
    if m.ndim == 1:
        m = m.reshape(1, -1)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.ascontiguousarray(m / np.maximum(norms, 1e-12))
