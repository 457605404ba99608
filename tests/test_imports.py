"""Importing the package and building its cheap objects loads no heavy library.

Constructors are cheap and heavy imports lazy (house rule 4): `import rag`,
`Settings.load()` and the CLI's `--help` must not pull torch, faiss,
sentence-transformers, jieba or llama_cpp. Checked in a fresh interpreter,
because this test process has long imported all of them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["torch", "faiss", "sentence_transformers", "jieba", "llama_cpp", "langchain_core", "gradio"]

PROBE = """
import json, sys
import rag
from rag import Settings, RagError, Answer
Settings.load()
from rag.cli import cli
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


@pytest.mark.unit
def test_import_rag_and_the_cli_load_no_heavy_library() -> None:
    code = PROBE.format(heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
