"""Is a build folder what its build wrote? The manifest's shape, and a
SHA-256 of every index file.

    files = fingerprint(build, ["chunks.jsonl", "vectors.faiss", ...])   # at build time
    manifest = read_manifest(build)        # a dict of the expected shape, or IndexNotReadyError
    verify_files(build, manifest)          # sizes, then hashes; IndexNotReadyError names the file

A flipped digit in `chunks.jsonl` (114 -> 914) or zeroed vectors would
otherwise be served as if nothing happened, with a "checked" citation. A
manifest of `[]` or nulls, or one that cannot be parsed, is "no usable
index", never an AttributeError. The cost is one read of each file at load
(measured in bench/bench_integrity.py, docs/measurements.md).

Left out: protection against someone who rewrites the hashes too (this is
a check for accidents and bit rot, not a signature).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rag.errors import IndexNotReadyError
from rag.index.layout import MANIFEST

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def _paths(folder: Path, name: str) -> list[tuple[str, Path]]:
    """A saved name is a file, or a folder (some stores save one): its files."""
    p = folder / name
    if p.is_dir():
        return [(q.relative_to(folder).as_posix(), q) for q in sorted(p.rglob("*")) if q.is_file()]
    return [(name, p)]


def fingerprint(folder: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{file name: {"sha256", "bytes"}} for the index files of a build."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        for rel, p in _paths(folder, name):
            out[rel] = {"sha256": file_sha256(p), "bytes": p.stat().st_size}
    return out


def verify_files(folder: Path, manifest: Mapping[str, Any]) -> None:
    """Every recorded file exists with its size and SHA-256 (sizes first: cheap)."""
    recorded: Mapping[str, Mapping[str, Any]] = manifest["index_files"]
    for name, rec in recorded.items():
        p = folder / name
        try:
            size = p.stat().st_size
        except OSError:
            raise IndexNotReadyError(f"index file {p} is missing") from None
        if size != rec["bytes"]:
            raise IndexNotReadyError(f"index file {p} has changed since it was built (size)")
    for name, rec in recorded.items():
        if file_sha256(folder / name) != rec["sha256"]:
            raise IndexNotReadyError(f"index file {folder / name} has changed since it was built (SHA-256)")


# The manifest's shape: key -> the types its value may have.
_TOP: dict[str, tuple[type, ...]] = {
    "format_version": (int,),
    "embed_model": (str,),
    "vector_store": (str,),
    "chunker": (dict,),
    "tokenizer": (str,),
    "metadata_sha256": (str, type(None)),
    "files": (dict,),
    "dim": (int,),
    "counts": (dict,),
    "index_files": (dict,),
}
_FILE: dict[str, tuple[type, ...]] = {
    "sha256": (str, type(None)),
    "articles": (int,),
    "chunks": (int,),
    "skipped": (str, type(None)),
}


def manifest_problem(obj: Any) -> str | None:
    """What is wrong with a parsed manifest, or None if it has the expected shape."""
    if not isinstance(obj, dict):
        return f"it holds a JSON {type(obj).__name__}, not an object"
    for key, types in _TOP.items():
        if not isinstance(obj.get(key), types) or isinstance(obj.get(key), bool):
            return f"{key} is missing or not a {types[0].__name__}"
    for name, f in obj["files"].items():
        if not isinstance(f, dict) or any(not isinstance(f.get(k), t) for k, t in _FILE.items()):
            return f"the entry for {name!r} is malformed"
    for name, f in obj["index_files"].items():
        if not (isinstance(f, dict) and isinstance(f.get("sha256"), str) and isinstance(f.get("bytes"), int)):
            return f"the checksum of {name!r} is malformed"
        if name.startswith("/") or ".." in Path(name).parts:
            return f"the index file name {name!r} is not inside the build"
    counts, chunker = obj["counts"], obj["chunker"]
    if any(not isinstance(counts.get(k), int) for k in ("files", "articles", "chunks")):
        return "counts are malformed"
    if any(not isinstance(chunker.get(k), int) for k in ("size", "overlap")):
        return "chunker settings are malformed"
    return None


def read_manifest(folder: Path, expected_version: int) -> dict[str, Any]:
    """The manifest of a build folder, checked for shape; else IndexNotReadyError."""
    path = folder / MANIFEST
    try:
        obj = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as e:
        raise IndexNotReadyError(f"{path} cannot be read ({e.strerror or e})") from e
    except (UnicodeDecodeError, ValueError) as e:
        raise IndexNotReadyError(f"{path} is malformed (not JSON: {str(e).splitlines()[0][:80]})") from e
    if isinstance(obj, dict) and obj.get("format_version") != expected_version:
        raise IndexNotReadyError(
            f"the index at {folder} has format {obj.get('format_version')!r}; this version reads {expected_version}"
        )
    problem = manifest_problem(obj)
    if problem:
        raise IndexNotReadyError(f"{path} is malformed ({problem})")
    assert isinstance(obj, dict)
    return obj
