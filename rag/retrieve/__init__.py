"""Retrieval: a question -> ranked `Hit`s from a loaded index.

    hybrid   HybridRetriever: dense, BM25 and fused rankings
    fusion   relative score fusion and reciprocal rank fusion, by name
    rerank   the Reranker protocol; identity by default

Owns ranking. Leaves out building the index (rag/index) and answering
(rag/answer).
"""

from rag.retrieve.hybrid import HybridRetriever
from rag.retrieve.rerank import RERANKERS, IdentityReranker, Reranker

__all__ = ["RERANKERS", "HybridRetriever", "IdentityReranker", "Reranker"]
