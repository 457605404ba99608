"""Build, load and refresh the index of a documents folder. No pickle.

    spec = IndexSpec(docs_dir, index_dir, chunk_size=200, chunk_overlap=50)
    index, report = ensure_index(spec, embedder)      # load, or (re)build if stale

A build folder (see rag/index/layout.py for the folder around it) holds

    manifest.json   inputs fingerprint (rag/index/manifest.py), counts, per-file status
    chunks.jsonl    one Chunk per line; line i is vector row i and BM25 document i
    tokens.jsonl    the BM25 words of each chunk
    bm25.json       BM25 statistics and postings
    vectors.*       the vector store's files (rag/index/vectors)

Incremental: every build re-reads and re-chunks all files (milliseconds),
but embeds only chunk texts whose vectors the previous build does not
already have (keyed by the SHA-256 of the embedded text, same model), so
touching one file re-embeds only its chunks.

Left out: retrieval over a loaded index (rag/retrieve).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import IndexNotReadyError, RagError
from rag.index.bm25 import BM25
from rag.index.layout import (
    MANIFEST,
    build_lock,
    live_build,
    new_build_dir,
    remove_other_builds,
    switch,
)
from rag.index.lexicon import default_tokenizer
from rag.index.manifest import current_state, stale_reasons
from rag.index.vectors import STORES, VectorIndex
from rag.ingest import Problem, chunk_documents, load_corpus
from rag.types import Chunk, Document

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class IndexSpec:
    """Where the documents and the index live, and how chunks are made."""

    docs_dir: Path
    index_dir: Path
    chunk_size: int = 200
    chunk_overlap: int = 50
    embed_batch_size: int = 16
    store: str = "faiss"


@dataclass
class Index:
    """A loaded index: chunks, their vectors and BM25 statistics."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: VectorIndex
    bm25: BM25


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


def embed_text(chunk: Chunk) -> str:
    """What the dense model sees: the article title gives a chunk its topic."""
    return f"{chunk.title}\n{chunk.text}"


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def model_id(embedder: Embeddings, default: str) -> str:
    """The name the manifest records for an embedder."""
    return str(getattr(embedder, "model_id", None) or default)


