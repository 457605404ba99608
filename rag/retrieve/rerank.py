"""The reranker seam: reorder the fused hits before they reach the answerer.

    reranker.rerank(question, hits, k) -> hits (at most k, ranks renumbered)

`IdentityReranker` (the default) keeps retrieval's order. A cross-encoder
or an LLM judge would be another module with the same signature, listed in
`RERANKERS`.

Left out: any model-based reranker (none for Chinese installs from the
registries here without a hub download).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from rag.types import Hit


class Reranker(Protocol):
    name: str

    def rerank(self, question: str, hits: Sequence[Hit], k: int) -> list[Hit]: ...


class IdentityReranker:
    name = "none"

    def rerank(self, question: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        return [h if h.rank == r else replace(h, rank=r) for r, h in enumerate(hits[:k], start=1)]


RERANKERS: dict[str, Reranker] = {"none": IdentityReranker()}
