"""Dense, BM25 and hybrid retrieval over an `Index` -> ranked `Hit`s.

`HybridRetriever` is a langchain `BaseRetriever` (so it composes with
langchain chains: `invoke(query)` returns langchain Documents whose
metadata carry the Hit) and also offers `search(query) -> list[Hit]`, the
typed API the pipeline uses.

- dense: the query embedding against FAISS (inner product = cosine).
- bm25: jieba words against the stored BM25 statistics.
- hybrid: each side contributes its top `fetch_k`; relative score fusion
  (default) or reciprocal rank fusion (`fusion = "rrf"`, rag/fusion.py)
  orders the union. Each Hit keeps both ranks and scores and the fused
  score, so fusion can be debugged.

Left out: reranking with a cross-encoder (no Chinese reranker installs
from a registry here).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.config import Settings
from rag.fusion import relative_score_fusion, rrf
from rag.store import Index
from rag.tokenize import default_tokenizer
from rag.types import Hit


class HybridRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Index
    embedder: Embeddings
    settings: Settings

    def dense(self, query: str, k: int) -> list[tuple[int, float]]:
        if not self.index.chunks:
            return []
        q = np.asarray([self.embedder.embed_query(query)], dtype=np.float32)
        q /= max(float(np.linalg.norm(q)), 1e-12)
        k = min(k, len(self.index.chunks))
        scores, ids = self.index.faiss_index.search(q, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def lexical(self, query: str, k: int) -> list[tuple[int, float]]:
        return self.index.bm25.top(default_tokenizer().query_words(query), k)

    def search(self, query: str, timings: dict[str, float] | None = None) -> list[Hit]:
        s = self.settings
        t = timings if timings is not None else {}
        mode, k, fetch = s.mode, s.top_k, max(s.fetch_k, s.top_k)
        dense: list[tuple[int, float]] = []
        lex: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            t0 = time.perf_counter()
            dense = self.dense(query, fetch)
            t["embed+dense"] = _ms(t0)
        if mode in ("bm25", "hybrid"):
            t0 = time.perf_counter()
            lex = self.lexical(query, fetch)
            t["bm25"] = _ms(t0)
        d_rank = {i: (r, sc) for r, (i, sc) in enumerate(dense, start=1)}
        b_rank = {i: (r, sc) for r, (i, sc) in enumerate(lex, start=1)}

        t0 = time.perf_counter()
        if mode == "dense":
            order = dense[:k]
        elif mode == "bm25":
            order = lex[:k]
        elif s.fusion == "rrf":
            order = rrf([[i for i, _ in dense], [i for i, _ in lex]], k=s.rrf_k)[:k]
        else:
            order = relative_score_fusion([dense, lex])[:k]
        hits = []
        for rank, (i, score) in enumerate(order, start=1):
            dr = d_rank.get(i)
            br = b_rank.get(i)
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
        t["fuse"] = _ms(t0)
        return hits

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return [to_langchain(h) for h in self.search(query)]


def to_langchain(hit: Hit) -> LCDocument:
    c = hit.chunk
    meta: dict[str, Any] = {
        "id": c.id,
        "source": c.source,
        "article": c.article,
        "title": c.title,
        "date": c.date,
        "start": c.orig_start,
        "end": c.orig_end,
        "rank": hit.rank,
        "score": hit.score,
        "dense_rank": hit.dense_rank,
        "bm25_rank": hit.bm25_rank,
        "hit": hit,
    }
    return LCDocument(page_content=c.text, metadata=meta, id=c.id)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 2)
