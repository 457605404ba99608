"""rag: offline question answering with verified citations over Chinese documents.

Data flows one way: seeds/ -> Document -> Chunk -> index (FAISS + BM25) -> Hit
-> Answer with Citations. `rag.pipeline.Pipeline` is the entry point.
"""

__version__ = "0.1.0"
