"""Every eval metric on small hand-made cases, and the runner with a stub
pipeline (hand-made Answers and Hits, no models)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rag.config import Settings
from rag.embed import FakeEmbedder
from rag.errors import GenerationError, InputError
from rag.evalset import QAItem
from rag.evaluate import (
    EvalConfig,
    LangChainBaseline,
    aggregate,
    answer_score,
    compare_configs,
    contains_evidence,
    first_hit_rank,
    percentile,
    run_eval,
    score_answer,
    summarize,
    supports,
)
from rag.types import Answer, Chunk, Citation, Hit, Lang

pytestmark = pytest.mark.unit

EVIDENCE = "2022年实际外资（部口径）达到41414万美元"  # 22 normalized characters


def item(id: str = "q", type: str = "numeric", answers: Sequence[str] = ("41414万美元", "41414"),
         evidence: Sequence[str] = (EVIDENCE,), lang: Lang = "zh", question: str = "2022年实际外资？") -> QAItem:
    unans = type == "unanswerable"
    return QAItem(
        id=id, question=question, lang=lang, type=type,
        answers=() if unans else tuple(answers),
        sources=() if unans else tuple(f"s{i}.txt" for i in range(len(evidence))),
        evidence=() if unans else tuple(evidence),
    )


def chunk(text: str, source: str = "s0.txt") -> Chunk:
    return Chunk(id=Chunk.make_id(source, 0, text), source=source, article=0, title="t", date=None,
                 start=0, end=len(text), text=text, orig_start=0, orig_end=len(text))


def hits(*texts: str) -> tuple[Hit, ...]:
    return tuple(Hit(chunk=chunk(t), rank=r, score=1.0 / r) for r, t in enumerate(texts, start=1))


def cite(n: int, hit: Hit, quote: str) -> Citation:
    i = hit.chunk.text.index(quote)
    return Citation(n=n, source=hit.chunk.source, article=0, title="t", date=None, start=0,
                    end=len(hit.chunk.text), passage=hit.chunk.text, quote=quote, quote_start=i,
                    quote_end=i + len(quote), chunk_id=hit.chunk.id)


def answer(text: str, hs: Sequence[Hit] = (), citations: Sequence[Citation] = (),
           refused: bool = False, question: str = "q") -> Answer:
    return Answer(question=question, text=text, refused=refused, citations=tuple(citations),
                  hits=tuple(hs), lang="zh", answerer="extractive", mode="hybrid")


# ------------------------------------------------------------ hit and rank
def test_evidence_containment_ignores_whitespace_and_width() -> None:
    assert contains_evidence("前文。2022年实际外资（部口径）达到\n41414 万美元。后文", EVIDENCE)
    assert contains_evidence("2022年实际外资(部口径)达到41414万美元", EVIDENCE)  # half-width brackets
    assert not contains_evidence("2021年合同外资达到78045万美元", EVIDENCE)


def test_a_chunk_boundary_cut_counts_when_at_least_60_percent_remains() -> None:
    # 22 characters: a hit needs a contiguous run of ceil(0.6 * 22) = 14.
    assert contains_evidence("……2022年实际外资（部口径）达到4", EVIDENCE)  # 15 chars kept
    assert contains_evidence("2022年实际外资（部口径）达", EVIDENCE)  # exactly 14
    assert not contains_evidence("2022年实际外资（部口径）", EVIDENCE)  # 13
    assert not contains_evidence("部口径）达到41414万美元", EVIDENCE)  # 13 from the end


def test_first_hit_rank_on_a_hand_made_ranking() -> None:
    ranking = ["无关段落一", "无关段落二", "……实际外资（部口径）达到41414万美元。", "2022年实际外资（部口径）达到41414万美元"]
    assert first_hit_rank(ranking, [EVIDENCE]) == 3
    assert first_hit_rank(ranking[:2], [EVIDENCE]) is None
    # multi_doc: any quote counts
    assert first_hit_rank(["无关", "日资企业114家，投资总额31亿美元"], ["没有这句话的十五个字以上的引文", "日资企业114家，投资总额31亿美元"]) == 2


def test_hit_at_k_and_mrr_over_a_hand_made_set() -> None:
    e = EVIDENCE
    results = [
        score_answer(item("a"), answer("x", hits(e, "b", "c")), 1.0),  # rank 1
        score_answer(item("b"), answer("x", hits("a", "b", e)), 1.0),  # rank 3
        score_answer(item("c"), answer("x", hits("a", "b", "c", "d", e)), 1.0),  # rank 5
        score_answer(item("d"), answer("x", hits("a", "b")), 1.0),  # miss
        score_answer(item("u", type="unanswerable"), answer("x", hits(e)), 1.0),  # not counted
    ]
    assert [r.hit_rank for r in results] == [1, 3, 5, None, None]
    m = aggregate(results)
    assert m["n_answerable"] == 4
    assert m["hit@1"] == 0.25 and m["hit@3"] == 0.5 and m["hit@5"] == 0.75
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 5 + 0) / 4, abs=1e-4)


# ------------------------------------------------------------------ answers
def test_any_alternative_counts_after_normalizing() -> None:
    it = item(answers=("41414万美元", "41414"))
    assert answer_score(it, "实际外资达到 41414 万美元。[1]", False) == (1.0, ["41414万美元", "41414"])
    assert answer_score(it, "约4.14亿美元", False) == (0.0, [])
    en = item(answers=("ABB", "德西福格"), lang="en", question="Which?")
    assert answer_score(en, "集聚了abb等跨国公司", False)[0] == 1.0


def test_list_items_are_scored_by_recall() -> None:
    it = item(type="list", answers=("桐乡", "嘉善", "秀洲"))
    assert answer_score(it, "桐乡、嘉善、秀洲均成立了招商公司", False)[0] == 1.0
    score, found = answer_score(it, "桐乡、嘉善成立了招商公司", False)
    assert score == pytest.approx(2 / 3) and found == ["桐乡", "嘉善"]
    results = [score_answer(it, answer("桐乡、嘉善"), 1.0), score_answer(item("b"), answer("41414"), 1.0)]
    assert aggregate(results)["accuracy"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-4)
    assert results[0].failed and "list: 2/3 elements found" in results[0].reason()


def test_unanswerable_is_correct_iff_refused_and_refusals_score_zero_otherwise() -> None:
    un = item(type="unanswerable")
    assert answer_score(un, "资料中未找到相关信息。", True)[0] == 1.0
    assert answer_score(un, "平湖的人口是……", False)[0] == 0.0
    # an answerable item that was refused scores 0 even if the text had the answer
    assert answer_score(item(), "41414", True)[0] == 0.0
    results = [
        score_answer(un, answer("拒答", refused=True), 1.0),
        score_answer(item("u2", type="unanswerable"), answer("乱答"), 1.0),
        score_answer(item("a"), answer("拒答", refused=True), 1.0),
        score_answer(item("b"), answer("41414万美元"), 1.0),
        score_answer(item("c"), answer("41414万美元"), 1.0),
        score_answer(item("d"), answer("41414万美元"), 1.0),
    ]
    m = aggregate(results)
    assert m["refusal_rate"] == 0.5
    assert m["false_refusal_rate"] == 0.25
    assert m["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert "should refuse" in results[1].reason()
    assert results[2].reason().startswith("false refusal")


# ---------------------------------------------------------------- citations
def test_citation_support_needs_a_long_enough_shared_run() -> None:
    assert supports("……" + EVIDENCE + "。", EVIDENCE)  # contains the evidence
    assert supports("实际外资（部口径）达", EVIDENCE)  # 10 chars >= ceil(0.4 * 22) = 9
    assert not supports("实际外资（部口径", EVIDENCE)  # 8 chars < 9
    # a stock phrase shared by two different facts is not support
    long_ev = "去年1至11月,全市完成实际外资4.8亿美元,同比增长16%"
    assert not supports("今年一季度，平湖全市完成实际外资1.59亿美元", long_ev)
    # short evidence: at least 8 characters (or all of it)
    assert supports("增资项目合同外资2.88", "增资项目合同外资2.88亿美元占比")


def test_citation_precision_and_recall() -> None:
    h = hits("前文。" + EVIDENCE + "。后文", "无关的句子在这里。另一句。")
    good = cite(1, h[0], EVIDENCE + "。")
    bad = cite(2, h[1], "无关的句子在这里。")
    r1 = score_answer(item("a"), answer("…[1][2]", h, [good, bad]), 1.0)
    assert r1.supporting_citations == 1 and r1.evidence_cited == 1.0
    # multi_doc: half of the evidence quotes cited
    ev2 = "日资企业114家，投资总额31亿美元以上"
    r2 = score_answer(item("b", type="multi_doc", evidence=(EVIDENCE, ev2)), answer("…[1]", h, [good]), 1.0)
    assert r2.evidence_cited == 0.5
    # a refusal: no citations, nothing covered
    r3 = score_answer(item("c"), answer("拒答", h, refused=True), 1.0)
    m = aggregate([r1, r2, r3])
    assert m["citation_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["citation_recall"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert aggregate([r3])["citation_precision"] is None


# ------------------------------------------------------- latency, breakdown
def test_latency_percentiles_are_nearest_rank() -> None:
    assert percentile(list(range(1, 101)), 50) == 50
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    rs = [score_answer(item(f"i{i}"), answer("41414"), float(ms)) for i, ms in enumerate([10, 20, 30, 40])]
    m = aggregate(rs)
    assert m["latency_p50_ms"] == 20 and m["latency_p95_ms"] == 40


def test_summary_breaks_down_by_language_and_type_and_lists_failures() -> None:
    rs = [
        score_answer(item("a"), answer("41414", hits(EVIDENCE)), 1.0),
        score_answer(item("b", lang="en", question="How much?"), answer("no", hits("x")), 1.0),
        score_answer(item("u", type="unanswerable"), answer("拒答", refused=True), 1.0),
    ]
    s = summarize(rs)
    assert s["overall"]["n"] == 3
    assert s["by_lang"]["zh"]["accuracy"] == 1.0 and s["by_lang"]["en"]["accuracy"] == 0.0
    assert set(s["by_type"]) == {"numeric", "unanswerable"}
    assert [f["id"] for f in s["failures"]] == ["b"]
    f = s["failures"][0]
    assert f["expected"] == ["41414万美元", "41414"] and f["reason"].startswith("retrieval:")


# ------------------------------------------------------------------- runner
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

    def answerer(self, name: str | None = None) -> StubAnswerer:
        return StubAnswerer()

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


def test_handled_errors_are_recorded_per_item(tmp_path: Path) -> None:
    p = StubPipeline(tmp_path, PASSAGES, fail_on="日资")
    run = run_eval(p, stub_items(), [EvalConfig("hybrid", "hybrid")], k=2)
    r = run.results["hybrid"][1]
    assert r.error == "backend timed out" and r.score == 0.0
    assert run.summaries["hybrid"]["overall"]["errors"] == 1
    assert run.summaries["hybrid"]["failures"][0]["reason"] == "error: backend timed out"


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
def test_cli_reports_a_bad_qa_file_as_input_error(tmp_path: Path) -> None:
    from rag.cli_eval import eval_command

    res = CliRunner().invoke(eval_command, ["--qa", str(tmp_path / "none.jsonl"), "--out", str(tmp_path)])
    assert res.exit_code == 1 and isinstance(res.exception, InputError)
    assert "does not exist" in str(res.exception)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    res = CliRunner().invoke(eval_command, ["--qa", str(bad), "--out", str(tmp_path)])
    assert isinstance(res.exception, InputError) and "line 1: missing field(s)" in str(res.exception)


def test_cli_exit_status_follows_min_accuracy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.pipeline
    from rag.cli_eval import eval_command

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
