"""Build, save, load and check the index. No pickle anywhere.

Layout of `index/` (the folder is git-ignored but for its README):

    index/CURRENT                 name of the live build, replaced atomically
    index/build-<time>-<pid>/
        manifest.json             format, model, dimension, settings, file digests
        chunks.jsonl              one Chunk per line; line i is FAISS row i
        vectors.faiss             faiss.write_index(IndexFlatIP) of L2-normalised vectors
        bm25.json                 BM25 statistics and postings over jieba words
        tokens.jsonl              BM25 words of each chunk (line i = chunk i)

A build is written into a fresh folder; only when it is complete is
`CURRENT` replaced (write a temp file, fsync, os.replace). A crash at any
moment leaves the previous build live; stale build folders are removed
after a successful switch. A lock file serialises builders.

Incremental: every build re-reads and re-chunks all files (milliseconds),
but embeds only chunk texts whose vectors the previous build does not
already have (keyed by the SHA-256 of the embedded text and the model), so
touching one file re-embeds only its chunks.

On load, the manifest is compared with the documents, metadata, model and
settings; any difference makes the index stale: `ensure_index` rebuilds it
(if allowed) or raises IndexNotReadyError saying why.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.bm25 import BM25
from rag.chunk import chunk_documents
from rag.config import Settings
from rag.errors import IndexNotReadyError, RagError
from rag.ingest import METADATA_FILE, Problem, list_sources, load_corpus
from rag.tokenize import default_tokenizer, resources_digest
from rag.types import Chunk

FORMAT_VERSION = 1
CURRENT = "CURRENT"
LOCK = ".build.lock"

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


def embed_text(chunk: Chunk) -> str:
    """What the dense model sees: the article title gives a chunk its topic."""
    return f"{chunk.title}\n{chunk.text}"


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Index:
    """A loaded index: chunks, their vectors and BM25 statistics."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    faiss_index: Any
    bm25: BM25

    @property
    def dim(self) -> int:
        return int(self.faiss_index.d)

    def vectors(self) -> np.ndarray:
        n = self.faiss_index.ntotal
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self.faiss_index.reconstruct_n(0, n), dtype=np.float32)


@dataclass
class BuildReport:
    built: bool  # False: the existing index was up to date
    path: Path
    files: int = 0
    articles: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks whose vectors were computed in this build
    reused: int = 0
    seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)  # why it was (re)built
    problems: list[Problem] = field(default_factory=list)


