"""The index: chunks, their vectors and BM25 statistics, on disk and loaded.

    build      IndexSpec, ensure_index / build_index / load_index, Index, BuildReport
    manifest   fingerprint of the inputs; what changed since the last build
    layout     build folders, the CURRENT pointer, the builders' lock
    vectors/   the VectorIndex protocol; faiss (default) and numpy stores
    bm25       Okapi BM25 over pre-tokenised chunks
    lexicon    jieba words with the domain dictionary; the English glossary

Owns everything between `Chunk`s and a loaded `Index`. Leaves out reading
documents (rag/ingest) and ranking for a question (rag/retrieve).
"""

from rag.index.build import BuildReport, Index, IndexSpec, ProgressFn, ensure_index, load_index

__all__ = ["BuildReport", "Index", "IndexSpec", "ProgressFn", "ensure_index", "load_index"]
