"""Shared fixtures.

- `fake_pipeline`: the real index code over the seeds, with a deterministic
  FakeEmbedder (fast; unit tier).
- `real_pipeline`: the real converted multilingual-e5-small and a real
  FAISS index over the seeds, built once per session in a temp folder
  (integration tier). The converted model is cached in ~/.cache/rag/models
  (RAG_CACHE_DIR), so only the first session on a machine converts it.
- `real_url`: the chat page for `real_pipeline`, served on a free loopback
  port for the module that asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The default answerer is `auto` (the local model when installed, as in CI);
# tests choose the llm answerer explicitly where they mean it.
os.environ.setdefault("RAG_ANSWERER", "extractive")
# `rag ask` would answer through a `rag serve` running on this machine
# (issue 12); tests answer in-process unless they start their own server.
os.environ.setdefault("RAG_SERVER_URL", "off")

from rag.config import Settings  # noqa: E402
from rag.models.fake import FakeEmbedder  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture
def fake_settings(tmp_path: Path) -> Settings:
    return Settings.load(env={}, docs_dir=SEEDS, index_dir=tmp_path / "index", answerer="extractive")


@pytest.fixture
def fake_pipeline(fake_settings: Settings) -> Pipeline:
    p = Pipeline(fake_settings, embedder=FakeEmbedder())
    p.ensure_index()
    return p


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    env = {k: v for k, v in os.environ.items() if k == "RAG_CACHE_DIR"}
    return Settings.load(
        env=env, docs_dir=SEEDS, index_dir=tmp_path_factory.mktemp("real") / "index", answerer="extractive"
    )


@pytest.fixture(scope="session")
def real_pipeline(real_settings: Settings) -> Pipeline:
    p = Pipeline(real_settings)
    p.ensure_index()
    return p


@pytest.fixture(scope="module")
def real_url(real_pipeline: Pipeline) -> Iterator[str]:
    from ui.harness import running_app

    with running_app(real_pipeline) as url:
        yield url
