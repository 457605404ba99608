"""The eval runner: with a stub pipeline (hand-made Answers and Hits, no
models; unit) and end to end, the real set through the real pipeline
(converted multilingual-e5-small, real FAISS + BM25 index; integration).

The floors are the measured scores of the default configuration (hybrid,
extractive, k=5) minus a margin, so the test catches regressions without
freezing today's numbers; see evals/README.md for the measurements. Raise
them when the system improves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rag.config import PROJECT_ROOT, Settings
from rag.errors import GenerationError, InputError
from rag.eval.baseline import LangChainBaseline
from rag.eval.qaset import QAItem, load_qa
from rag.eval.runner import EvalConfig, compare_configs, run_eval
from rag.models.fake import FakeEmbedder
from rag.pipeline import Pipeline
from rag.types import Answer, Hit, Lang
from tests.eval.test_metrics import EVIDENCE, answer, cite, hits, item


class StubAnswerer:
    """Quotes the first sentence of the top hit, or refuses without hits."""

    name = "extractive"

    def answer(self, question: str, hs: Sequence[Hit], lang: Lang) -> Answer:
        if not hs or "人口" in question:
            return answer("资料中未找到相关信息。", hs, refused=True, question=question)
        first = hs[0].chunk.text.split("。")[0] + "。"
        return answer(first + "[1]", hs, [cite(1, hs[0], first)], question=question)


class StubPipeline:
    """The runner's view of Pipeline, answering from a fixed list of passages."""

    def __init__(self, docs_dir: Path, passages: Sequence[str], fail_on: str = "") -> None:
        self.settings = Settings.load(env={}, docs_dir=docs_dir)
        self.embedder = FakeEmbedder()
        self.passages = list(passages)
        self.fail_on = fail_on
        self.asked: list[tuple[str, str | None, int | None]] = []

    def ensure_index(self) -> None:
        return None

    def answer_hits(self, question: str, hs: Sequence[Hit], *, answerer: str | None = None) -> Answer:
        return StubAnswerer().answer(question, hs, "zh")

    def ask(self, question: str, *, mode: str | None = None, k: int | None = None,
            answerer: str | None = None, fusion: str | None = None) -> Answer:
        self.asked.append((question, mode, k))
        if self.fail_on and self.fail_on in question:
            raise GenerationError("backend timed out")
        key = question[:2]
        ranked = sorted(self.passages, key=lambda p: key not in p)
        return StubAnswerer().answer(question, hits(*ranked[: k or 5]), "zh")


PASSAGES = [EVIDENCE + "。增资项目占比达36.9%。", "日资企业114家，投资总额31亿美元。", "其他内容。"]


def stub_items() -> list[QAItem]:
    return [
        item("a", question="2022年实际外资是多少？"),
        item("b", question="日资企业有多少家？", answers=("114家",), evidence=("日资企业114家，投资总额31亿美元",)),
        item("c", type="unanswerable", question="平湖人口是多少？"),
    ]


