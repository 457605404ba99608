"""Every eval metric on small hand-made cases (hand-made Answers and Hits, no models)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from rag.eval.metrics import (
    aggregate,
    answer_score,
    contains_evidence,
    first_hit_rank,
    percentile,
    score_answer,
    summarize,
    supports,
)
from rag.eval.qaset import QAItem
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


