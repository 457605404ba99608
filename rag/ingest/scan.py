"""Which files of a documents folder are documents, and why the others are not.

    scan = scan_documents(Path("docs"), max_file_bytes=50 << 20)
    scan.sources     # Source(path, name, size, mtime_ns, inode) per file to read
    scan.skipped     # Problem(name, reason) per file left out, for every surface

Nothing is left out silently, except hidden files (`.git/`, `.DS_Store`)
and `metadata.toml`. A file is skipped, with the reason, when no reader
knows its suffix (the readers in rag/ingest/readers decide, so a new
reader makes its format supported here), when it is over the size limit,
or when it is a symbolic link leading outside the documents folder (unless
`follow_links`). Only `stat` is used: scanning is cheap enough to run
before every answer (the freshness check in rag/pipeline.py).

Left out: reading the files (rag/ingest/corpus.py).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.ingest.metadata import METADATA_FILE
from rag.ingest.readers import SUFFIXES, reader_for


@dataclass(frozen=True)
class Problem:
    """A file that could not be indexed, and why (a phrase: "is not UTF-8 (byte 3)")."""

    source: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The one line every surface prints."""
        return f"skipped {self.source}: {self.reason}"


@dataclass(frozen=True)
class Source:
    """A file to read, with the `stat` fields the freshness check compares."""

    path: Path
    name: str  # relative to the documents folder, POSIX separators
    size: int
    mtime_ns: int
    inode: int

    @property
    def stamp(self) -> tuple[int, int, int]:
        return (self.size, self.mtime_ns, self.inode)


@dataclass(frozen=True)
class Scan:
    sources: tuple[Source, ...]
    skipped: tuple[Problem, ...]


def scan_documents(docs_dir: Path, *, max_file_bytes: int | None = None, follow_links: bool = False) -> Scan:
    """Walk docs_dir (sorted); sort each file into a source or a skipped file."""
    if not docs_dir.is_dir():
        raise InputError(f"documents folder {docs_dir} does not exist")
    root = docs_dir.resolve()
    sources: list[Source] = []
    skipped: list[Problem] = []
    seen_dirs: set[Path] = {root}
    for dirpath, dirnames, filenames in os.walk(docs_dir, followlinks=follow_links):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            p = here / d
            if d.startswith("."):
                continue
            if p.is_symlink():
                real = p.resolve()
                if not _inside(real, root) and not follow_links:
                    skipped.append(Problem(_rel(p, docs_dir) + "/", _outside_reason("folder", real)))
                    continue
                if real in seen_dirs or _inside(real, root):
                    continue  # inside: indexed where it really is; seen: a loop
                seen_dirs.add(real)
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            if f.startswith(".") or (here == docs_dir and f == METADATA_FILE):
                continue
            p = here / f
            name = _rel(p, docs_dir)
            problem, source = _classify(p, name, root, max_file_bytes, follow_links)
            if problem is not None:
                skipped.append(problem)
            elif source is not None:
                sources.append(source)
    return Scan(tuple(sources), tuple(skipped))


def _classify(
    p: Path, name: str, root: Path, max_file_bytes: int | None, follow_links: bool
) -> tuple[Problem | None, Source | None]:
    if p.is_symlink():
        real = p.resolve()
        if not real.exists():
            return Problem(name, "is a broken symbolic link"), None
        if not _inside(real, root) and not follow_links:
            return Problem(name, _outside_reason("file", real)), None
    try:
        st = p.stat()
    except OSError as e:
        return Problem(name, f"cannot be read: {e.strerror or e}"), None
    if not p.is_file():
        return None, None  # a socket, a fifo: not a document, not worth a line
    if reader_for(p) is None:
        kind = f"{p.suffix.lower()} files" if p.suffix else "files without a suffix"
        return Problem(name, f"is not a supported type (no reader for {kind}; supported: {', '.join(SUFFIXES)})"), None
    if max_file_bytes is not None and st.st_size > max_file_bytes:
        return Problem(
            name, f"is {st.st_size / 2**20:.1f} MB, over the {max_file_bytes / 2**20:g} MB limit (RAG_MAX_FILE_MB)"
        ), None
    return None, Source(p, name, st.st_size, st.st_mtime_ns, st.st_ino)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _rel(p: Path, docs_dir: Path) -> str:
    return p.relative_to(docs_dir).as_posix()


def _outside_reason(kind: str, target: Path) -> str:
    return (
        f"is a symbolic link to a {kind} outside the documents folder ({target}); "
        "not followed (RAG_FOLLOW_LINKS=1 allows it)"
    )
