"""Vector stores by setting; see `base.py` for the protocol.

    store = open_store("faiss")                        # or "milvus:/abs/x.db", "milvus+http://h:19530"
    vectors = store.create(Rows(matrix, chunks, words), namespace)
    vectors = store.load(build_folder)

The setting's forms are checked (and a Milvus Lite path made absolute) by
`rag.config.check_vector_store`; the manifest records the checked form, so
a changed setting means a rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ConfigError
from rag.index.vectors.base import LexicalIndex, Rows, VectorIndex, VectorStore, normalized
from rag.index.vectors.faiss import DEFAULT_APPROX_ABOVE, FaissVectors
from rag.index.vectors.memory import NumpyVectors


class VectorStoreType(Protocol):
    def from_vectors(self, matrix: np.ndarray) -> VectorIndex: ...

    def load(self, folder: Path) -> VectorIndex: ...


# The stores that keep their files in the build folder, by name.
STORES: dict[str, VectorStoreType] = {"faiss": FaissVectors, "numpy": NumpyVectors}


@dataclass(frozen=True)
class LocalStore:
    """FAISS or numpy files in the build folder."""

    name: str
    approx_above: int | None = DEFAULT_APPROX_ABOVE

    def create(self, rows: Rows, namespace: str) -> VectorIndex:
        if self.name == "faiss":
            return FaissVectors.from_vectors(rows.matrix, approx_above=self.approx_above)
        return STORES[self.name].from_vectors(rows.matrix)

    def load(self, folder: Path) -> VectorIndex:
        return STORES[self.name].load(folder)


def open_store(spec: str, *, approx_above: int | None = DEFAULT_APPROX_ABOVE) -> VectorStore:
    """The store a (checked) `vector_store` setting names. Milvus's module is
    imported only here, so FAISS users never import pymilvus."""
    if spec in STORES:
        return LocalStore(spec, approx_above)
    if spec.startswith("milvus:") or spec.startswith("milvus+"):
        from rag.index.vectors.milvus import MilvusStore

        return MilvusStore.from_spec(spec, approx_above)
    raise ConfigError(f"unknown vector store {spec!r} (RAG_VECTOR_STORE)")


__all__ = [
    "STORES", "FaissVectors", "LexicalIndex", "LocalStore", "NumpyVectors", "Rows", "VectorIndex", "VectorStore",
    "normalized", "open_store",
]
