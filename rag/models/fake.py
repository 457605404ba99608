"""Deterministic fakes beside the real models, for fast unit tests.

- `FakeEmbedder`: hashed character 1- and 2-grams. Similar strings get
  similar vectors, which is all retrieval tests need.

Left out: a fake chat model (tests use langchain's `GenericFakeChatModel`
and a scripted OpenAI-compatible HTTP server).
"""

from __future__ import annotations

import hashlib

import numpy as np
from langchain_core.embeddings import Embeddings


class FakeEmbedder(Embeddings):
    """Deterministic embeddings from hashed character 1- and 2-grams."""

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim
        self.model_id = f"fake-ngram-{dim}"
        self.calls: list[int] = []  # batch sizes, so tests can see what was embedded

    @property
    def dim(self) -> int:
        return self._dim

    def _vec(self, text: str) -> list[float]:
        v = np.zeros(self._dim, dtype=np.float32)
        grams = list(text) + [text[i : i + 2] for i in range(len(text) - 1)]
        for g in grams:
            if g.isspace():
                continue
            h = int.from_bytes(hashlib.sha256(g.encode()).digest()[:4], "little")
            v[h % self._dim] += 1.0 if len(g) == 1 else 2.0
        n = float(np.linalg.norm(v))
        if n == 0.0:
            v[0] = 1.0
            n = 1.0
        return (v / n).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)
