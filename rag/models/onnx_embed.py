"""The embedder on onnxruntime (RAG_EMBED_BACKEND=onnx): the same model as
`SentenceTransformerEmbedder`, exported once to ONNX (rag/models/onnx_export.py).

Same interface and vectors (cosine >= 0.99 with the torch backend, tested):
`query: ` / `passage: ` prompts from the model's
config_sentence_transformers.json, mean pooling over the attention mask,
L2 normalisation; text is truncated to 512 tokens like
sentence-transformers. Its `model_id` ends in `@onnx`, so the index
manifest records the backend and an index built by the other backend is
rebuilt rather than mixed.

Imports neither torch nor sentence-transformers at run time (only the
one-time export does). Left out: GPU providers, quantised models.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.errors import MissingExtraError, ModelError
from rag.models.embed import PromptedEmbeddings

MAX_TOKENS = 512


class OnnxEmbedder(PromptedEmbeddings):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model_id = f"{settings.embed_model}@onnx"
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._prompts: dict[str, str] = {}

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                self._session, self._tokenizer, self._prompts = _load(self.settings)
            return self._session, self._tokenizer

    @property
    def dim(self) -> int:
        return int(self._encode(["x"], "query").shape[1])

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        session, tokenizer = self._load()
        prefix = self._prompts.get(prompt_name, "")
        out = []
        size = self.settings.embed_batch_size
        for i in range(0, len(texts), size):
            enc = tokenizer.encode_batch([prefix + t for t in texts[i:i + size]])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            out.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def _load(settings: Settings) -> tuple[Any, Any, dict[str, str]]:
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as e:
        raise MissingExtraError("onnxruntime", "pip install 'rag-zh[onnx]'", "RAG_EMBED_BACKEND=onnx") from e
    from rag.models.embed import resolve_model_path
    from rag.models.onnx_export import ensure_onnx

    path = resolve_model_path(settings)
    if not isinstance(path, Path) or not path.is_dir():
        raise ModelError(f"RAG_EMBED_BACKEND=onnx needs a local model folder; {path} is not one")
    folder = ensure_onnx(path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, len(os.sched_getaffinity(0)))  # the cores this process may use
    try:
        session = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as e:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load the ONNX embedder in {folder}: {e}") from e
    tokenizer.enable_truncation(MAX_TOKENS)
    pad = tokenizer.token_to_id("<pad>")
    tokenizer.enable_padding(pad_id=pad if pad is not None else 0, pad_token="<pad>")
    try:
        st = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        prompts = {k: str(v) for k, v in (st.get("prompts") or {}).items()}
    except (OSError, ValueError):
        prompts = {}
    return session, tokenizer, prompts
