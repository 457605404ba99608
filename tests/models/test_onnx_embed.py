"""RAG_EMBED_BACKEND=onnx: the same model exported with torch.onnx and run by
onnxruntime gives the torch backend's vectors (cosine >= 0.99), and an index
built with it says so in its manifest.

The export (about 30-60 s) happens once per machine, into the model cache
beside the torch folder (RAG_CACHE_DIR), like the torch conversion.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.pipeline import Pipeline

pytestmark = pytest.mark.integration
pytest.importorskip("onnxruntime")

TEXTS = [
    "2022年平湖实际外资（部口径）达到41414万美元。",
    "How much actual FDI was there in 2022?",
    "平湖有多少家日资企业？",
    "经过近40年发展，集聚了日本电产、津上精密等制造业龙头企业，共有日资企业114家，投资总额31亿美元。" * 8,
    "x",
]


@pytest.fixture(scope="module")
def onnx_embedder(real_settings: Settings):  # type: ignore[no-untyped-def]
    from rag.models.onnx_embed import OnnxEmbedder
    from rag.models.onnx_export import is_current, onnx_dir, source_fingerprint

    e = OnnxEmbedder(real_settings.with_(embed_backend="onnx"))
    from rag.models.embed import resolve_model_path

    torch_dir = resolve_model_path(real_settings)
    assert isinstance(torch_dir, Path)
    if not is_current(onnx_dir(torch_dir), source_fingerprint(torch_dir)):
        pytest.importorskip("onnx")  # needed to export, not to run
    return e


def test_onnx_vectors_match_torch(onnx_embedder, real_pipeline: Pipeline) -> None:  # type: ignore[no-untyped-def]
    torch_e = real_pipeline.embedder
    passages = [c.text for c in real_pipeline.index.chunks[:12]] + TEXTS
    a = np.array(torch_e.embed_documents(passages))
    b = np.array(onnx_embedder.embed_documents(passages))
    assert a.shape == b.shape
    assert (a * b).sum(axis=1).min() >= 0.99
    for q in TEXTS:
        assert float(np.dot(torch_e.embed_query(q), onnx_embedder.embed_query(q))) >= 0.99
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
    assert onnx_embedder.embed_documents([]) == []


def test_the_export_is_a_finished_folder_beside_the_torch_one(onnx_embedder, real_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from rag.models.embed import resolve_model_path
    from rag.models.onnx_export import MANIFEST, onnx_dir

    onnx_embedder.embed_query("warm")
    torch_dir = resolve_model_path(real_settings)
    assert isinstance(torch_dir, Path)
    folder = onnx_dir(torch_dir)
    assert folder.parent == torch_dir.parent
    assert (folder / "model.onnx").is_file() and (folder / MANIFEST).is_file()
    assert not list(folder.parent.glob(f".{folder.name}.tmp-*"))  # no half-written leftovers


def test_an_index_built_with_onnx_records_the_backend(onnx_embedder, real_settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("2022年平湖实际外资（部口径）达到41414万美元，同比增长10%。\n", encoding="utf-8")
    s = real_settings.with_(embed_backend="onnx", docs_dir=docs, index_dir=tmp_path / "index")
    p = Pipeline(s, embedder=onnx_embedder)
    report = p.ensure_index()
    manifest = json.loads((report.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embed_model"].endswith("@onnx")
    assert "41414" in p.ask("2022年平湖实际外资是多少？").text


def test_bad_backend_is_a_config_error() -> None:
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="RAG_EMBED_BACKEND"):
        Settings.load(env={"RAG_EMBED_BACKEND": "tpu"})
