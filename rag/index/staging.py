"""Embeddings of an unfinished build, kept batch by batch so that an
interrupted build (killed, out of power, Ctrl-C) resumes where it stopped.

    index/.staging/
      staging.json    {"model": model id, "dim": d}: whose vectors these are
      vectors.f32     raw little-endian float32 rows, appended one batch at a time
      batches.jsonl   one line per committed batch: first row, row count,
                      the SHA-256 of each embedded text, the SHA-256 of the rows' bytes

    staged = Staging.open(index_dir, model)       # what earlier attempts finished
    staged.vectors                                # {text key: vector}
    staged.append(keys, matrix)                   # after each embedded batch
    staged.discard()                              # once the build is live

A batch is committed in two appends: its rows (fsync), then its line
(fsync). A batch counts only if its line is whole and the rows' bytes
match its hash, so a kill at any moment loses at most the batch in flight;
opening truncates whatever follows the last good batch. No pickle: raw
float32 and JSON. Vectors of another model are discarded on open.

Left out: sharing staged vectors between index folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

STAGING = ".staging"
_META, _ROWS, _BATCHES = "staging.json", "vectors.f32", "batches.jsonl"


class Staging:
    def __init__(self, folder: Path, model: str) -> None:
        self.folder = folder
        self.model = model
        self.dim: int | None = None
        self.vectors: dict[str, np.ndarray] = {}
        self.rows = 0

    @classmethod
    def open(cls, index_dir: Path, model: str) -> Staging:
        """The staged vectors of `model` in index_dir (none if another model's)."""
        st = cls(index_dir / STAGING, model)
        try:
            meta = json.loads((st.folder / _META).read_text(encoding="utf-8"))
            ok = isinstance(meta, dict) and meta.get("model") == model and isinstance(meta.get("dim"), int)
        except (OSError, ValueError):
            ok = False
        if not ok:
            st.discard()
            return st
        st.dim = int(meta["dim"])
        st._load()
        return st

    def _load(self) -> None:
        assert self.dim is not None
        try:
            raw = (self.folder / _ROWS).read_bytes()
            lines = (self.folder / _BATCHES).read_bytes().split(b"\n")
        except OSError:
            self.discard()
            return
        row_bytes = 4 * self.dim
        good_lines: list[bytes] = []
        for line in lines[:-1]:  # the last piece has no newline: torn or empty
            batch = _parse(line)
            if batch is None:
                break
            first, keys, digest = batch
            blob = raw[first * row_bytes : (first + len(keys)) * row_bytes]
            if first != self.rows or len(blob) != len(keys) * row_bytes or hashlib.sha256(blob).hexdigest() != digest:
                break
            matrix = np.frombuffer(blob, dtype="<f4").reshape(len(keys), self.dim)
            self.vectors.update(zip(keys, matrix, strict=True))
            self.rows += len(keys)
            good_lines.append(line)
        # Drop a torn tail, so the next append continues from a good state.
        _truncate(self.folder / _ROWS, self.rows * row_bytes)
        _truncate(self.folder / _BATCHES, sum(len(x) + 1 for x in good_lines))

    def append(self, keys: Sequence[str], matrix: np.ndarray) -> None:
        """Commit one embedded batch (rows first, then the line that makes them count)."""
        m = np.ascontiguousarray(matrix, dtype="<f4")
        if self.dim is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.dim = int(m.shape[1])
            tmp = self.folder / (_META + ".tmp")
            tmp.write_text(json.dumps({"model": self.model, "dim": self.dim}), encoding="utf-8")
            os.replace(tmp, self.folder / _META)
            for name in (_ROWS, _BATCHES):
                (self.folder / name).write_bytes(b"")
        blob = m.tobytes()
        line = json.dumps({"row": self.rows, "keys": list(keys), "sha256": hashlib.sha256(blob).hexdigest()})
        _append(self.folder / _ROWS, blob)
        _append(self.folder / _BATCHES, line.encode() + b"\n")
        self.vectors.update(zip(keys, m, strict=True))
        self.rows += len(keys)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.dim, self.vectors, self.rows = None, {}, 0


def _parse(line: bytes) -> tuple[int, list[str], str] | None:
    try:
        d = json.loads(line)
        first, keys, digest = d["row"], d["keys"], d["sha256"]
    except (ValueError, TypeError, KeyError):
        return None
    if not (isinstance(first, int) and isinstance(digest, str) and isinstance(keys, list) and keys):
        return None
    if not all(isinstance(k, str) for k in keys):
        return None
    return first, keys, digest


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _truncate(path: Path, size: int) -> None:
    with contextlib.suppress(OSError), path.open("r+b") as f:
        f.truncate(size)
