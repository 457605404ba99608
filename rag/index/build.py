"""Build, load and refresh the index of a documents folder. No pickle.

    spec = IndexSpec(docs_dir, index_dir, chunk_size=200, chunk_overlap=50)
    index, report = ensure_index(spec, embedder)      # load, or (re)build if stale

A build folder (see rag/index/layout.py for the folder around it) holds

    .rag-build      the marker: the product made this folder
    manifest.json   inputs fingerprint (rag/index/manifest.py), counts, per-file
                    status, and the SHA-256 of every other file (integrity.py)
    chunks.jsonl    one Chunk per line; line i is vector row i and BM25 document i
    tokens.jsonl    the BM25 words of each chunk
    bm25/           BM25 term scores, bm25s's .npy + JSON (rag/index/bm25.py);
                    absent when the vector store does BM25 itself (Milvus)
    vectors.*       the vector store's files (rag/index/vectors); for Milvus,
                    milvus.json names the collection on the server

Loading checks the manifest's shape and every file's size and hash; any
failure is `IndexNotReadyError` ("no usable index"), which `ensure_index`
answers with a rebuild (or, without auto-build, names). `force=True`
(`rag index --rebuild`) never reads the old build, so it always recovers.

Incremental: every build re-reads and re-chunks all files (milliseconds),
but embeds only chunk texts whose vectors the previous build does not
already have (keyed by the SHA-256 of the embedded text, same model), so
touching one file re-embeds only its chunks. Each embedded batch is
persisted (rag/index/staging.py) before the next starts, so a build that
is killed resumes without embedding those batches again.

Problems (files skipped by the scan, unreadable, over a limit) travel on
the `BuildReport` and the `Index`, for every surface to report alike.

Left out: retrieval over a loaded index (rag/retrieve).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import IndexNotReadyError, ModelError, RagError
from rag.index.bm25 import BM25
from rag.index.chunktable import ChunkTable
from rag.index.integrity import fingerprint, read_manifest, verify_files
from rag.index.layout import (
    MANIFEST,
    MARKER,
    build_lock,
    check_index_dir,
    live_build,
    new_build_dir,
    remove_other_builds,
    switch,
)
from rag.index.lexicon import default_tokenizer
from rag.index.manifest import FORMAT_VERSION, current_state, stale_reasons
from rag.index.staging import Staging
from rag.index.vectors import LexicalIndex, Rows, VectorIndex, open_store
from rag.index.vectors.faiss import DEFAULT_APPROX_ABOVE
from rag.ingest import Problem, Scan, chunk_documents, load_corpus, scan_documents
from rag.types import Chunk, Document

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class IndexSpec:
    """Where the documents and the index live, how chunks are made, and the limits."""

    docs_dir: Path
    index_dir: Path
    chunk_size: int = 200
    chunk_overlap: int = 50
    embed_batch_size: int = 16
    store: str = "faiss"  # a checked RAG_VECTOR_STORE (rag.config.check_vector_store)
    faiss_approx_above: int | None = DEFAULT_APPROX_ABOVE  # None: always exact
    # Limits and links (issue 14); None: no limit.
    max_file_bytes: int | None = 50 * 2**20
    max_chunks_per_file: int | None = 5000
    follow_links: bool = False

    def scan(self) -> Scan:
        return scan_documents(self.docs_dir, max_file_bytes=self.max_file_bytes, follow_links=self.follow_links)

    @property
    def max_chars(self) -> int | None:
        """Characters of a file's text above which it cannot fit the chunk
        limit (chunks hold at most chunk_size characters; 2x for the text
        cleaning removes), checked before the expensive cleaning."""
        return None if self.max_chunks_per_file is None else 2 * self.max_chunks_per_file * self.chunk_size

    def state(self, scan: Scan, model: str, known: Mapping[str, str | None] | None = None) -> dict[str, Any]:
        limits = {"max_file_bytes": self.max_file_bytes, "max_chunks_per_file": self.max_chunks_per_file,
                  "follow_links": self.follow_links}
        return current_state(
            self.docs_dir, scan, model_id=model, chunk_size=self.chunk_size,
            chunk_overlap=self.chunk_overlap, store=self.store, limits=limits, known=known,
        )
    # Cache of extracted text (OCR output) by file content (issue 11).
    extract_cache: Path | None = None

    @property
    def namespace(self) -> str:
        """A name for this index folder in a shared store (Milvus collections and alias)."""
        return "rag_" + hashlib.sha256(str(self.index_dir.resolve()).encode()).hexdigest()[:12]


@dataclass
class Index:
    """A loaded index: chunks, their vectors and BM25 statistics, and the
    files that are not in it (with the reason)."""

    path: Path
    manifest: dict[str, Any]
    chunks: Sequence[Chunk]  # a ChunkTable when loaded from disk, a list when just built
    vectors: VectorIndex
    bm25: LexicalIndex  # bm25s, or the vector store's own BM25 (Milvus)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class BuildReport:
    built: bool  # False: the existing index was up to date
    path: Path
    files: int = 0
    articles: int = 0
    chunks: int = 0
    embedded: int = 0  # texts embedded in this run
    reused: int = 0  # chunks whose vectors came from the previous build
    resumed: int = 0  # chunks whose vectors an interrupted build had already embedded
    seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)  # why it was (re)built
    problems: list[Problem] = field(default_factory=list)


def embed_text(chunk: Chunk) -> str:
    """What the dense model sees: the article title gives a chunk its topic."""
    return f"{chunk.title}\n{chunk.text}"


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def model_id(embedder: Embeddings, default: str) -> str:
    """The name the manifest records for an embedder."""
    return str(getattr(embedder, "model_id", None) or default)


# ------------------------------------------------------------------- load
def load_index(path: Path, *, verify: bool = True) -> Index:
    """A build folder as an `Index`; IndexNotReadyError if it is not usable.

    `verify=False` skips the file hashes (only the benchmark does)."""
    manifest = read_manifest(path, FORMAT_VERSION)
    if verify:
        verify_files(path, manifest)
    try:
        store = open_store(manifest["vector_store"])
        chunks = ChunkTable.open(path / "chunks.jsonl")  # rows parsed when retrieved
        vectors = store.load(path)
        bm25 = vectors.lexical() or BM25.load(path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as e:
        raise IndexNotReadyError(f"index at {path} is unreadable ({str(e)[:200]})") from e
    n = len(chunks)
    if len(vectors) != n or bm25.n_docs != n or manifest["counts"]["chunks"] != n or vectors.dim != manifest["dim"]:
        raise IndexNotReadyError(f"index at {path} is inconsistent (chunks, vectors and BM25 disagree)")
    problems = [Problem(name, f["skipped"]) for name, f in manifest["files"].items() if f["skipped"]]
    return Index(path=path, manifest=manifest, chunks=chunks, vectors=vectors, bm25=bm25, problems=problems)


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
    index_dir: Path, chunks: list[Chunk], words: list[list[str]], bm25: LexicalIndex, vectors: VectorIndex,
    manifest: dict[str, Any],
) -> Path:
    """Write a complete build folder and make it live; on any failure remove
    it (and what the store made outside it)."""
    build = new_build_dir(index_dir)
    try:
        _write_lines(build / "chunks.jsonl", (c.to_dict() for c in chunks))
        _write_lines(build / "tokens.jsonl", words)
        if isinstance(bm25, BM25):
            bm25.save(build)
        vectors.save(build)
        names = sorted(p.name for p in build.iterdir() if p.name not in (MANIFEST, MARKER))
        manifest = {**manifest, "index_files": fingerprint(build, names)}
        _write_json(build / MANIFEST, manifest)  # last: its presence marks completeness
        # The store's switch (Milvus: the alias) just before ours: a crash
        # between the two leaves an alias that the old build's load rejects,
        # so the next run rebuilds instead of mixing two builds' rows.
        vectors.activate()
        switch(index_dir, build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        vectors.discard()
        raise
    return build


@dataclass
class _Embedded:
    matrix: np.ndarray
    embedded: int  # texts sent to the embedder now
    reused: int  # chunks with a vector from the previous build
    resumed: int  # chunks with a vector from the staging of an interrupted build


def _embed_all(
    chunks: list[Chunk], embedder: Embeddings, previous: Index | None, staging: Staging, batch: int,
    progress: ProgressFn | None,
) -> _Embedded:
    """Vectors for every chunk: the previous build's, then staged ones, then
    new ones, each new batch committed to the staging before the next."""
    old: dict[str, np.ndarray] = {}
    if previous is not None:
        for c, v in zip(previous.chunks, previous.vectors.vectors(), strict=True):
            old[_text_key(embed_text(c))] = v
    texts = [embed_text(c) for c in chunks]
    keys = [_text_key(t) for t in texts]
    source = ["old" if k in old else "staged" if k in staging.vectors else "new" for k in keys]
    todo = list(dict.fromkeys(k for k, s in zip(keys, source, strict=True) if s == "new"))
    text_of = dict(zip(keys, texts, strict=True))
    for s in range(0, len(todo), batch):
        ids = todo[s : s + batch]
        m = np.asarray(embedder.embed_documents([text_of[k] for k in ids]), dtype=np.float32)
        if m.ndim != 2 or m.shape[0] != len(ids) or (staging.dim is not None and m.shape[1] != staging.dim):
            raise ModelError(f"the embedder returned vectors of shape {m.shape} for {len(ids)} texts")
        staging.append(ids, m)
        if progress:
            progress("embed", min(s + batch, len(todo)), len(todo))
    if progress and not todo:
        progress("embed", 0, 0)
    rows = [old[k] if k in old else staging.vectors[k] for k in keys]
    n = Counter(source)
    return _Embedded(np.vstack(rows).astype(np.float32), len(todo), n["old"], n["staged"])


def _within_limits(
    docs: list[Document], chunks: list[Chunk], limit: int | None
) -> tuple[list[Document], list[Chunk], list[Problem]]:
    """Drop files that make more chunks than the limit allows, saying so."""
    per_file = Counter(c.source for c in chunks)
    over = {name: n for name, n in per_file.items() if limit is not None and n > limit}
    problems = [
        Problem(name, f"makes {n:,} chunks, over the limit of {limit:,} per file (RAG_MAX_CHUNKS_PER_FILE)")
        for name, n in sorted(over.items())
    ]
    return [d for d in docs if d.source not in over], [c for c in chunks if c.source not in over], problems


def _no_documents(spec: IndexSpec, problems: list[Problem]) -> RagError:
    detail = "; ".join(f"{p.source} {p.reason}" for p in problems[:3])
    more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    return RagError(f"no readable documents in {spec.docs_dir}" + (f" ({detail}{more})" if detail else ""))


def build_index(
    spec: IndexSpec,
    embedder: Embeddings,
    *,
    model: str,
    previous: Index | None = None,
    progress: ProgressFn | None = None,
    reasons: Iterable[str] = (),
    resume: bool = True,
) -> tuple[Index, BuildReport]:
    """Build a new index into a fresh folder and make it live.

    `resume=False` discards the embeddings an interrupted build staged."""
    t0 = time.perf_counter()
    check_index_dir(spec.index_dir, spec.docs_dir)
    with build_lock(spec.index_dir):
        scan = spec.scan()
        state = spec.state(scan, model)
        docs, problems = load_corpus(spec.docs_dir, scan, max_chars=spec.max_chars, extract_cache=spec.extract_cache)
        chunks = chunk_documents(docs, spec.chunk_size, spec.chunk_overlap)
        docs, chunks, over = _within_limits(docs, chunks, spec.max_chunks_per_file)
        problems += over
        if not chunks:
            raise _no_documents(spec, problems)
        if progress:
            progress("chunk", len(chunks), len(chunks))
        staging = Staging.open(spec.index_dir, model)
        if not resume:
            staging.discard()
        reuse = previous if previous is not None and previous.manifest.get("embed_model") == model else None
        emb = _embed_all(chunks, embedder, reuse, staging, max(1, spec.embed_batch_size), progress)

        tok = default_tokenizer()
        words = [tok.words(c.text) for c in chunks]
        store = open_store(spec.store, approx_above=spec.faiss_approx_above)
        vectors = store.create(Rows(emb.matrix, chunks, words), spec.namespace)
        if progress:
            progress("bm25", len(chunks), len(chunks))
        try:
            bm25 = vectors.lexical() or BM25.build(words)
            manifest = _manifest(state, docs, chunks, problems, vectors.dim, spec.docs_dir)
            replaced = None
            with contextlib.suppress(IndexNotReadyError):
                replaced = live_build(spec.index_dir)
        except BaseException:
            vectors.discard()
            raise
        build = _write_build(spec.index_dir, chunks, words, bm25, vectors, manifest)
        staging.discard()
        remove_other_builds(spec.index_dir, keep=build, replaced=replaced)

    index = Index(path=build, manifest=manifest, chunks=chunks, vectors=vectors, bm25=bm25, problems=problems)
    report = BuildReport(
        built=True,
        path=build,
        files=manifest["counts"]["files"],
        articles=len(docs),
        chunks=len(chunks),
        embedded=emb.embedded,
        reused=emb.reused,
        resumed=emb.resumed,
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
    """Load the live index if it is fresh and intact; otherwise rebuild it or
    say why not. `force` rebuilds without reading the old build at all."""
    t0 = time.perf_counter()
    check_index_dir(spec.index_dir, spec.docs_dir)
    if force:
        return build_index(
            spec, embedder, model=model, progress=progress, reasons=["rebuild requested"], resume=False
        )
    scan = spec.scan()
    previous: Index | None = None
    try:
        live = live_build(spec.index_dir)
        reasons = [f"no index in {spec.index_dir}"] if live is None else []
        if live is not None:
            previous = load_index(live)
            reasons = stale_reasons(previous.manifest, spec.state(scan, model))
    except IndexNotReadyError as e:
        reasons = [str(e)]
    if not reasons and previous is not None:
        previous.problems = [*scan.skipped, *previous.problems]
        counts = previous.manifest["counts"]
        return previous, BuildReport(
            built=False,
            path=previous.path,
            files=counts["files"],
            articles=counts["articles"],
            chunks=counts["chunks"],
            reused=counts["chunks"],
            seconds=round(time.perf_counter() - t0, 2),
            problems=previous.problems,
        )
    if not allow_build:
        raise IndexNotReadyError(
            "the index needs building (" + "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
            + "); run: rag index"
        )
    return build_index(spec, embedder, model=model, previous=previous, progress=progress, reasons=reasons)
