"""Okapi BM25 over pre-tokenised chunks, stored as plain JSON.

    score(q, d) = sum over query terms t of
        idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

(the Lucene form of idf, never negative). k1 = 1.2 and b = 0.75 are the
usual defaults; on short news passages they behave well and we found no
reason to tune them. A query term repeated counts once per occurrence.

Left out: incremental updates of the statistics (rebuilding them from the
stored tokens of a few hundred chunks takes milliseconds).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class BM25:
    k1: float
    b: float
    doc_len: list[int]
    df: dict[str, int]
    postings: dict[str, list[tuple[int, int]]]  # term -> [(doc, tf)]

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> BM25:
        postings: dict[str, list[tuple[int, int]]] = {}
        for i, words in enumerate(docs):
            for t, tf in Counter(words).items():
                postings.setdefault(t, []).append((i, tf))
        return cls(
            k1=k1,
            b=b,
            doc_len=[len(d) for d in docs],
            df={t: len(p) for t, p in postings.items()},
            postings=postings,
        )

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    @property
    def avgdl(self) -> float:
        return (sum(self.doc_len) / self.n_docs) if self.n_docs else 0.0

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def scores(self, query: Sequence[str]) -> dict[int, float]:
        """Scores of the documents that share at least one term with the query."""
        out: dict[int, float] = {}
        avgdl = self.avgdl or 1.0
        for t in query:
            plist = self.postings.get(t)
            if not plist:
                continue
            idf = self.idf(t)
            for doc, tf in plist:
                norm = tf + self.k1 * (1 - self.b + self.b * self.doc_len[doc] / avgdl)
                out[doc] = out.get(doc, 0.0) + idf * tf * (self.k1 + 1) / norm
        return out

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        s = self.scores(query)
        return sorted(s.items(), key=lambda x: (-x[1], x[0]))[:k]

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON-ready values (postings pairs become lists when dumped)."""
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BM25:
        return cls(
            k1=float(d["k1"]),
            b=float(d["b"]),
            doc_len=[int(x) for x in d["doc_len"]],
            df={str(k): int(v) for k, v in d["df"].items()},
            postings={str(t): [(int(a), int(b)) for a, b in ps] for t, ps in d["postings"].items()},
        )
