"""`chunks.jsonl` as a sequence of `Chunk`s read on demand.

A build's chunks are one JSON object per line (rag/index/build.py); line i
is vector row i and BM25 document i. Parsing every line when an index is
loaded was most of the start-up of a large index (10^5 chunks: ~1 s of
`json.loads` and ~100 MB of Chunk objects, docs/measurements.md "Growth"),
although a question only ever reads the few rows retrieval returns. So the
file is memory-mapped, the line boundaries are found once with numpy (one
pass over the bytes, no Python loop), and a row is parsed when it is asked
for, with a small cache for the rows asked again.

    table = ChunkTable.open(build / "chunks.jsonl")
    len(table)          # rows, from the line boundaries
    table[i]            # one Chunk, parsed now (or from the cache)
    list(table)         # every Chunk (a rebuild reusing vectors does this)

The map is read-only; a build folder is never changed after it is written
(a new build is a new folder), and a folder removed while a server still
maps it stays readable until the map is dropped (POSIX keeps the inode).
The file's integrity is checked by its SHA-256 when the index is loaded
(rag/index/integrity.py), so a row that fails to parse here is a bug, not
corruption: it raises ValueError naming the row.

Left out: writing (build.py writes the lines), random access by chunk id.
"""

from __future__ import annotations

import functools
import json
import mmap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from rag.types import Chunk

# Rows kept parsed: a question touches ~30 rows; a page of answers a few hundred.
_CACHE_ROWS = 4096
_BLOCK = 16 * 2**20


class ChunkTable(Sequence[Chunk]):
    """The rows of a chunks.jsonl file; see the module docstring."""

    def __init__(self, data: bytes | mmap.mmap, starts: np.ndarray, ends: np.ndarray) -> None:
        self._data = data
        self._starts = starts
        self._ends = ends
        # Per table, and thread-safe: `rag serve` answers questions concurrently.
        self._row = functools.lru_cache(maxsize=_CACHE_ROWS)(self._parse)

    @classmethod
    def open(cls, path: Path) -> ChunkTable:
        """Map `path` and find its non-blank lines; OSError if it cannot be read."""
        with path.open("rb") as f:
            size = f.seek(0, 2)
            data: bytes | mmap.mmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        return cls.from_bytes(data)

    @classmethod
    def from_bytes(cls, data: bytes | mmap.mmap) -> ChunkTable:
        """A table over JSON lines in memory or mapped (see `open`)."""
        if not len(data):
            return cls(data, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        raw = np.frombuffer(data, dtype=np.uint8)
        # In blocks, so the scan's temporary is 16 MB, not the file's size.
        newlines = np.concatenate([np.flatnonzero(raw[a:a + _BLOCK] == ord("\n")) + a
                                   for a in range(0, len(raw), _BLOCK)])
        starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
        ends = np.concatenate((newlines, [len(raw)])).astype(np.int64)
        # Blank lines (the last one after the final newline, or "\n\n")
        # hold no row; whitespace-only lines are treated as blank too.
        nonblank = ends > starts
        first = raw[np.minimum(starts, len(raw) - 1)]
        keep = nonblank & (first == ord("{"))
        for i in np.flatnonzero(nonblank & ~keep):  # rare: only lines not starting with "{"
            keep[i] = bool(bytes(raw[starts[i]:ends[i]]).strip())
        del raw, first
        if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            # The scan paged the whole file into this process; a server only
            # reads the rows it retrieves. Drop the pages from its resident
            # set (they stay in the page cache; rows read later come back).
            data.madvise(mmap.MADV_DONTNEED)
        return cls(data, starts[keep], ends[keep])

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...
    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"chunk row {i} out of range ({n} rows)")
        return self._row(i)

    def _parse(self, i: int) -> Chunk:
        line = self._data[int(self._starts[i]):int(self._ends[i])]
        try:
            return Chunk.from_dict(json.loads(line))
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"chunk row {i} is malformed ({str(e)[:120]})") from e

    def __iter__(self) -> Iterator[Chunk]:
        # Straight through, without filling the cache with every row.
        return (self._parse(i) for i in range(len(self)))
