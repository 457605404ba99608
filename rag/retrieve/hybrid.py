"""Dense, BM25 and hybrid retrieval over a loaded `Index` -> ranked `Hit`s.

    retriever = HybridRetriever(index, embedder, fetch_k=30, fusion="rsf")
    hits = retriever.search("2022年实际外资是多少？", mode="hybrid", k=5)

- dense: the query embedding against the vector store (inner product = cosine).
- bm25: jieba words (plus glossary terms for English) against BM25.
- hybrid: each side contributes its top `fetch_k`; a fusion function from
  `rag.retrieve.fusion.FUSIONS` orders the union. Each Hit keeps both ranks
  and scores and the fused score, so fusion can be debugged.

Left out: reranking (rag/retrieve/rerank.py, applied by the pipeline).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.index import Index
from rag.index.lexicon import default_tokenizer
from rag.retrieve.fusion import FUSIONS
from rag.text import elapsed_ms
from rag.types import Hit, Mode

Ranked = list[tuple[int, float]]


class HybridRetriever:
    def __init__(
        self, index: Index, embedder: Embeddings, *, fetch_k: int = 30, fusion: str = "rsf", rrf_k: int = 60
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.fetch_k = fetch_k
        self.fuse = FUSIONS[fusion]
        self.rrf_k = rrf_k

    def dense(self, query: str, k: int) -> Ranked:
        if not self.index.chunks:
            return []
        q = np.asarray([self.embedder.embed_query(query)], dtype=np.float32)
        return self.index.vectors.search(q, min(k, len(self.index.chunks)))

    def lexical(self, query: str, k: int) -> Ranked:
        return self.index.bm25.top(default_tokenizer().query_words(query), k)

    def search(
        self, query: str, *, mode: Mode = "hybrid", k: int = 5, timings: dict[str, float] | None = None
    ) -> list[Hit]:
        t = timings if timings is not None else {}
        fetch = max(self.fetch_k, k)
        sides: dict[str, Callable[[str, int], Ranked]] = {"embed+dense": self.dense, "bm25": self.lexical}
        wanted = {"dense": ("embed+dense",), "bm25": ("bm25",), "hybrid": ("embed+dense", "bm25")}[mode]
        ranked: dict[str, Ranked] = {}
        for name in wanted:
            t0 = time.perf_counter()
            ranked[name] = sides[name](query, fetch)
            t[name] = elapsed_ms(t0)
        dense, lex = ranked.get("embed+dense", []), ranked.get("bm25", [])

        t0 = time.perf_counter()
        order = self.fuse([dense, lex], self.rrf_k) if mode == "hybrid" else ranked[wanted[0]]
        d_rank = {i: (r, sc) for r, (i, sc) in enumerate(dense, start=1)}
        b_rank = {i: (r, sc) for r, (i, sc) in enumerate(lex, start=1)}
        hits = []
        for rank, (i, score) in enumerate(order[:k], start=1):
            dr, br = d_rank.get(i), b_rank.get(i)
            hits.append(
                Hit(
                    chunk=self.index.chunks[i],
                    rank=rank,
                    score=round(float(score), 6),
                    dense_rank=dr[0] if dr else None,
                    dense_score=round(dr[1], 6) if dr else None,
                    bm25_rank=br[0] if br else None,
                    bm25_score=round(br[1], 6) if br else None,
                )
            )
        t["fuse"] = elapsed_ms(t0)
        return hits
