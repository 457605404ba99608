"""The index manifest: what an index was built from, and whether it still
matches.

`current_state` fingerprints the inputs (documents, metadata, embedding
model, chunker settings, BM25 dictionary, format version); a build records
it in `manifest.json`; `stale_reasons` compares the two and says, in words,
what changed. An empty list means the index is fresh.

Left out: the index files themselves (rag/index/layout.py, build.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag.index.lexicon import resources_digest
from rag.ingest import METADATA_FILE, Scan

# 3: build folders carry a marker; the manifest records index file hashes.
# 4: chunks carry `page`; offsets of PDF/Word/HTML point into the extracted text.
# 5: BM25 on bm25s (bm25/ folder of .npy + JSON) instead of bm25.json.
FORMAT_VERSION = 5


def file_digest(path: Path) -> str | None:
    """SHA-256 of a file's bytes; None when it cannot be read (the build
    reports why; a permission problem must not stop the whole index)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def current_state(
    docs_dir: Path, scan: Scan, *, model_id: str, chunk_size: int, chunk_overlap: int, store: str,
    limits: dict[str, Any] | None = None, known: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """What the manifest must match for the index to be fresh. `known`
    gives digests to trust instead of hashing (files whose stat did not
    change: the freshness check in rag/index/watch.py)."""
    known = known or {}
    files = {src.name: known[src.name] if src.name in known else file_digest(src.path) for src in scan.sources}
    meta = docs_dir / METADATA_FILE
    return {
        "format_version": FORMAT_VERSION,
        "embed_model": model_id,
        "vector_store": store,
        "chunker": {"size": chunk_size, "overlap": chunk_overlap},
        "limits": limits or {},
        "tokenizer": resources_digest(),
        "metadata_sha256": file_digest(meta) if meta.exists() else None,
        "files": files,
    }


def stale_reasons(manifest: dict[str, Any], state: dict[str, Any]) -> list[str]:
    """What differs between a manifest and the current state, in words."""
    reasons = []
    if manifest.get("format_version") != state["format_version"]:
        reasons.append(f"index format {manifest.get('format_version')} != {state['format_version']}")
    if manifest.get("embed_model") != state["embed_model"]:
        reasons.append(f"embedding model changed ({manifest.get('embed_model')} -> {state['embed_model']})")
    if manifest.get("vector_store") != state["vector_store"]:
        reasons.append(f"vector store changed ({manifest.get('vector_store')} -> {state['vector_store']})")
    if manifest.get("chunker") != state["chunker"]:
        reasons.append(f"chunker settings changed ({manifest.get('chunker')} -> {state['chunker']})")
    if manifest.get("limits", {}) != state["limits"]:
        reasons.append(f"limits changed ({manifest.get('limits')} -> {state['limits']})")
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