# ------------------------------------------------------------------- load
def load_index(path: Path) -> Index:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        store = STORES[manifest.get("vector_store", "faiss")]
        with (path / "chunks.jsonl").open(encoding="utf-8") as f:
            chunks = [Chunk.from_dict(json.loads(line)) for line in f if line.strip()]
        vectors = store.load(path)
        bm25 = BM25.from_json(json.loads((path / "bm25.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise IndexNotReadyError(f"index at {path} is unreadable ({e}); rebuild it with: rag index --rebuild") from e
    if len(vectors) != len(chunks) or bm25.n_docs != len(chunks):
        raise IndexNotReadyError(f"index at {path} is inconsistent; rebuild it with: rag index --rebuild")
    return Index(path=path, manifest=manifest, chunks=chunks, vectors=vectors, bm25=bm25)


def _write_json(path: Path, obj: Any) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())


def _write_lines(path: Path, rows: Iterable[Any]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ------------------------------------------------------------------ build
def _manifest(
    state: dict[str, Any], docs: list[Document], chunks: list[Chunk], problems: list[Problem], dim: int, docs_dir: Path
) -> dict[str, Any]:
    """The inputs' fingerprint plus what was built from each file."""
    per_file: dict[str, dict[str, Any]] = {
        name: {"sha256": sha, "articles": 0, "chunks": 0, "skipped": None}
        for name, sha in state["files"].items()
    }
    for p in problems:
        if p.source in per_file:
            per_file[p.source]["skipped"] = p.reason
    for d in docs:
        per_file[d.source]["articles"] += 1
    for c in chunks:
        per_file[c.source]["chunks"] += 1
    return {
        **{k: v for k, v in state.items() if k != "files"},
        "files": per_file,
        "dim": dim,
        "counts": {"files": len({d.source for d in docs}), "articles": len(docs), "chunks": len(chunks)},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "docs_dir": str(docs_dir),
    }


def _write_build(
    index_dir: Path, chunks: list[Chunk], words: list[list[str]], bm25: BM25, vectors: VectorIndex,
    manifest: dict[str, Any],
) -> Path:
    """Write a complete build folder and make it live; on any failure remove it."""
    build = new_build_dir(index_dir)
    try:
        _write_lines(build / "chunks.jsonl", (c.to_dict() for c in chunks))
        _write_lines(build / "tokens.jsonl", words)
        _write_json(build / "bm25.json", bm25.to_json())
        vectors.save(build)
        _write_json(build / MANIFEST, manifest)  # last: its presence marks completeness
        switch(index_dir, build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return build


def _embed_all(
    chunks: list[Chunk], embedder: Embeddings, previous: Index | None, batch: int, progress: ProgressFn | None
) -> tuple[np.ndarray, int]:
    """Vectors for every chunk, reusing the previous build's; (matrix, embedded)."""
    cache: dict[str, np.ndarray] = {}
    if previous is not None:
        for c, v in zip(previous.chunks, previous.vectors.vectors(), strict=True):
            cache[_text_key(embed_text(c))] = v
    texts = [embed_text(c) for c in chunks]
    todo = [i for i, t in enumerate(texts) if _text_key(t) not in cache]
    fresh: dict[int, np.ndarray] = {}
    for s in range(0, len(todo), batch):
        ids = todo[s : s + batch]
        for i, v in zip(ids, embedder.embed_documents([texts[i] for i in ids]), strict=True):
            fresh[i] = np.asarray(v, dtype=np.float32)
        if progress:
            progress("embed", min(s + batch, len(todo)), len(todo))
    if progress and not todo:
        progress("embed", 0, 0)
    rows = [fresh[i] if i in fresh else cache[_text_key(texts[i])] for i in range(len(chunks))]
    return np.vstack(rows).astype(np.float32), len(todo)


def build_index(
    spec: IndexSpec,
    embedder: Embeddings,
    *,
    model: str,
    previous: Index | None = None,
    progress: ProgressFn | None = None,
    reasons: Iterable[str] = (),
) -> tuple[Index, BuildReport]:
    """Build a new index into a fresh folder and make it live."""
    t0 = time.perf_counter()
    with build_lock(spec.index_dir):
        state = current_state(
            spec.docs_dir, model_id=model, chunk_size=spec.chunk_size,
            chunk_overlap=spec.chunk_overlap, store=spec.store,
        )
        docs, problems = load_corpus(spec.docs_dir)
        if not docs:
            detail = "; ".join(f"{p.source} {p.reason}" for p in problems)
            raise RagError(
                f"no readable documents in {spec.docs_dir}" + (f" ({detail})" if detail else "")
            )
        chunks = chunk_documents(docs, spec.chunk_size, spec.chunk_overlap)
        if progress:
            progress("chunk", len(chunks), len(chunks))
        reuse = previous if previous is not None and previous.manifest.get("embed_model") == model else None
        matrix, embedded = _embed_all(chunks, embedder, reuse, max(1, spec.embed_batch_size), progress)
        vectors = STORES[spec.store].from_vectors(matrix)

        tok = default_tokenizer()
        words = [tok.words(c.text) for c in chunks]
        if progress:
            progress("bm25", len(chunks), len(chunks))
        bm25 = BM25.build(words)

        manifest = _manifest(state, docs, chunks, problems, vectors.dim, spec.docs_dir)
        build = _write_build(spec.index_dir, chunks, words, bm25, vectors, manifest)
        remove_other_builds(spec.index_dir, keep=build)

    index = Index(path=build, manifest=manifest, chunks=chunks, vectors=vectors, bm25=bm25)
    report = BuildReport(
        built=True,
        path=build,
        files=manifest["counts"]["files"],
        articles=len(docs),
        chunks=len(chunks),
        embedded=embedded,
        reused=len(chunks) - embedded,
        seconds=round(time.perf_counter() - t0, 2),
        reasons=list(reasons),
        problems=problems,
    )
    return index, report


def ensure_index(
    spec: IndexSpec,
    embedder: Embeddings,
    *,
    model: str,
    allow_build: bool = True,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> tuple[Index, BuildReport]:
    """Load the live index if it is fresh; otherwise rebuild it or say why not."""
    t0 = time.perf_counter()
    live = live_build(spec.index_dir)
    previous: Index | None = None
    reasons: list[str] = []
    if live is None:
        reasons = [f"no index in {spec.index_dir}"]
    else:
        try:
            previous = load_index(live)
        except IndexNotReadyError as e:
            reasons = [str(e)]
        else:
            state = current_state(
                spec.docs_dir, model_id=model, chunk_size=spec.chunk_size,
                chunk_overlap=spec.chunk_overlap, store=spec.store,
            )
            reasons = stale_reasons(previous.manifest, state)
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
    return build_index(
        spec, embedder, model=model, previous=None if force else previous, progress=progress, reasons=reasons
    )
