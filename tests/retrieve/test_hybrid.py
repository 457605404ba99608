"""HybridRetriever on a hand-made index: which side finds what, ranks kept,
fusion chosen by name, and the reranker seam."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.index import Index
from rag.index.bm25 import BM25
from rag.index.lexicon import default_tokenizer
from rag.index.vectors import NumpyVectors
from rag.models.fake import FakeEmbedder
from rag.retrieve import HybridRetriever, IdentityReranker
from rag.types import Chunk, Hit

pytestmark = pytest.mark.unit

TEXTS = [
    "2022年实际外资（部口径）达到41414万美元。",
    "平湖共有日资企业114家，投资总额31亿美元。",
    "南市商务区楼宇党建生态圈建设。",
]


def make_index() -> Index:
    chunks = [
        Chunk(id=Chunk.make_id("s.txt", 0, t), source="s.txt", article=0, title="t", date=None,
              start=0, end=len(t), text=t, orig_start=0, orig_end=len(t))
        for t in TEXTS
    ]
    emb = FakeEmbedder()
    vectors = NumpyVectors.from_vectors(np.asarray(emb.embed_documents(TEXTS), dtype=np.float32))
    bm25 = BM25.build([default_tokenizer().words(t) for t in TEXTS])
    return Index(path=Path("."), manifest={}, chunks=chunks, vectors=vectors, bm25=bm25)


@pytest.fixture
def retriever() -> HybridRetriever:
    return HybridRetriever(make_index(), FakeEmbedder(), fetch_k=3)


def test_bm25_mode_ranks_by_words_only(retriever: HybridRetriever) -> None:
    hits = retriever.search("日资企业有多少家", mode="bm25", k=3)
    assert hits[0].chunk.text == TEXTS[1]
    assert all(h.dense_rank is None for h in hits) and hits[0].bm25_rank == 1
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_dense_mode_returns_every_chunk_with_dense_ranks(retriever: HybridRetriever) -> None:
    hits = retriever.search("实际外资41414万美元", mode="dense", k=3)
    assert len(hits) == 3 and hits[0].chunk.text == TEXTS[0]
    assert all(h.bm25_rank is None for h in hits)
    assert [h.dense_rank for h in hits] == [1, 2, 3]


def test_hybrid_keeps_both_ranks_and_the_fused_score(retriever: HybridRetriever) -> None:
    timings: dict[str, float] = {}
    hits = retriever.search("2022年实际外资", mode="hybrid", k=2, timings=timings)
    assert len(hits) == 2 and hits[0].chunk.text == TEXTS[0]
    assert hits[0].dense_rank is not None and hits[0].bm25_rank == 1
    assert hits[0].score >= hits[1].score
    assert {"embed+dense", "bm25", "fuse"} <= timings.keys()


def test_fusion_is_chosen_by_name() -> None:
    idx = make_index()
    rsf = HybridRetriever(idx, FakeEmbedder(), fusion="rsf").search("日资企业", k=3)
    rrf = HybridRetriever(idx, FakeEmbedder(), fusion="rrf", rrf_k=60).search("日资企业", k=3)
    # RRF scores are sums of 1/(60 + rank): at most 2/61.
    assert max(h.score for h in rrf) <= 2 / 61 + 1e-6  # scores are rounded to 6 places
    assert max(h.score for h in rsf) > 2 / 61
    with pytest.raises(KeyError):
        HybridRetriever(idx, FakeEmbedder(), fusion="nope")


def test_identity_reranker_cuts_and_renumbers() -> None:
    hits = [Hit(chunk=c, rank=r, score=1.0) for r, c in enumerate(make_index().chunks, start=5)]
    out = IdentityReranker().rerank("q", hits, 2)
    assert [h.rank for h in out] == [1, 2] and [h.chunk for h in out] == [h.chunk for h in hits[:2]]
