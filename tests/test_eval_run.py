"""End to end: the real set through the real pipeline (converted
multilingual-e5-small, real FAISS + BM25 index over the seeds).

The floors are the measured scores of the default configuration (hybrid,
extractive, k=5) minus a margin, so the test catches regressions without
freezing today's numbers; see evals/README.md for the measurements. Raise
them when the system improves.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT
from rag.evalset import load_qa
from rag.evaluate import EvalConfig, compare_configs, run_eval
from rag.pipeline import Pipeline

pytestmark = pytest.mark.integration

QA_FILE = PROJECT_ROOT / "evals" / "qa.jsonl"

# Measured 2026-11-23 (165 items, hybrid + extractive, k=5, `rag eval
# --compare`): accuracy 0.661, hit@5 0.875, MRR 0.766, citation precision
# 0.728. Floors: measured - ~0.05.
FLOORS = {
    "accuracy": 0.61,
    "hit@5": 0.82,
    "mrr": 0.71,
    "citation_precision": 0.68,
}


def test_default_configuration_over_the_whole_set(real_pipeline: Pipeline, tmp_path: Path) -> None:
    items = load_qa(QA_FILE)
    out = tmp_path / "eval-out"
    run = run_eval(real_pipeline, items, [EvalConfig("hybrid", "hybrid")], k=5, out_dir=out,
                   qa_file=str(QA_FILE))

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [i.id for i in items]
    for r in rows:
        assert r["error"] is None, r
        assert isinstance(r["answer"], str) and r["answer"]
        assert 1 <= len(r["hits"]) <= 5
        assert [h["rank"] for h in r["hits"]] == list(range(1, len(r["hits"]) + 1))
        for h in r["hits"]:
            assert set(h) == {"rank", "source", "chunk_id", "score", "text"}
            assert (PROJECT_ROOT / "seeds" / h["source"]).exists()
        for c in r["citations"]:
            assert set(c) == {"n", "source", "start", "end", "quote"} and c["end"] > c["start"]
        if r["refused"]:
            assert r["citations"] == []

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    cfg = report["configs"][0]
    assert report["items"] == len(items) and cfg["name"] == "hybrid"
    assert set(cfg["by_lang"]) == {"zh", "en"}
    assert len(cfg["by_type"]) == 9
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## hybrid: failed items" in md
    assert (out / "accuracy_by_type.png").stat().st_size > 5_000

    overall = run.summaries["hybrid"]["overall"]
    for key, floor in FLOORS.items():
        assert overall[key] >= floor, f"{key} {overall[key]} fell below {floor}"


def test_compare_with_the_langchain_baseline_on_a_sample(real_pipeline: Pipeline, tmp_path: Path) -> None:
    items = load_qa(QA_FILE)[::8]  # every 8th question: all five rows, quickly
    out = tmp_path / "cmp"
    run = run_eval(real_pipeline, items, compare_configs("hybrid", "extractive"), k=5, out_dir=out)
    names = ["hybrid", "hybrid-rrf", "dense", "bm25", "langchain-baseline"]
    assert [c.name for c in run.configs] == names
    for name in names:
        assert len(run.results[name]) == len(items)
        assert (out / f"results-{name}.jsonl").exists()
    base = run.results["langchain-baseline"]
    assert all(len(r.hits) == 5 for r in base)
    assert all(len(h["text"]) <= 1000 for r in base for h in r.hits)
    md = (out / "report.md").read_text(encoding="utf-8")
    for name in names:
        assert f"| {name} |" in md