@pytest.mark.unit
def test_run_eval_writes_every_output(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    p = StubPipeline(docs, PASSAGES)
    out = tmp_path / "out"
    run = run_eval(p, stub_items(), [EvalConfig("hybrid", "hybrid")], k=2, out_dir=out, qa_file="qa.jsonl")
    assert {q[1:] for q in p.asked} == {("hybrid", 2)}
    assert run.accuracy() == 1.0

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    for r in rows:
        assert {"id", "question", "answer", "refused", "citations", "hits", "latency_ms"} <= set(r)
        assert isinstance(r["refused"], bool) and isinstance(r["latency_ms"], float)
        for c in r["citations"]:
            assert set(c) == {"n", "source", "start", "end", "quote"}
        for h in r["hits"]:
            assert set(h) == {"rank", "source", "chunk_id", "score", "text"}
    assert len(rows[0]["hits"]) == 2 and rows[2]["refused"] is True

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["primary"] == "hybrid" and report["items"] == 3 and report["k"] == 2
    cfg = report["configs"][0]
    for key in ("hit@1", "hit@3", "hit@5", "mrr", "accuracy", "citation_precision", "citation_recall",
                "refusal_rate", "false_refusal_rate", "latency_p50_ms", "latency_p95_ms"):
        assert key in cfg["overall"], key
    assert set(cfg["by_lang"]) == {"zh"} and set(cfg["by_type"]) == {"numeric", "unanswerable"}
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| hybrid | 3 |" in md and "## hybrid: failed items (0)" in md and "accuracy_by_type.png" in md
    assert (out / "accuracy_by_type.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.unit
def test_handled_errors_are_recorded_per_item(tmp_path: Path) -> None:
    p = StubPipeline(tmp_path, PASSAGES, fail_on="日资")
    run = run_eval(p, stub_items(), [EvalConfig("hybrid", "hybrid")], k=2)
    r = run.results["hybrid"][1]
    assert r.error == "backend timed out" and r.score == 0.0
    assert run.summaries["hybrid"]["overall"]["errors"] == 1
    assert run.summaries["hybrid"]["failures"][0]["reason"] == "error: backend timed out"


@pytest.mark.unit
def test_compare_runs_every_mode_and_the_langchain_baseline(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "s0.txt").write_text("2022年实际外资（部口径）达到\n41414万美元。\n" * 3, encoding="utf-8")
    (docs / "s1.txt").write_text("共有日资企业114家，投资总额31亿美元。\n", encoding="utf-8")
    p = StubPipeline(docs, PASSAGES)
    configs = compare_configs("hybrid", "extractive")
    assert [c.name for c in configs] == ["hybrid", "hybrid-rrf", "dense", "bm25", "langchain-baseline"]
    assert [c.fusion for c in configs] == [None, "rrf", None, None, None]
    assert [c.name for c in compare_configs("bm25", "llm")][0] == "bm25+llm"
    out = tmp_path / "out"
    run = run_eval(p, stub_items(), configs, k=2, out_dir=out)
    assert {m for _, m, _ in p.asked} == {"hybrid", "dense", "bm25"}
    base = run.results["langchain-baseline"]
    assert base[0].hits[0]["source"] == "s0.txt" and base[0].hit_rank == 1
    for name in ("hybrid", "hybrid-rrf", "dense", "bm25", "langchain-baseline"):
        assert (out / f"results-{name}.jsonl").exists()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in report["configs"]] == ["hybrid", "hybrid-rrf", "dense", "bm25", "langchain-baseline"]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| langchain-baseline |" in md


@pytest.mark.unit
def test_baseline_hits_carry_raw_offsets(tmp_path: Path) -> None:
    text = "第一段。" * 300 + "\n\n" + "日资企业114家，投资总额31亿美元。" + "尾巴。" * 300
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    bl = LangChainBaseline(FakeEmbedder(), tmp_path).build()
    assert all(len(c.text) <= 1000 for c in bl.chunks)
    for c in bl.chunks:
        assert text[c.orig_start : c.orig_end] == c.text and c.article == 0 and c.source == "a.txt"
    top = bl.search("日资企业114家", 3)
    assert [h.rank for h in top] == [1, 2, 3]
    assert any("日资企业114家" in h.chunk.text for h in top)


# ---------------------------------------------------------------------- CLI
@pytest.mark.unit
def test_cli_reports_a_bad_qa_file_as_input_error(tmp_path: Path) -> None:
    from rag.cli.eval import eval_command

    res = CliRunner().invoke(eval_command, ["--qa", str(tmp_path / "none.jsonl"), "--out", str(tmp_path)])
    assert res.exit_code == 1 and isinstance(res.exception, InputError)
    assert "does not exist" in str(res.exception)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    res = CliRunner().invoke(eval_command, ["--qa", str(bad), "--out", str(tmp_path)])
    assert isinstance(res.exception, InputError) and "line 1: missing field(s)" in str(res.exception)


@pytest.mark.unit
def test_cli_exit_status_follows_min_accuracy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.pipeline
    from rag.cli.eval import eval_command

    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(i.to_dict(), ensure_ascii=False) for i in stub_items()), encoding="utf-8")

    def fake_pipeline(settings: Any) -> StubPipeline:
        return StubPipeline(tmp_path, ["其他内容。"])  # nothing retrievable: only the refusal is right

    monkeypatch.setattr(rag.pipeline, "Pipeline", fake_pipeline)
    args = ["--qa", str(qa), "--out", str(tmp_path / "out")]
    ok = CliRunner().invoke(eval_command, args)
    assert ok.exit_code == 0, ok.output
    assert "accuracy" in ok.output and (tmp_path / "out" / "report.md").exists()
    low = CliRunner().invoke(eval_command, [*args, "--min-accuracy", "0.9"])
    assert low.exit_code == 1 and "below --min-accuracy" in low.output
    assert CliRunner().invoke(eval_command, [*args, "--min-accuracy", "0.3"]).exit_code == 0
    js = CliRunner().invoke(eval_command, [*args, "--json", "--limit", "2"])
    assert json.loads(js.stdout)["items"] == 2


# ---------------------------------------------------------- the real set

QA_FILE = PROJECT_ROOT / "evals" / "test.jsonl"  # floors are set on the frozen test split

# Measured 2026-12-01 on the frozen test split (156 items, hybrid +
# extractive, k=5, `rag eval --answerer extractive`): accuracy 0.356, hit@5
# 0.855, MRR 0.706, citation precision 0.472. Floors: measured - ~0.05. The
# test split was written after the rules were tuned on dev; its low accuracy
# is the honest number (docs/measurements.md).
FLOORS = {
    "accuracy": 0.30,
    "hit@5": 0.80,
    "mrr": 0.65,
    "citation_precision": 0.42,
}


@pytest.mark.integration
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


@pytest.mark.integration
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


# Measured on a fixed sample of the test split (every 8th item, 20
# questions) with the local model: accuracy 0.40 (2026-12-01; the whole test
# split: 0.543). The full llm run is a measurement (docs/measurements.md), not
# a CI step. Floor: measured - 0.1 (a sample of 20 moves by 0.05 an item).
LLM_SAMPLE_FLOOR = {"accuracy": 0.30}


@pytest.mark.llm
def test_llm_answerer_on_a_sample_of_the_test_set(real_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from rag.models.chat import llm_status

    settings = real_settings.with_(answerer="llm", llm_backend="local")
    ok, why = llm_status(settings)
    if not ok:
        pytest.skip(why)
    pipeline = Pipeline(settings)
    items = load_qa(QA_FILE)[::8]
    run = run_eval(pipeline, items, [EvalConfig("hybrid", "hybrid", "llm")], k=5, out_dir=tmp_path / "llm")
    rows = run.results["hybrid"]
    assert all(r.error is None for r in rows)
    overall = run.summaries["hybrid"]["overall"]
    for key, floor in LLM_SAMPLE_FLOOR.items():
        assert overall[key] >= floor, f"{key} {overall[key]} fell below {floor}"
