"""Files inside a collection's folder: safe names, atomic stores, membership.

    name = safe_name("C:\\\\报告\\\\2022 年报.pdf")        # "2022 年报.pdf"
    store_file(src, docs_dir, name, link=False)        # temp name, then rename
    path = member(docs_dir, "2022 年报.pdf")            # InputError if outside

Every write goes to a hidden temp file in the destination folder (hidden
files are never indexed) and is renamed into place, so a crash never
leaves half a document that is later indexed. Nothing is written outside
the collection's folder: a name is reduced to its last path component, and
`member` refuses any path that resolves outside the folder.

Left out: preserving timestamps or permissions of the originals.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import unicodedata
from pathlib import Path

from rag.errors import InputError

MAX_NAME_BYTES = 200  # well under the 255-byte limit of common file systems
_BAD = set('<>:"|?*') | {chr(c) for c in range(32)} | {"\x7f"}


def safe_name(name: str) -> str:
    """A file name safe to create in a folder: the last path component (either
    separator), NFC, no control or reserved characters, no leading dots or
    spaces, at most MAX_NAME_BYTES bytes with the suffix kept. Spaces and
    Chinese characters stay. InputError when nothing usable is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join("_" if ch in _BAD else ch for ch in base).strip().lstrip(".").strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = ("." + suffix) if dot else ""
    while len((stem + suffix).encode()) > MAX_NAME_BYTES and stem:
        stem = stem[:-1]
    out = (stem.strip() + suffix) if stem.strip() else ""
    if not out or out.startswith("."):
        raise InputError(f"{name!r} is not a usable file name")
    return out


def member(docs_dir: Path, name: str) -> Path:
    """The path of document `name` in docs_dir; InputError if it is outside."""
    root = docs_dir.resolve()
    path = (docs_dir / name).resolve()
    if path == root or root not in path.parents:
        raise InputError(f"{name} is outside the collection's folder {docs_dir}")
    return path


def store_file(src: Path, docs_dir: Path, name: str, *, link: bool = False) -> str | None:
    """Copy (or hard-link) src to docs_dir/name atomically. Returns a note
    when a link was asked for but a copy was made (another file system)."""
    dest = member(docs_dir, name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".upload-", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    note = None
    try:
        if link:
            tmp.unlink()
            try:
                os.link(src, tmp)
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                shutil.copyfile(src, tmp)
                note = "copied, not linked: the file is on another file system"
        else:
            shutil.copyfile(src, tmp)
        if not link or note:  # a copy: mkstemp made it 0600; a hard link keeps the original's mode
            os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return note


def remove_empty_parents(path: Path, root: Path) -> None:
    """Remove the now-empty folders between path and root (sync of subfolders)."""
    parent = path.parent
    while parent != root and root in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent
