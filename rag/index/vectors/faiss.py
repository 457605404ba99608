"""FAISS inner-product search: the default vector store. Exact (a flat
index) up to `approx_above` rows, approximate (IVF-Flat) beyond.

The only module that imports faiss. Saved with `faiss.write_index` as
`vectors.faiss` (FAISS's own binary format, no pickle); the file says
which kind of index it is, so loading needs no setting.

Why IVF-Flat and not HNSW (measured, bench/bench_growth.py and
docs/measurements.md "Growth", 10^6 synthetic chunks of e5 vectors on 2
cores): HNSW (M 32, efConstruction 80) took 684 s to build and reached
recall@10 0.93 only at efSearch 4096 (30 ms a query); IVF-Flat with 1024
lists trained in 5 s, built in 13 s, and reached 0.94 at 128 probes
(13 ms) and 0.98 at 256 (26 ms). The corpus's vectors crowd together (the
10th and 20th best scores differ by 0.0015), which is hard for any
approximate index; IVF's answer is to scan more lists, HNSW's a longer
and slower walk. IVF's costs: a k-means training (seconds, on at most
64 rows per list, seeded, so builds are reproducible), and each query
scans a quarter of the rows (`IVF_PROBE_SHARE`), 4x fewer than exact.

Why a threshold at all: the flat index is exact and, below about 2 x 10^5
rows, answers in a few milliseconds (6 ms at 10^5 on one thread,
measured), so the seeds and ordinary collections stay exact and
reproducible.

Indexes built as HNSW by earlier versions still load and search.

Left out: GPU indexes, product quantisation (PQ) for corpora that do not
fit in memory (that is the Milvus path, docs/scale.md).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.vectors.base import LexicalIndex, normalized

FILE = "vectors.faiss"
# IVF: about sqrt(rows) lists (a power of two), k-means trained on at most
# IVF_TRAIN_PER_LIST rows per list; a query probes 1/IVF_PROBE_SHARE of the
# lists (recall@10 0.98 at 10^6 rows, measured; see the docstring).
IVF_TRAIN_PER_LIST = 64
IVF_PROBE_SHARE = 4
IVF_MIN_LISTS = 16
# HNSW indexes built by earlier versions still search with this candidate list.
HNSW_EF_SEARCH = 128
# Rows above which the store builds IVF-Flat instead of the exact flat index
# (RAG_FAISS_APPROX_ABOVE). Chosen by measurement (docs/measurements.md,
# "Growth"): an exact query costs ~0.6 ms per 10^4 rows on one thread, so
# ~12 ms at 2 x 10^5, less than embedding the question; below that an
# approximate index saves little and costs training and exactness.
DEFAULT_APPROX_ABOVE = 200_000
# OpenMP threads for search. A single query over a flat index split across
# threads spin-waits whenever another process holds a core: measured on this
# 2-core machine under load, one query over 10^4 rows took 128 ms p50 with 2
# threads and 0.38 ms with 1 (docs/measurements.md, "Growth"). The product
# searches one question at a time, so one thread; an IVF build (k-means,
# adding rows) gets every core for its duration (`from_vectors`).
SEARCH_THREADS = 1
_threads_set = False


def _search_threads(faiss: Any) -> None:
    global _threads_set
    if not _threads_set:
        faiss.omp_set_num_threads(SEARCH_THREADS)
        _threads_set = True


def ivf_lists(rows: int) -> int:
    """IVF lists for `rows`: the power of two nearest sqrt(rows), at least 16.

    >>> ivf_lists(10**6), ivf_lists(200_001), ivf_lists(10)
    (1024, 512, 16)
    """
    return max(IVF_MIN_LISTS, 2 ** round(math.log2(math.sqrt(max(rows, 1)))))


def ivf_probes(nlist: int) -> int:
    """Lists a query scans: a quarter of them (at least one)."""
    return max(1, nlist // IVF_PROBE_SHARE)


class FaissVectors:
    name = "faiss"

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def from_vectors(cls, matrix: np.ndarray, approx_above: int | None = None) -> FaissVectors:
        """An exact index, or IVF-Flat when there are more than `approx_above` rows."""
        import faiss

        m = normalized(matrix)
        index: Any
        if approx_above is not None and m.shape[0] > approx_above:
            nlist = ivf_lists(m.shape[0])
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(m.shape[1]), m.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
            index.nprobe = ivf_probes(nlist)  # saved with the index
            # A fixed sample (and faiss's fixed k-means seed): the same rows
            # give the same index.
            rng = np.random.default_rng(0)
            n_train = min(m.shape[0], IVF_TRAIN_PER_LIST * nlist)
            sample = m[np.sort(rng.choice(m.shape[0], size=n_train, replace=False))]
            faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))
            try:
                index.train(sample)
                index.add(m)
                index.make_direct_map()  # `vectors()` (reused by the next build) reads rows back
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
        return hasattr(self._index, "hnsw") or hasattr(self._index, "nprobe")

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
        # Per call, not on the shared index: concurrent searches with
        # different k must not race on the index's own setting.
        # (faiss's type stubs lack the SearchParameters classes; they exist since 1.7.3.)
        if hasattr(self._index, "hnsw"):
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))  # type: ignore[attr-defined]
        elif hasattr(self._index, "nprobe"):
            params = faiss.SearchParametersIVF(nprobe=int(self._index.nprobe))  # type: ignore[call-arg]
        q = normalized(query)
        scores, ids = self._index.search(q, k, params=params)
        if params is not None and hasattr(self._index, "nprobe") and int((ids[0] >= 0).sum()) < k:
            # The probed lists held fewer than k rows (a large k): scan them all.
            params = faiss.SearchParametersIVF(nprobe=int(self._index.nlist))  # type: ignore[call-arg]
            scores, ids = self._index.search(q, k, params=params)
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
