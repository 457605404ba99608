"""Documents in: files -> text with provenance -> cleaned articles -> chunks.

    readers/   one module per file format behind the `Reader` protocol
    metadata   titles, dates and article boundaries from metadata.toml
    clean      OCR repair with a map back to every original character
    scan       a folder -> the files to read, and the ones skipped with the reason
    corpus     a folder -> `Document`s, and the files it could not read
    chunk      `Document`s -> sentence-aligned `Chunk`s with offsets

Owns everything from a path to a `Chunk`. Leaves out embedding, indexing
and anything about questions (rag/index, rag/retrieve).
"""

from rag.ingest.chunk import chunk_document, chunk_documents
from rag.ingest.corpus import Problem, documents_from_text, list_sources, load_corpus, read_source
from rag.ingest.metadata import METADATA_FILE
from rag.ingest.scan import Scan, Source, scan_documents

__all__ = [
    "METADATA_FILE",
    "Problem",
    "Scan",
    "Source",
    "scan_documents",
    "chunk_document",
    "chunk_documents",
    "documents_from_text",
    "list_sources",
    "load_corpus",
    "read_source",
]
