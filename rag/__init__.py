"""rag: offline question answering with verified citations over Chinese documents.

Data flows one way:

    files -> ingest (readers, clean, chunk) -> Chunk -> index (vectors + BM25)
          -> retrieve (hybrid, fusion, rerank) -> Hit -> answer -> Draft -> Answer

    from rag import Pipeline, Settings
    answer = Pipeline(Settings.load()).ask("2022年平湖实际外资是多少？")

The public names below are imported lazily, so `import rag` is cheap (no
torch, faiss or langchain until they are used).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Pipeline": "rag.pipeline",
    "Settings": "rag.config",
    "Answer": "rag.types",
    "AnswerStream": "rag.types",
    "RagError": "rag.errors",
}

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.errors import RagError
    from rag.pipeline import Pipeline
    from rag.types import Answer, AnswerStream


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")


__all__ = ["Answer", "AnswerStream", "Pipeline", "RagError", "Settings", "__version__"]
