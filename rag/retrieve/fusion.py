"""Fusing the dense and BM25 rankings: reciprocal rank fusion and relative
score fusion.

Reciprocal rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009):

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

Relative score fusion (the default here; `fusion = "rrf"` selects RRF):

    fused(d) = sum over rankings r of  w_r * (s_r(d) - min_r) / (max_r - min_r)

with min/max over the candidates ranking r returned (0 for a document it
did not return). It keeps what ranks throw away: how far ahead the leader
is. On this corpus BM25 often puts the passage holding the exact term
(实际外资, 2022) first by a wide margin while the small dense model ranks it
outside its top 30; RRF then prefers passages both sides rank middling,
relative scores keep the clear BM25 winner. Measured over the eval set
(docs/measurements.md): hit@1 0.72 vs 0.63, hit@5 0.88 vs 0.84, MRR 0.78
vs 0.71; equal weights, not tuned (0.4-0.6 for dense all score alike).

Worked example: dense scores a 0.90, b 0.85, c 0.80 -> 1.0, 0.5, 0.0;
BM25 scores c 12.0, a 3.0 -> c 1.0, a 0.0. Equal weights 0.5:
    a: 0.5*1.0 + 0.5*0.0 = 0.50   c: 0.5*0.0 + 0.5*1.0 = 0.50   b: 0.5*0.5 = 0.25
a and c tie and keep their first-seen order: a, c, b.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
Scored = Sequence[tuple[K, float]]


def _accumulate(contributions: Sequence[Sequence[tuple[K, float]]]) -> list[tuple[K, float]]:
    """Sum each item's contributions over the lists (each best first).

    Ties are broken by the item's best rank in any list, then by the order
    the items were first seen, so the result is deterministic.
    """
    score: dict[K, float] = {}
    best: dict[K, int] = {}
    first: dict[K, int] = {}
    for ranking in contributions:
        for i, (item, c) in enumerate(ranking, start=1):
            score[item] = score.get(item, 0.0) + c
            best[item] = min(best.get(item, i), i)
            first.setdefault(item, len(first))
    return sorted(score.items(), key=lambda x: (-x[1], best[x[0]], first[x[0]]))


def _weights(weights: Sequence[float] | None, n: int, default: float) -> list[float]:
    w = list(weights) if weights is not None else [default] * n
    if len(w) != n:
        raise ValueError("one weight per ranking")
    return w


def rrf(rankings: Sequence[Sequence[K]], k: int = 60, weights: Sequence[float] | None = None) -> list[tuple[K, float]]:
    """Fuse rankings (best first) into [(item, score)], best first."""
    if k < 1:
        raise ValueError("k must be >= 1")
    w = _weights(weights, len(rankings), 1.0)
    return _accumulate([
        [(item, w[r] / (k + i)) for i, item in enumerate(ranking, start=1)]
        for r, ranking in enumerate(rankings)
    ])


def relative_score_fusion(
    scored: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float] | None = None
) -> list[tuple[K, float]]:
    """Fuse [(item, score)] lists (best first) by min-max normalised scores.

    A list with one item (or all scores equal) gives each of its items 1.0.
    """
    w = _weights(weights, len(scored), 1.0 / max(len(scored), 1))
    normalised = []
    for r, ranking in enumerate(scored):
        values = [s for _, s in ranking]
        lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
        normalised.append([(item, w[r] * ((s - lo) / (hi - lo) if hi > lo else 1.0)) for item, s in ranking])
    return _accumulate(normalised)


# One signature for every fusion: scored lists (best first) and the RRF
# constant in, fused (item, score) pairs out. Hybrid retrieval picks from
# this dict by the `fusion` setting; the names are `rag.types.FusionName`.
FusionFn = Callable[[Sequence[Sequence[tuple[int, float]]], int], list[tuple[int, float]]]
FUSIONS: dict[str, FusionFn] = {
    "rsf": lambda scored, rrf_k: relative_score_fusion(scored),
    "rrf": lambda scored, rrf_k: rrf([[i for i, _ in s] for s in scored], k=rrf_k),
}
