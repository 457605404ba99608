"""The index folder on disk: build folders, the `CURRENT` pointer, the lock.

    index/CURRENT                 name of the live build, replaced atomically
    index/build-<time>-<pid>-<n>/ one complete build (manifest.json last)
    index/.build.lock             serialises builders (flock)

A build is written into a fresh folder; only when it is complete is
`CURRENT` replaced (write a temp file, fsync, os.replace, fsync the
folder). A crash at any moment leaves the previous build live.

Left out: what is inside a build folder (rag/index/build.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

CURRENT = "CURRENT"
LOCK = ".build.lock"
MANIFEST = "manifest.json"


def new_build_dir(index_dir: Path) -> Path:
    path = index_dir / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    path.mkdir(parents=True)
    return path


def live_build(index_dir: Path) -> Path | None:
    """The folder `CURRENT` names, if it holds a manifest."""
    cur = index_dir / CURRENT
    if not cur.exists():
        return None
    name = cur.read_text(encoding="utf-8").strip()
    path = index_dir / name
    if not name or "/" in name or not (path / MANIFEST).exists():
        return None
    return path


def switch(index_dir: Path, build: Path) -> None:
    """Make `build` the live build, atomically and durably."""
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


def remove_other_builds(index_dir: Path, keep: Path) -> None:
    for p in index_dir.glob("build-*"):
        if p.is_dir() and p != keep:
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK).open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
