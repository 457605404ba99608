"""The core integration questions on each vector store (issue 13): FAISS
and Milvus Lite give the same answers with the same citations, over the
real model and the real seeds.

The store is a fixture parameter; the embedder is loaded once and shared.
The Milvus index starts from a copy of the FAISS index folder, so the
build reuses its vectors (same model) instead of embedding the seeds again;
everything else (collection, BM25) is built afresh."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import Settings
from rag.pipeline import Pipeline
from rag.types import Answer
from tests.test_integration import ANSWERABLE, UNANSWERABLE

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", params=["faiss", "milvus-lite"])
def store_pipeline(
    request: pytest.FixtureRequest, real_pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    if request.param == "faiss":
        yield real_pipeline
        return
    if not os.environ.get("CI"):
        pytest.importorskip("pymilvus", reason='the milvus extra is not installed (pip install -e ".[milvus]")')
    from rag.index.vectors.milvus import forget_clients

    tmp = tmp_path_factory.mktemp("milvus")
    shutil.copytree(real_pipeline.settings.index_dir, tmp / "index")
    s: Settings = real_pipeline.settings.with_(index_dir=tmp / "index", vector_store=f"milvus:{tmp}/m.db")
    p = Pipeline(s, embedder=real_pipeline.embedder)
    report = p.ensure_index()
    assert report.built and report.embedded == 0 and "vector store changed" in " ".join(report.reasons)
    yield p
    forget_clients()


def _key(a: Answer) -> tuple[bool, str, list[tuple[str, int, int]]]:
    return a.refused, a.text, [(c.source, c.start, c.end) for c in a.citations]


@pytest.mark.parametrize(("question", "expected", "source"), ANSWERABLE)
def test_same_answer_and_citation_on_each_store(
    store_pipeline: Pipeline, real_pipeline: Pipeline, question: str, expected: str, source: str
) -> None:
    a = store_pipeline.ask(question)
    assert not a.refused, a.text
    assert expected in a.text.replace(",", ""), a.text
    assert any(c.source == source for c in a.citations), [c.source for c in a.citations]
    assert _key(a) == _key(real_pipeline.ask(question))


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_refusals_on_each_store(store_pipeline: Pipeline, question: str) -> None:
    assert store_pipeline.ask(question).refused
