"""Deterministic fakes beside the real models, for fast unit tests.

- `FakeEmbedder`: hashed character 1- and 2-grams. Similar strings get
  similar vectors, which is all retrieval tests need. `FakeEmbedder.from_name`
  reads the model setting `fake`, `fake:DIM` or `fake:DIM?delay_ms=5&log=PATH`:
  a slow one (a sleep per text) that appends each batch size to a file, so a
  test can kill a real `rag index` process mid-build and count what was
  embedded (tests/faults/test_resume.py).

Left out: a fake chat model (tests use langchain's `GenericFakeChatModel`
and a scripted OpenAI-compatible HTTP server).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
from langchain_core.embeddings import Embeddings


class FakeEmbedder(Embeddings):
    """Deterministic embeddings from hashed character 1- and 2-grams."""

    def __init__(self, dim: int = 64, *, delay_s: float = 0.0, log: Path | None = None) -> None:
        self._dim = dim
        self.model_id = f"fake-ngram-{dim}"  # the delay does not change the vectors
        self.calls: list[int] = []  # batch sizes, so tests can see what was embedded
        self.delay_s = delay_s
        self.log = log

    @classmethod
    def from_name(cls, name: str) -> FakeEmbedder:
        """`fake`, `fake:DIM`, `fake:DIM?delay_ms=N&log=PATH`."""
        spec, _, query = name.partition("?")
        dim = int(spec.split(":", 1)[1]) if ":" in spec else 64
        opts = {k: v[-1] for k, v in parse_qs(query).items()}
        log = Path(opts["log"]) if "log" in opts else None
        return cls(dim, delay_s=float(opts.get("delay_ms", 0)) / 1000, log=log)

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
        if self.delay_s:
            time.sleep(self.delay_s * len(texts))
        self.calls.append(len(texts))
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as f:
                f.write(f"{len(texts)}\n")
                f.flush()
                os.fsync(f.fileno())
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)