# ------------------------------------------------------------ fingerprints
def current_state(settings: Settings, model_id: str) -> dict[str, Any]:
    """What the manifest must match for the index to be fresh."""
    docs_dir = settings.docs_dir
    files = {}
    for p in list_sources(docs_dir):
        files[p.relative_to(docs_dir).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    meta = docs_dir / METADATA_FILE
    return {
        "format_version": FORMAT_VERSION,
        "embed_model": model_id,
        "chunker": {"size": settings.chunk_size, "overlap": settings.chunk_overlap},
        "tokenizer": resources_digest(),
        "metadata_sha256": hashlib.sha256(meta.read_bytes()).hexdigest() if meta.exists() else None,
        "files": files,
    }


def stale_reasons(manifest: dict[str, Any], state: dict[str, Any]) -> list[str]:
    reasons = []
    if manifest.get("format_version") != state["format_version"]:
        reasons.append(f"index format {manifest.get('format_version')} != {state['format_version']}")
    if manifest.get("embed_model") != state["embed_model"]:
        reasons.append(f"embedding model changed ({manifest.get('embed_model')} -> {state['embed_model']})")
    if manifest.get("chunker") != state["chunker"]:
        reasons.append(f"chunker settings changed ({manifest.get('chunker')} -> {state['chunker']})")
    if manifest.get("tokenizer") != state["tokenizer"]:
        reasons.append("BM25 dictionary or stop words changed")
    if manifest.get("metadata_sha256") != state["metadata_sha256"]:
        reasons.append("metadata.toml changed")
    old = {k: v["sha256"] for k, v in manifest.get("files", {}).items()}
    new = state["files"]
    for name in sorted(set(old) | set(new)):
        if name not in new:
            reasons.append(f"{name} was removed")
        elif name not in old:
            # Files skipped as unreadable are listed with sha256 too, so a
            # bad file does not trigger a rebuild on every run.
            reasons.append(f"{name} is new")
        elif old[name] != new[name]:
            reasons.append(f"{name} changed")
    return reasons


# -------------------------------------------------------------- load/save
def live_build(index_dir: Path) -> Path | None:
    cur = index_dir / CURRENT
    if not cur.exists():
        return None
    name = cur.read_text(encoding="utf-8").strip()
    path = index_dir / name
    if not name or "/" in name or not (path / "manifest.json").exists():
        return None
    return path


def load_index(path: Path) -> Index:
    import faiss

    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        with (path / "chunks.jsonl").open(encoding="utf-8") as f:
            chunks = [Chunk.from_dict(json.loads(line)) for line in f if line.strip()]
        fi = faiss.read_index(str(path / "vectors.faiss"))
        bm25 = BM25.from_json(json.loads((path / "bm25.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise IndexNotReadyError(f"index at {path} is unreadable ({e}); rebuild it with: rag index --rebuild") from e
    if fi.ntotal != len(chunks) or bm25.n_docs != len(chunks):
        raise IndexNotReadyError(f"index at {path} is inconsistent; rebuild it with: rag index --rebuild")
    return Index(path=path, manifest=manifest, chunks=chunks, faiss_index=fi, bm25=bm25)


def _write_json(path: Path, obj: Any) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())


def _write_lines(path: Path, rows: Iterator[Any] | Sequence[Any]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _switch(index_dir: Path, build: Path) -> None:
    tmp = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        f.write(build.name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / CURRENT)
    with contextlib.suppress(OSError):  # make the rename durable where supported
        dfd = os.open(index_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _cleanup(index_dir: Path, keep: Path) -> None:
    for p in index_dir.glob("build-*"):
        if p.is_dir() and p != keep:
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK).open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------ build
def build_index(
    settings: Settings,
    embedder: Embeddings,
    *,
    previous: Index | None = None,
    progress: ProgressFn | None = None,
    reasons: Sequence[str] = (),
) -> tuple[Index, BuildReport]:
    """Build a new index into a fresh folder and make it live."""
    import faiss

    t0 = time.perf_counter()
    index_dir = settings.index_dir
    model_id = _model_id(embedder, settings)
    with _build_lock(index_dir):
        state = current_state(settings, model_id)
        docs, problems = load_corpus(settings.docs_dir)
        if not docs:
            detail = "; ".join(f"{p.source} {p.reason}" for p in problems)
            raise RagError(
                f"no readable .txt or .md documents in {settings.docs_dir}" + (f" ({detail})" if detail else "")
            )
        chunks = chunk_documents(docs, settings.chunk_size, settings.chunk_overlap)
        if progress:
            progress("chunk", len(chunks), len(chunks))

        # Reuse vectors of identical texts from the previous build, same model.
        cache: dict[str, np.ndarray] = {}
        if previous is not None and previous.manifest.get("embed_model") == model_id:
            vecs = previous.vectors()
            for c, v in zip(previous.chunks, vecs, strict=True):
                cache[_text_key(embed_text(c))] = v
        texts = [embed_text(c) for c in chunks]
        todo = [i for i, t in enumerate(texts) if _text_key(t) not in cache]
        new_vecs: dict[int, np.ndarray] = {}
        batch = max(1, settings.embed_batch_size)
        for s in range(0, len(todo), batch):
            ids = todo[s : s + batch]
            out = embedder.embed_documents([texts[i] for i in ids])
            for i, v in zip(ids, out, strict=True):
                new_vecs[i] = np.asarray(v, dtype=np.float32)
            if progress:
                progress("embed", min(s + batch, len(todo)), len(todo))
        if progress and not todo:
            progress("embed", 0, 0)
        rows = [new_vecs[i] if i in new_vecs else cache[_text_key(texts[i])] for i in range(len(chunks))]
        dim = int(len(rows[0]))
        mat = np.ascontiguousarray(np.vstack(rows).astype(np.float32))
        # Normalise again: a configured model might not; inner product must be cosine.
        norms = np.linalg.norm(mat, axis=1, keepdims=True)
        mat = mat / np.maximum(norms, 1e-12)
        fi = faiss.IndexFlatIP(dim)
        fi.add(mat)

        tok = default_tokenizer()
        words = [tok.words(c.text) for c in chunks]
        if progress:
            progress("bm25", len(chunks), len(chunks))
        bm25 = BM25.build(words)

        per_file: dict[str, dict[str, Any]] = {}
        for name, sha in state["files"].items():
            per_file[name] = {"sha256": sha, "articles": 0, "chunks": 0, "skipped": None}
        for p in problems:
            if p.source in per_file:
                per_file[p.source]["skipped"] = p.reason
        for d in docs:
            per_file[d.source]["articles"] += 1
        for c in chunks:
            per_file[c.source]["chunks"] += 1
        manifest = {
            **{k: v for k, v in state.items() if k != "files"},
            "files": per_file,
            "dim": dim,
            "counts": {"files": len({d.source for d in docs}), "articles": len(docs), "chunks": len(chunks)},
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "docs_dir": str(settings.docs_dir),
        }

        build = index_dir / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        build.mkdir(parents=True)
        try:
            _write_lines(build / "chunks.jsonl", (c.to_dict() for c in chunks))
            _write_lines(build / "tokens.jsonl", words)
            _write_json(build / "bm25.json", bm25.to_json())
            faiss.write_index(fi, str(build / "vectors.faiss"))
            _write_json(build / "manifest.json", manifest)  # last: its presence marks completeness
            _switch(index_dir, build)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        _cleanup(index_dir, keep=build)

    index = Index(path=build, manifest=manifest, chunks=chunks, faiss_index=fi, bm25=bm25)
    report = BuildReport(
        built=True,
        path=build,
        files=manifest["counts"]["files"],
        articles=len(docs),
        chunks=len(chunks),
        embedded=len(todo),
        reused=len(chunks) - len(todo),
        seconds=round(time.perf_counter() - t0, 2),
        reasons=list(reasons),
        problems=problems,
    )
    return index, report


def _model_id(embedder: Embeddings, settings: Settings) -> str:
    return str(getattr(embedder, "model_id", None) or settings.embed_model)


def ensure_index(
    settings: Settings,
    embedder: Embeddings,
    *,
    allow_build: bool = True,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> tuple[Index, BuildReport]:
    """Load the live index if it is fresh; otherwise rebuild it or say why not."""
    t0 = time.perf_counter()
    model_id = _model_id(embedder, settings)
    live = live_build(settings.index_dir)
    previous: Index | None = None
    reasons: list[str] = []
    if live is None:
        reasons = [f"no index in {settings.index_dir}"]
    else:
        try:
            previous = load_index(live)
        except IndexNotReadyError as e:
            reasons = [str(e)]
        else:
            reasons = stale_reasons(previous.manifest, current_state(settings, model_id))
    if force:
        reasons = reasons or ["rebuild requested"]
    if not reasons and previous is not None:
        m = previous.manifest
        problems = [Problem(n, f["skipped"]) for n, f in m.get("files", {}).items() if f.get("skipped")]
        return previous, BuildReport(
            built=False,
            path=previous.path,
            files=m["counts"]["files"],
            articles=m["counts"]["articles"],
            chunks=m["counts"]["chunks"],
            reused=m["counts"]["chunks"],
            seconds=round(time.perf_counter() - t0, 2),
            problems=problems,
        )
    if not allow_build:
        raise IndexNotReadyError(
            "the index needs building (" + "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
            + "); run: rag index"
        )
    return build_index(settings, embedder, previous=None if force else previous, progress=progress, reasons=reasons)
