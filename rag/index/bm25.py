"""Okapi BM25 over pre-tokenised chunks, on bm25s: a sparse matrix of
precomputed term scores, saved as .npy + JSON and memory-mapped on load.

    score(q, d) = sum over query terms t of
        idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

(the Lucene form of idf, never negative). In bm25s terms that is the
"atire" term-frequency part, which keeps the (k1 + 1) factor, with the
"lucene" idf: the scores are the same numbers as the hand-written
implementation this replaced (tests/index/test_bm25.py checks to 1e-6
against a reference). k1 = 1.2 and b = 0.75 are the usual defaults; on
short news passages they behave well and we found no reason to tune them.
A query term repeated counts once per occurrence.

bm25s precomputes idf * tf-part for every (document, term) pair, so a
query is a sum of a few sparse columns: no per-query arithmetic over
postings in Python. Scores are float64 (float32 would lose the 1e-6
agreement on scores near 20). The words come from rag/index/lexicon.py,
never from bm25s's own tokenizer.

    bm25 = BM25.build(words_per_chunk)
    bm25.save(build_folder)            # build_folder/bm25/*.npy, *.json (no pickle)
    bm25 = BM25.load(build_folder)     # arrays memory-mapped, read-only
    bm25.top(query_words, k)           # [(chunk row, score)], best first

The only module that imports bm25s (lazily: importing rag stays cheap).
Left out: incremental updates of the statistics (a rebuild recomputes
them from the tokens; 10^5 chunks take seconds, see docs/measurements.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FOLDER = "bm25"
# Okapi's parameters, shared with Milvus's BM25 (rag/index/vectors/milvus.py).
K1 = 1.2
B = 0.75
# bm25s's name for the empty token it adds to the vocabulary.
_EMPTY = ""


def lucene_idf(n_docs: int, df: int) -> float:
    """ln(1 + (N - df + 0.5) / (df + 0.5)): never negative; high for unseen words."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


class BM25:
    """A bm25s model behind the interface retrieval uses (`top`, `n_docs`)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], k1: float = K1, b: float = B) -> BM25:
        import bm25s

        model = bm25s.BM25(k1=k1, b=b, method="atire", idf_method="lucene", dtype="float64", int_dtype="int64")
        corpus = [list(d) for d in docs]
        if corpus and not any(corpus):
            # bm25s cannot index an empty vocabulary. The empty token is
            # never a query word (lexicon.py drops blanks, `_all_scores`
            # skips it), so giving it to one document changes no score.
            corpus[0] = [_EMPTY]
        model.index(corpus, create_empty_token=True, show_progress=False)
        return cls(model)

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = True) -> BM25:
        """The model saved in `folder`; ValueError when it is missing or bad."""
        import bm25s

        path = folder / FOLDER
        if not (path / "params.index.json").is_file():
            raise ValueError(f"{path} holds no BM25 index")
        return cls(bm25s.BM25.load(str(path), mmap=mmap, load_corpus=False, allow_pickle=False))

    def save(self, folder: Path) -> list[str]:
        """Write the model into folder/bm25 (durably); return the saved name."""
        path = folder / FOLDER
        self._model.save(str(path), allow_pickle=False, show_progress=False)
        for p in path.iterdir():
            with p.open("rb") as f:
                os.fsync(f.fileno())
        return [FOLDER]

    @property
    def n_docs(self) -> int:
        return int(self._model.scores["num_docs"])

    def df(self, term: str) -> int:
        """Documents holding `term`: the length of its column (the matrix is CSC by term)."""
        i = self._model.vocab_dict.get(term)
        if i is None or term == _EMPTY:
            return 0
        indptr = self._model.scores["indptr"]
        return int(indptr[i + 1] - indptr[i])

    def idf(self, term: str) -> float:
        """The Lucene idf above (the extractive answerer weighs words by it)."""
        return lucene_idf(self.n_docs, self.df(term))

    def scores(self, query: Sequence[str]) -> dict[int, float]:
        """Scores of the documents that share at least one term with the query."""
        s = self._all_scores(query)
        if s is None:
            return {}
        hit = np.flatnonzero(s > 0)
        return {int(i): float(s[i]) for i in hit}

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Best k documents sharing a term with the query; ties by row."""
        s = self._all_scores(query)
        if s is None or k < 1:
            return []
        # Every matching document scores > 0 (idf > 0, tf > 0), so the
        # zeros are exactly the documents without a query term.
        hit = np.flatnonzero(s > 0)
        if len(hit) > k:
            # Keep everything tied with the k-th best, then order exactly.
            kth = np.partition(s[hit], len(hit) - k)[len(hit) - k]
            hit = hit[s[hit] >= kth]
        order = hit[np.lexsort((hit, -s[hit]))][:k]
        return [(int(i), float(s[i])) for i in order]

    def _all_scores(self, query: Sequence[str]) -> np.ndarray | None:
        vocab: dict[str, int] = self._model.vocab_dict
        ids = [vocab[t] for t in query if t != _EMPTY and t in vocab]
        if not ids:
            return None
        return np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float64)
