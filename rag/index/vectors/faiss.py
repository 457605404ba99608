"""FAISS inner-product search: the default vector store. Exact (a flat
index) up to `approx_above` rows, approximate (HNSW) beyond.

The only module that imports faiss. Saved with `faiss.write_index` as
`vectors.faiss` (FAISS's own binary format, no pickle); the file says
which kind of index it is, so loading needs no setting.

Why HNSW and not IVF: IVF must be trained (k-means over a sample, minutes
at 10^6 rows) and loses recall on clusters it did not probe; HNSW needs no
training, adds rows one by one, and at M = 32 with efSearch 128 kept
recall@10 at 0.97-1.0 on the benchmark's vectors (bench/bench_growth.py,
docs/measurements.md). Its cost is memory (M links per row: the file is
+18% over the raw float32 vectors at 384 dimensions, measured at 10^4
rows) and a build ~30x slower than the flat index.

Why a threshold at all: the flat index is exact and, below about 10^5
rows, answers in a few milliseconds anyway (measured), so the seeds and
ordinary collections stay exact and reproducible.

Left out: GPU indexes, product quantisation (PQ) for corpora that do not
fit in memory (that is the Milvus path, docs/scale.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.vectors.base import LexicalIndex, normalized

FILE = "vectors.faiss"
# HNSW links per node, and the candidate list sizes while building and
# searching: the usual trade-off points (recall ~0.99 at 10^5 rows, measured).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# Rows above which the store builds HNSW instead of the exact flat index
# (RAG_FAISS_APPROX_ABOVE). Chosen by measurement (docs/measurements.md,
# "Growth"): an exact query costs ~1.5 ms per 10^4 rows on one thread, so
# ~30 ms at 2 x 10^5, about the embedding of the question (~40 ms); below
# that HNSW saves little and costs build time and exactness.
DEFAULT_APPROX_ABOVE = 200_000
# OpenMP threads for search. A single query over a flat index split across
# threads spin-waits whenever another process holds a core: measured on this
# 2-core machine under load, one query over 10^4 rows took 128 ms p50 with 2
# threads and 0.38 ms with 1 (docs/measurements.md, "Growth"). The product
# searches one question at a time, so one thread; an HNSW build, which
# inserts in parallel, gets every core for its duration (`from_vectors`).
SEARCH_THREADS = 1
_threads_set = False


def _search_threads(faiss: Any) -> None:
    global _threads_set
    if not _threads_set:
        faiss.omp_set_num_threads(SEARCH_THREADS)
        _threads_set = True


class FaissVectors:
    name = "faiss"

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def from_vectors(cls, matrix: np.ndarray, approx_above: int | None = None) -> FaissVectors:
        """An exact index, or HNSW when there are more than `approx_above` rows."""
        import faiss

        m = normalized(matrix)
        index: Any
        if approx_above is not None and m.shape[0] > approx_above:
            index = faiss.IndexHNSWFlat(m.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
            faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))
            try:
                index.add(m)
            finally:
                if _threads_set:
                    faiss.omp_set_num_threads(SEARCH_THREADS)
        else:
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
    def approximate(self) -> bool:
        return hasattr(self._index, "hnsw")

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        n = len(self)
        if n == 0 or k < 1:
            return []
        k = min(k, n)
        import faiss

        _search_threads(faiss)
        params = None
        if self.approximate:
            # Per call, not on the shared index: concurrent searches with
            # different k must not race on index.hnsw.efSearch.
            # (faiss's type stubs lack SearchParametersHNSW; it exists since 1.7.3.)
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))  # type: ignore[attr-defined]
        scores, ids = self._index.search(normalized(query), k, params=params)
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

    def activate(self) -> None:
        """Nothing to publish: the files are in the build folder."""

    def discard(self) -> None:
        """Nothing outside the build folder."""

    def lexical(self) -> LexicalIndex | None:
        return None
