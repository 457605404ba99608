"""The plain LangChain RAG everyone starts from, as a reference point.

RecursiveCharacterTextSplitter (1000/200) over the raw files (no cleaning:
hard line breaks and doubled bold runs stay), the pipeline's embedder, an
exact vector store, top k by cosine. Its Hits carry the file name as
source, article 0 and the splitter's offsets (raw file = original file, so
both spans are the same).

Left out: BM25 and everything else the product adds; that is the point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import InputError
from rag.index.vectors import FaissVectors, VectorIndex
from rag.ingest import list_sources, read_source
from rag.types import Chunk, Hit


class LangChainBaseline:
    def __init__(
        self, embedder: Embeddings, docs_dir: Path, chunk_size: int = 1000, chunk_overlap: int = 200
    ) -> None:
        self.embedder = embedder
        self.docs_dir = docs_dir
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.chunks: list[Chunk] = []
        self._store: VectorIndex | None = None

    def build(self) -> LangChainBaseline:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=self.chunk_size, chunk_overlap=self.chunk_overlap, add_start_index=True
        )
        chunks: list[Chunk] = []
        for path in list_sources(self.docs_dir):
            text, _reason = read_source(path)
            if text is None:
                continue
            name = path.relative_to(self.docs_dir).as_posix()
            for d in splitter.create_documents([text]):
                start = int(d.metadata["start_index"])
                end = start + len(d.page_content)
                chunks.append(
                    Chunk(
                        id=Chunk.make_id(name, 0, d.page_content),
                        source=name, article=0, title=name, date=None,
                        start=start, end=end, text=d.page_content,
                        orig_start=start, orig_end=end,
                    )
                )
        if not chunks:
            raise InputError(f"no readable documents in {self.docs_dir} for the baseline")
        vectors = np.asarray(self.embedder.embed_documents([c.text for c in chunks]), dtype=np.float32)
        self.chunks, self._store = chunks, FaissVectors.from_vectors(vectors)
        return self

    def search(self, question: str, k: int) -> list[Hit]:
        if self._store is None:
            self.build()
        assert self._store is not None
        q = np.asarray([self.embedder.embed_query(question)], dtype=np.float32)
        return [
            Hit(chunk=self.chunks[i], rank=r, score=round(s, 6), dense_rank=r, dense_score=round(s, 6))
            for r, (i, s) in enumerate(self._store.search(q, k), start=1)
        ]
