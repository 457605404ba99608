"""Reciprocal rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009).

    fused(d) = sum over rankings r that contain d of  w_r / (k + rank_r(d))

with 1-based ranks. Why RRF: dense cosines (0.7-0.9 for anything vaguely
on topic) and BM25 scores (unbounded, query-dependent) live on different
scales, and ranks need no calibration. Why k = 60: the value from the
paper, robust across collections; it flattens the head of each ranking
(1/61 vs 1/62), so a document both retrievers rank fairly high beats one
that only a single retriever ranks first. Equal weights: we measured no
gain from favouring either side (see docs/measurements.md).

Worked example, k = 60: dense ranks [a, b, c], BM25 ranks [c, a]:
    a: 1/61 + 1/62 = 0.032522    c: 1/63 + 1/61 = 0.032266    b: 1/62 = 0.016129
so the order is a, c, b.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def rrf(rankings: Sequence[Sequence[K]], k: int = 60, weights: Sequence[float] | None = None) -> list[tuple[K, float]]:
    """Fuse rankings (best first) into [(item, score)], best first.

    Ties are broken by the item's best rank in any list, then by the order
    the items were first seen, so the result is deterministic.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    w = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(w) != len(rankings):
        raise ValueError("one weight per ranking")
    score: dict[K, float] = {}
    best: dict[K, int] = {}
    first: dict[K, int] = {}
    for r, ranking in enumerate(rankings):
        for i, item in enumerate(ranking, start=1):
            score[item] = score.get(item, 0.0) + w[r] / (k + i)
            best[item] = min(best.get(item, i), i)
            first.setdefault(item, len(first))
    return sorted(score.items(), key=lambda x: (-x[1], best[x[0]], first[x[0]]))
