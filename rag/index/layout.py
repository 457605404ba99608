"""The index folder on disk: build folders, the `CURRENT` pointer, the lock,
and the rule that housekeeping touches only what the product made.

    index/CURRENT               name of the live build, replaced atomically
    index/<build>/.rag-build    marker: written first into every build folder
    index/<build>/manifest.json written last: the build is complete
    index/.staging/             embeddings of an unfinished build (rag/index/staging.py)
    index/.build.lock           serialises builders (flock)

A build is written into a fresh folder; only when it is complete is
`CURRENT` replaced (write a temp file, fsync, os.replace, fsync the
folder). A crash at any moment leaves the previous build live.

Housekeeping never goes by names: a folder is removed only if it holds the
marker this module writes (or `CURRENT` named it, for builds made before
the marker existed). A user's `build-scripts/` beside the index survives.
The index folder may not be the documents folder or inside it
(`check_index_dir`), so a build can never write among the documents.

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

from rag.errors import ConfigError, IndexNotReadyError

CURRENT = "CURRENT"
LOCK = ".build.lock"
MANIFEST = "manifest.json"
MARKER = ".rag-build"
# The marker's exact content: a stray file of the same name is not enough.
MARKER_TEXT = "rag-zh index build folder: removed by `rag index` when replaced\n"
_MAX_CURRENT_BYTES = 256


def check_index_dir(index_dir: Path, docs_dir: Path) -> None:
    """Refuse an index folder that is a file, the documents folder, or inside it."""
    if index_dir.exists() and not index_dir.is_dir():
        raise ConfigError(
            f"the index folder {index_dir} is a file; point --index-dir (RAG_INDEX_DIR) at a folder"
        )
    idx, docs = index_dir.resolve(), docs_dir.resolve()
    if idx == docs or docs in idx.parents:
        raise ConfigError(
            f"the index folder {index_dir} is inside the documents folder {docs_dir}; "
            "choose another --index-dir (RAG_INDEX_DIR)"
        )


def new_build_dir(index_dir: Path) -> Path:
    """A fresh, marked build folder."""
    path = index_dir / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    path.mkdir(parents=True)
    _write_durably(path / MARKER, MARKER_TEXT)
    return path


def is_build(path: Path) -> bool:
    """Did the product make this folder? (It holds the marker, exactly.)"""
    marker = path / MARKER
    try:
        return path.is_dir() and not path.is_symlink() and marker.read_text(encoding="utf-8") == MARKER_TEXT
    except (OSError, UnicodeDecodeError):
        return False


def read_current(index_dir: Path) -> str | None:
    """The build name `CURRENT` holds; None when there is no `CURRENT`.

    Raises IndexNotReadyError, naming the problem, when it is malformed.
    """
    cur = index_dir / CURRENT
    try:
        raw = cur.read_bytes()[: _MAX_CURRENT_BYTES + 1]
    except FileNotFoundError:
        return None
    except OSError as e:
        raise IndexNotReadyError(f"{cur} cannot be read ({e.strerror or e})") from e
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise IndexNotReadyError(f"{cur} is malformed (not UTF-8)") from None
    if not name or len(raw) > _MAX_CURRENT_BYTES or "/" in name or "\\" in name or name in (".", ".."):
        raise IndexNotReadyError(f"{cur} is malformed (it must hold the name of a build folder)")
    return name


def live_build(index_dir: Path) -> Path | None:
    """The folder `CURRENT` names, if it holds a manifest; else None.

    Raises IndexNotReadyError when `CURRENT` is malformed or names a
    folder without a manifest.
    """
    name = read_current(index_dir)
    if name is None:
        return None
    path = index_dir / name
    if not (path / MANIFEST).is_file():
        raise IndexNotReadyError(f"{index_dir / CURRENT} names {name}, which holds no complete build")
    return path


def switch(index_dir: Path, build: Path) -> None:
    """Make `build` the live build, atomically and durably."""
    cur = index_dir / CURRENT
    if cur.is_dir() and not cur.is_symlink():
        raise ConfigError(f"{cur} is a folder the index did not make; move it away and run: rag index")
    tmp = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    _write_durably(tmp, build.name + "\n")
    os.replace(tmp, cur)
    _fsync_dir(index_dir)


def remove_other_builds(index_dir: Path, keep: Path, replaced: Path | None = None) -> list[Path]:
    """Remove the product's build folders other than `keep`; return them.

    A folder goes only if it holds the marker (complete builds and ones a
    crash left half-written), or it is `replaced`, the folder `CURRENT`
    named before (builds made before markers existed). Call under
    `build_lock`, so no other builder's folder is in progress.
    """
    removed = []
    for p in sorted(index_dir.iterdir()):
        if p == keep or p.is_symlink() or not p.is_dir():
            continue
        if is_build(p) or (replaced is not None and p == replaced and (p / MANIFEST).is_file()):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        f = (index_dir / LOCK).open("w")
    except OSError as e:
        raise ConfigError(f"cannot create the index folder {index_dir}: {e.strerror or e}") from e
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_durably(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # make a rename durable where supported
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
