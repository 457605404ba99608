"""Scoring one answer against its item, and the table of metrics.

    result = score_answer(item, answer, latency_ms)      # ItemResult
    aggregate(results)                                   # {metric key: value}

All text is compared in `normalize`d form (NFKC, no whitespace, case
folded; rag/eval/qaset.py).

`METRICS` is the one table of what is reported: each row names a metric's
key in report.json, its column label, its definition (shown in report.md
and by `rag eval --help`) and how it aggregates per-item values. Adding a
metric is one row here (and, if it needs a new per-item value, one field
of `ItemResult`).

Worked example: an item with evidence "2022年实际外资（部口径）达到41414万美元"
and answers ["41414万美元", "41414"]; the answer "2022年实际外资达到41414万美元。[1]"
citing that sentence, with the evidence in the second hit, scores
accuracy 1, hit@1 0, hit@3 1, reciprocal rank 0.5, one supporting
citation (precision 1/1), evidence cited 1/1.

Left out: running the pipeline (runner.py) and presenting results (report.py).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from rag.eval.qaset import TYPES, QAItem, normalize
from rag.types import Answer, Hit

# A chunk that holds at least this share of an evidence quote, contiguous,
# counts as a hit: chunks of 200 characters with 50 of overlap can cut an
# 80-character quote, and 60% still pins the passage to the quote's fact.
HIT_MIN_SHARE = 0.6
# A citation supports an evidence quote when they share a run of at least
# 40% of the quote and 8 characters: enough to rule out two sentences that
# merely share a stock phrase ("全市完成实际外资" is 8), while a quote that
# covers one of the two sentences of an evidence quote still counts.
CITE_MIN_SHARE = 0.4
CITE_MIN_CHARS = 8
ANSWER_PREVIEW_CHARS = 300


# ------------------------------------------------------------ text matching
def longest_common_run(a: str, b: str) -> int:
    """Length of the longest common substring of a and b."""
    if not a or not b:
        return 0
    m = SequenceMatcher(None, a, b, autojunk=False)
    return m.find_longest_match(0, len(a), 0, len(b)).size


def contains_evidence(text: str, evidence: str) -> bool:
    """Is `evidence` in `text`, whole or (cut by a chunk boundary) >= 60%?"""
    t, e = normalize(text), normalize(evidence)
    if not e:
        return False
    if e in t:
        return True
    return longest_common_run(t, e) >= math.ceil(HIT_MIN_SHARE * len(e))


def first_hit_rank(hit_texts: Sequence[str], evidence: Sequence[str]) -> int | None:
    """1-based rank of the first text holding any evidence quote, or None."""
    for rank, text in enumerate(hit_texts, start=1):
        if any(contains_evidence(text, e) for e in evidence):
            return rank
    return None


def supports(quote: str, evidence: str) -> bool:
    """Does a citation quote overlap an evidence quote enough (see module doc)?"""
    q, e = normalize(quote), normalize(evidence)
    if not q or not e:
        return False
    need = min(len(e), max(CITE_MIN_CHARS, math.ceil(CITE_MIN_SHARE * len(e))))
    return longest_common_run(q, e) >= need


def answer_score(item: QAItem, answer_text: str, refused: bool) -> tuple[float, list[str]]:
    """(score in 0..1, the expected strings found in the answer)."""
    if not item.answerable:
        return (1.0 if refused else 0.0), []
    if refused:
        return 0.0, []
    text = normalize(answer_text)
    found = [a for a in item.answers if normalize(a) in text]
    if item.type == "list":
        return len(found) / len(item.answers), found
    return (1.0 if found else 0.0), found


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    s = sorted(values)
    idx = max(0, math.ceil(p / 100.0 * len(s)) - 1)
    return s[idx]


# ------------------------------------------------------------------ per item
@dataclass(frozen=True)
class ItemResult:
    """One item through one configuration: what came back and its scores."""

    item: QAItem
    answer: str
    refused: bool
    citations: tuple[dict[str, Any], ...]  # {n, source, start, end, quote}
    hits: tuple[dict[str, Any], ...]  # {rank, source, chunk_id, score, text}
    latency_ms: float
    hit_rank: int | None
    score: float
    found: tuple[str, ...]
    supporting_citations: int
    evidence_cited: float  # share of evidence quotes supported by a citation
    error: str | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict)  # the pipeline's stages

    @property
    def failed(self) -> bool:
        return self.score < 1.0

    def reason(self) -> str:
        """Why the item failed, in words: retrieval or answer extraction."""
        it = self.item
        if self.error:
            return f"error: {self.error}"
        if not it.answerable:
            return "answered a question the documents cannot answer (should refuse)"
        where = (
            f"evidence retrieved at rank {self.hit_rank}"
            if self.hit_rank
            else f"retrieval: evidence not in the top {len(self.hits)}"
        )
        if self.refused:
            return f"false refusal; {where}"
        if it.type == "list" and self.found:
            return f"list: {len(self.found)}/{len(it.answers)} elements found; {where}"
        if self.hit_rank:
            return f"answer extraction: {where} but the answer lacks the expected text"
        return where

    def to_json(self) -> dict[str, Any]:
        """A line of results.jsonl."""
        return {
            "id": self.item.id,
            "question": self.item.question,
            "lang": self.item.lang,
            "type": self.item.type,
            "answer": self.answer,
            "refused": self.refused,
            "citations": list(self.citations),
            "hits": list(self.hits),
            "latency_ms": self.latency_ms,
            "timings_ms": dict(self.timings_ms),
            "score": self.score,
            "hit_rank": self.hit_rank,
            "error": self.error,
        }

    def failure(self) -> dict[str, Any]:
        got = self.answer if len(self.answer) <= ANSWER_PREVIEW_CHARS else self.answer[:ANSWER_PREVIEW_CHARS] + "…"
        return {
            "id": self.item.id,
            "lang": self.item.lang,
            "type": self.item.type,
            "question": self.item.question,
            "expected": list(self.item.answers) if self.item.answerable else "a refusal",
            "evidence": list(self.item.evidence),
            "got": got,
            "refused": self.refused,
            "hit_rank": self.hit_rank,
            "score": round(self.score, 3),
            "reason": self.reason(),
        }


def score_answer(item: QAItem, answer: Answer, latency_ms: float, hits: Sequence[Hit] | None = None) -> ItemResult:
    """Score one Answer against its item. `hits` defaults to `answer.hits`
    (the passages the answerer was given)."""
    used = list(answer.hits if hits is None else hits)
    hit_rows = tuple(
        {"rank": h.rank, "source": h.chunk.source, "chunk_id": h.chunk.id, "score": h.score, "text": h.chunk.text}
        for h in used
    )
    cites = tuple(
        {"n": c.n, "source": c.source, "start": c.start, "end": c.end, "quote": c.quote} for c in answer.citations
    )
    score, found = answer_score(item, answer.text, answer.refused)
    rank = first_hit_rank([h.chunk.text for h in used], item.evidence) if item.answerable else None
    quotes = [c.quote for c in answer.citations]
    supporting = sum(1 for q in quotes if any(supports(q, e) for e in item.evidence))
    covered = sum(1 for e in item.evidence if any(supports(q, e) for q in quotes))
    return ItemResult(
        item=item,
        answer=answer.text,
        refused=answer.refused,
        citations=cites,
        hits=hit_rows,
        latency_ms=round(latency_ms, 2),
        hit_rank=rank,
        score=score,
        found=tuple(found),
        supporting_citations=supporting,
        evidence_cited=covered / len(item.evidence) if item.evidence else 0.0,
        timings_ms=dict(answer.timings_ms),
    )


def error_result(item: QAItem, message: str, latency_ms: float) -> ItemResult:
    """An item the pipeline failed on (a handled error): scored as wrong."""
    return ItemResult(
        item=item, answer="", refused=False, citations=(), hits=(), latency_ms=round(latency_ms, 2),
        hit_rank=None, score=0.0, found=(), supporting_citations=0, evidence_cited=0.0, error=message,
    )


# --------------------------------------------------------------- the table
Aggregator = Callable[[Sequence[ItemResult]], float | int | None]


def _answerable(rs: Sequence[ItemResult]) -> list[ItemResult]:
    return [r for r in rs if r.item.answerable]


def _unanswerable(rs: Sequence[ItemResult]) -> list[ItemResult]:
    return [r for r in rs if not r.item.answerable]


def _mean(xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return round(statistics.fmean(xs), 4) if xs else None


def _hit_at(n: int) -> Aggregator:
    return lambda rs: _mean(1.0 if r.hit_rank and r.hit_rank <= n else 0.0 for r in _answerable(rs))


def _citation_precision(rs: Sequence[ItemResult]) -> float | None:
    ans = _answerable(rs)
    n = sum(len(r.citations) for r in ans)
    return round(sum(r.supporting_citations for r in ans) / n, 4) if n else None


def _latency(p: float) -> Aggregator:
    def agg(rs: Sequence[ItemResult]) -> float | None:
        v = percentile([r.latency_ms for r in rs], p)
        return round(v, 1) if v is not None else None

    return agg


@dataclass(frozen=True)
class Metric:
    key: str  # in report.json
    label: str  # column header
    definition: str
    aggregate: Aggregator
    in_summary: bool = True  # a column of the comparison table


METRICS: tuple[Metric, ...] = (
    Metric("hit@1", "hit@1", "share of answerable items with a hit at rank 1 (a hit: a retrieved chunk "
           f"containing an evidence quote, or >= {HIT_MIN_SHARE:.0%} of it contiguous; multi_doc: any quote)",
           _hit_at(1)),
    Metric("hit@3", "hit@3", "share of answerable items with a hit at rank <= 3", _hit_at(3)),
    Metric("hit@5", "hit@5", "share of answerable items with a hit at rank <= 5 among the top k "
           "passed to the answerer", _hit_at(5)),
    Metric("mrr", "MRR", "mean of 1/rank of the first hit (0 if none), answerable items",
           lambda rs: _mean(1.0 / r.hit_rank if r.hit_rank else 0.0 for r in _answerable(rs))),
    Metric("accuracy", "accuracy", "mean item score: any alternative answer in the answer text (list: share "
           "of elements found); refused answerable = 0; unanswerable = 1 iff refused",
           lambda rs: _mean(r.score for r in rs)),
    Metric("citation_precision", "cit. precision", "share of citations (answerable items) whose quote "
           f"shares a contiguous run of >= {CITE_MIN_SHARE:.0%} of an evidence quote and >= "
           f"{CITE_MIN_CHARS} characters", _citation_precision),
    Metric("citation_recall", "cit. recall", "per answerable item, share of evidence quotes supported by "
           "a citation; mean", lambda rs: _mean(r.evidence_cited for r in _answerable(rs))),
    Metric("refusal_rate", "refusal (unans.)", "share of unanswerable items refused",
           lambda rs: _mean(1.0 if r.refused else 0.0 for r in _unanswerable(rs))),
    Metric("false_refusal_rate", "false refusal", "share of answerable items refused",
           lambda rs: _mean(1.0 if r.refused else 0.0 for r in _answerable(rs))),
    Metric("latency_p50_ms", "p50 ms", "wall time per question (retrieval + answer), nearest-rank median",
           _latency(50)),
    Metric("latency_p95_ms", "p95 ms", "wall time per question, nearest-rank 95th percentile", _latency(95)),
    Metric("errors", "errors", "questions the pipeline failed on with a handled error",
           lambda rs: sum(1 for r in rs if r.error), in_summary=False),
)
DEFINITIONS: Mapping[str, str] = {m.key: m.definition for m in METRICS}
SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = tuple((m.key, m.label) for m in METRICS if m.in_summary)


def aggregate(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Every metric over a group of results (None where it has no denominator)."""
    out: dict[str, Any] = {
        "n": len(results),
        "n_answerable": len(_answerable(results)),
        "n_unanswerable": len(_unanswerable(results)),
    }
    for m in METRICS:
        out[m.key] = m.aggregate(results)
    return out


def summarize(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Overall, by language and by type, plus the failed items."""
    by_lang = {lang: [r for r in results if r.item.lang == lang] for lang in ("zh", "en")}
    by_type = {t: [r for r in results if r.item.type == t] for t in TYPES}
    return {
        "overall": aggregate(results),
        "by_lang": {k: aggregate(v) for k, v in by_lang.items() if v},
        "by_type": {k: aggregate(v) for k, v in by_type.items() if v},
        "failures": [r.failure() for r in results if r.failed],
    }
