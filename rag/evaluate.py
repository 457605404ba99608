"""Metrics and the eval runner: a QA set through the pipeline, scored.

    items = load_qa(Path("evals/qa.jsonl"))
    run = run_eval(Pipeline(Settings.load()), items, [EvalConfig("hybrid", "hybrid")],
                   k=5, out_dir=Path("eval-out"))
    run.summaries["hybrid"]["overall"]["accuracy"]

What is measured (all text compared in `normalize`d form: NFKC, no
whitespace, case folded; the definitions are repeated in evals/README.md):

- hit@n, MRR (answerable items): a retrieved chunk is a *hit* when it
  contains an evidence quote, or, because a chunk boundary may cut a quote,
  when it shares a contiguous run of at least `HIT_MIN_SHARE` (60%) of the
  quote's characters. multi_doc items: any of their quotes. The rank of the
  first hit gives hit@n (rank <= n) and the reciprocal rank (0 if none in
  the top k; hit@n for n > k equals hit@k).
- accuracy (all items): an answerable item scores 1 when any alternative
  answer is in the answer text (list items: the share of required elements
  found, so partial credit), 0 when it was refused; an unanswerable item
  scores 1 iff it was refused. Accuracy is the mean score.
- citation precision: of all citations given on answerable items, the share
  whose quote *supports* an evidence quote: they share a contiguous run of
  at least `CITE_MIN_SHARE` (40%) of the evidence's characters and at least
  `CITE_MIN_CHARS` (8) characters (containment either way qualifies).
- citation recall: per answerable item, the share of its evidence quotes
  supported by at least one citation; averaged over answerable items.
- refusal rate on unanswerable items; false-refusal rate on answerable ones.
- latency p50/p95: wall time per question (retrieval + answer), nearest rank.

Every metric is reported overall, by language and by type, with the list
of failed items (score < 1) and why they failed: retrieval (no hit in the
top k) or answer extraction (a hit was retrieved, the answer missed).

`--compare` adds the three retrieval modes and a plain LangChain baseline
(`LangChainBaseline`). Nothing here knows any question or answer.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Protocol

from langchain_core.embeddings import Embeddings

from rag.answerer import Answerer
from rag.config import Settings
from rag.errors import GenerationError, InputError
from rag.evalset import TYPES, QAItem, normalize
from rag.lang import detect_lang
from rag.types import Answer, Chunk, Hit

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
HIT_AT = (1, 3, 5)
BASELINE_MODE = "baseline"
CHART_FILE = "accuracy_by_type.png"
ANSWER_PREVIEW_CHARS = 300


# ------------------------------------------------------------------ metrics
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


# --------------------------------------------------------------- per item
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
        return {
            "id": self.item.id,
            "lang": self.item.lang,
            "type": self.item.type,
            "question": self.item.question,
            "expected": list(self.item.answers) if self.item.answerable else "a refusal",
            "evidence": list(self.item.evidence),
            "got": _preview(self.answer),
            "refused": self.refused,
            "hit_rank": self.hit_rank,
            "score": round(self.score, 3),
            "reason": self.reason(),
        }


def score_answer(
    item: QAItem, answer: Answer, latency_ms: float, hits: Sequence[Hit] | None = None
) -> ItemResult:
    """Score one Answer against its item. `hits` defaults to `answer.hits`
    (the passages the answerer was given)."""
    used = list(answer.hits if hits is None else hits)
    hit_rows = tuple(
        {
            "rank": h.rank,
            "source": h.chunk.source,
            "chunk_id": h.chunk.id,
            "score": h.score,
            "text": h.chunk.text,
        }
        for h in used
    )
    cites = tuple(
        {"n": c.n, "source": c.source, "start": c.start, "end": c.end, "quote": c.quote}
        for c in answer.citations
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


# -------------------------------------------------------------- aggregation
def _mean(xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return round(statistics.fmean(xs), 4) if xs else None


def aggregate(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Every metric over a group of results (None where it has no denominator)."""
    ans = [r for r in results if r.item.answerable]
    unans = [r for r in results if not r.item.answerable]
    out: dict[str, Any] = {
        "n": len(results),
        "n_answerable": len(ans),
        "n_unanswerable": len(unans),
    }
    for n in HIT_AT:
        out[f"hit@{n}"] = _mean(1.0 if r.hit_rank and r.hit_rank <= n else 0.0 for r in ans)
    out["mrr"] = _mean(1.0 / r.hit_rank if r.hit_rank else 0.0 for r in ans)
    out["accuracy"] = _mean(r.score for r in results)
    n_cites = sum(len(r.citations) for r in ans)
    out["citation_precision"] = (
        round(sum(r.supporting_citations for r in ans) / n_cites, 4) if n_cites else None
    )
    out["citation_recall"] = _mean(r.evidence_cited for r in ans)
    out["refusal_rate"] = _mean(1.0 if r.refused else 0.0 for r in unans)
    out["false_refusal_rate"] = _mean(1.0 if r.refused else 0.0 for r in ans)
    lat = [r.latency_ms for r in results]
    p50, p95 = percentile(lat, 50), percentile(lat, 95)
    out["latency_p50_ms"] = round(p50, 1) if p50 is not None else None
    out["latency_p95_ms"] = round(p95, 1) if p95 is not None else None
    out["errors"] = sum(1 for r in results if r.error)
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


# ------------------------------------------------------------------ baseline
class LangChainBaseline:
    """The plain LangChain RAG everyone starts from, as a reference point.

    RecursiveCharacterTextSplitter (1000/200) over the raw seed files (no
    cleaning: hard line breaks and doubled bold runs stay), the pipeline's
    embedder, an in-memory FAISS IndexFlatIP, top k by cosine. Its Hits
    carry the file name as source, article 0 and the splitter's offsets
    (raw file = original file, so both spans are the same).
    """

    def __init__(
        self, embedder: Embeddings, docs_dir: Path, chunk_size: int = 1000, chunk_overlap: int = 200
    ) -> None:
        self.embedder = embedder
        self.docs_dir = docs_dir
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.chunks: list[Chunk] = []
        self._index: Any = None

    def build(self) -> LangChainBaseline:
        import faiss
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from rag.embed import as_matrix
        from rag.ingest import list_sources, read_source

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
        vectors = as_matrix(self.embedder.embed_documents([c.text for c in chunks]))
        faiss.normalize_L2(vectors)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        self.chunks, self._index = chunks, index
        return self

    def search(self, question: str, k: int) -> list[Hit]:
        import faiss

        from rag.embed import as_matrix

        if self._index is None:
            self.build()
        q = as_matrix([self.embedder.embed_query(question)])
        faiss.normalize_L2(q)
        scores, ids = self._index.search(q, min(k, len(self.chunks)))
        return [
            Hit(chunk=self.chunks[int(i)], rank=r, score=round(float(s), 6), dense_rank=r,
                dense_score=round(float(s), 6))
            for r, (i, s) in enumerate(zip(ids[0], scores[0], strict=True), start=1)
            if i >= 0
        ]


# -------------------------------------------------------------------- runner
class EvalPipeline(Protocol):
    """What the runner needs of `rag.pipeline.Pipeline` (tests pass a stub)."""

    settings: Settings

    @property
    def embedder(self) -> Embeddings: ...

    def ensure_index(self) -> Any: ...

    def answerer(self, name: str | None = None) -> Answerer: ...

    def ask(
        self, question: str, *, mode: str | None = None, k: int | None = None,
        answerer: str | None = None, fusion: str | None = None,
    ) -> Answer: ...


@dataclass(frozen=True)
class EvalConfig:
    """One row of the comparison: a retrieval mode (or the baseline) and an answerer."""

    name: str
    mode: str  # hybrid | dense | bm25 | baseline
    answerer: str = "extractive"
    fusion: str | None = None  # hybrid only; None: the settings' fusion


def compare_configs(mode: str, answerer: str) -> list[EvalConfig]:
    """The --compare set: the chosen mode first, the other modes, the baseline."""
    order = [mode] + [m for m in ("hybrid", "dense", "bm25") if m != mode]
    suffix = "" if answerer == "extractive" else f"+{answerer}"
    configs = [EvalConfig(f"{m}{suffix}", m, answerer) for m in order]
    # Hybrid with the other fusion method, so the choice stays measured.
    configs.insert(1, EvalConfig(f"hybrid-rrf{suffix}", "hybrid", answerer, fusion="rrf"))
    configs.append(EvalConfig(f"langchain-baseline{suffix}", BASELINE_MODE, answerer))
    return configs


ProgressFactory = Callable[[Sequence[QAItem], str], Iterable[QAItem]]


def tqdm_progress(items: Sequence[QAItem], desc: str) -> Iterable[QAItem]:
    from tqdm import tqdm

    return tqdm(items, desc=desc, file=sys.stderr, unit="q", leave=False)


def run_config(
    pipeline: EvalPipeline,
    items: Sequence[QAItem],
    config: EvalConfig,
    *,
    k: int,
    progress: ProgressFactory | None = None,
) -> list[ItemResult]:
    """Every item through one configuration. Handled per-question failures
    (a generation backend error, a rejected question) are recorded as
    errors; anything that would fail every question raises."""
    baseline: LangChainBaseline | None = None
    if config.mode == BASELINE_MODE:
        baseline = LangChainBaseline(pipeline.embedder, pipeline.settings.docs_dir).build()
    answerer = pipeline.answerer(config.answerer)
    results: list[ItemResult] = []
    for item in progress(items, config.name) if progress else items:
        t0 = time.perf_counter()
        try:
            if baseline is not None:
                hits = baseline.search(item.question, k)
                ans = answerer.answer(item.question, hits, detect_lang(item.question))
            else:
                ans = pipeline.ask(
                    item.question, mode=config.mode, k=k, answerer=config.answerer, fusion=config.fusion
                )
        except (GenerationError, InputError) as e:
            results.append(error_result(item, str(e), _ms(t0)))
            continue
        results.append(score_answer(item, ans, _ms(t0)))
    return results


@dataclass
class EvalRun:
    """The outcome of `run_eval`: results and summaries per configuration."""

    configs: list[EvalConfig]
    results: dict[str, list[ItemResult]]
    summaries: dict[str, dict[str, Any]]
    k: int
    qa_file: str
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def primary(self) -> EvalConfig:
        return self.configs[0]

    def accuracy(self) -> float:
        acc = self.summaries[self.primary.name]["overall"]["accuracy"]
        return float(acc) if acc is not None else 0.0

    def report(self) -> dict[str, Any]:
        items = self.results[self.primary.name]
        return {
            "created": self.created,
            "qa_file": self.qa_file,
            "items": len(items),
            "k": self.k,
            "primary": self.primary.name,
            "definitions": DEFINITIONS,
            "configs": [
                {"name": c.name, "mode": c.mode, "answerer": c.answerer, **self.summaries[c.name]}
                for c in self.configs
            ],
        }


DEFINITIONS: Mapping[str, str] = {
    "hit": f"a retrieved chunk containing an evidence quote, or >= {HIT_MIN_SHARE:.0%} of it contiguous "
    "(normalized: NFKC, no whitespace, case folded); multi_doc: any quote",
    "hit@n": "share of answerable items with a hit at rank <= n among the top k passed to the answerer",
    "mrr": "mean of 1/rank of the first hit (0 if none), answerable items",
    "accuracy": "mean item score: any alternative answer in the answer text (list: share of elements "
    "found); refused answerable = 0; unanswerable = 1 iff refused",
    "citation_precision": f"share of citations (answerable items) whose quote shares a contiguous run of "
    f">= {CITE_MIN_SHARE:.0%} of an evidence quote and >= {CITE_MIN_CHARS} characters",
    "citation_recall": "per answerable item, share of evidence quotes supported by a citation; mean",
    "refusal_rate": "share of unanswerable items refused",
    "false_refusal_rate": "share of answerable items refused",
    "latency": "wall time per question (retrieval + answer), nearest-rank p50/p95",
}


def run_eval(
    pipeline: EvalPipeline,
    items: Sequence[QAItem],
    configs: Sequence[EvalConfig],
    *,
    k: int = 5,
    out_dir: Path | None = None,
    qa_file: str = "",
    progress: ProgressFactory | None = None,
) -> EvalRun:
    """Run every configuration over the items; write the outputs to out_dir."""
    if not configs:
        raise InputError("no configuration to evaluate")
    pipeline.ensure_index()  # a build is not a question's latency
    results: dict[str, list[ItemResult]] = {}
    for config in configs:
        results[config.name] = run_config(pipeline, items, config, k=k, progress=progress)
    run = EvalRun(
        configs=list(configs),
        results=results,
        summaries={name: summarize(rs) for name, rs in results.items()},
        k=k,
        qa_file=qa_file,
    )
    if out_dir is not None:
        write_outputs(run, out_dir)
    return run


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _preview(text: str) -> str:
    return text if len(text) <= ANSWER_PREVIEW_CHARS else text[:ANSWER_PREVIEW_CHARS] + "…"


# ------------------------------------------------------------------ outputs
def write_outputs(run: EvalRun, out_dir: Path) -> dict[str, Path]:
    """results.jsonl (primary), results-<config>.jsonl (when comparing),
    report.json, report.md and the accuracy-by-type chart."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["results"] = _write_results(out_dir / "results.jsonl", run.results[run.primary.name])
    if len(run.configs) > 1:
        for c in run.configs:
            paths[f"results-{c.name}"] = _write_results(out_dir / f"results-{c.name}.jsonl", run.results[c.name])
    report = run.report()
    paths["report.json"] = out_dir / "report.json"
    paths["report.json"].write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["chart"] = write_chart(run, out_dir / CHART_FILE)
    paths["report.md"] = out_dir / "report.md"
    paths["report.md"].write_text(render_markdown(run), encoding="utf-8")
    return paths


def _write_results(path: Path, results: Sequence[ItemResult]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    return path


SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("hit@1", "hit@1"),
    ("hit@3", "hit@3"),
    ("hit@5", "hit@5"),
    ("mrr", "MRR"),
    ("accuracy", "accuracy"),
    ("citation_precision", "cit. precision"),
    ("citation_recall", "cit. recall"),
    ("refusal_rate", "refusal (unans.)"),
    ("false_refusal_rate", "false refusal"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
)


def _fmt(v: Any, key: str = "") -> str:
    if v is None:
        return "–"
    if key.endswith("_ms") and isinstance(v, int | float):
        return f"{v:.0f}" if v >= 10 else f"{v:.1f}"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def summary_table(run: EvalRun) -> list[str]:
    """The comparison table: one row per configuration."""
    header = ["config", "n"] + [label for _, label in SUMMARY_COLUMNS]
    rows = []
    for c in run.configs:
        o = run.summaries[c.name]["overall"]
        rows.append([c.name, str(o["n"])] + [_fmt(o[key], key) for key, _ in SUMMARY_COLUMNS])
    return _table(header, rows)


def render_markdown(run: EvalRun) -> str:
    p = run.primary
    s = run.summaries[p.name]
    o = s["overall"]
    langs = ", ".join(f"{k} {v['n']}" for k, v in s["by_lang"].items())
    out = [
        "# Evaluation report",
        "",
        f"- QA file: `{run.qa_file}` — {o['n']} items ({langs}; "
        f"{o['n_answerable']} answerable, {o['n_unanswerable']} unanswerable)",
        f"- top k: {run.k}; created {run.created}",
        f"- primary configuration: **{p.name}** (mode {p.mode}, answerer {p.answerer})",
        "",
        "## Summary",
        "",
        *summary_table(run),
        "",
        "## Accuracy by type",
        "",
    ]
    types = [t for t in TYPES if t in s["by_type"]]
    header = ["type", "n"] + [c.name for c in run.configs]
    rows = [
        [t, str(s["by_type"][t]["n"])]
        + [_fmt(run.summaries[c.name]["by_type"].get(t, {}).get("accuracy")) for c in run.configs]
        for t in types
    ]
    out += _table(header, rows)
    out += ["", f"![accuracy by type]({CHART_FILE})", ""]
    for title, group in (("language", s["by_lang"]), ("type", s["by_type"])):
        out += [f"## {p.name}: by {title}", ""]
        cols = [("n", "n")] + list(SUMMARY_COLUMNS)
        out += _table(
            [title] + [label for _, label in cols],
            ([name] + [_fmt(m[key], key) for key, _ in cols] for name, m in group.items()),
        )
        out.append("")
    fails = s["failures"]
    out += [f"## {p.name}: failed items ({len(fails)})", ""]
    for f in fails:
        expected = " / ".join(f["expected"]) if isinstance(f["expected"], list) else f["expected"]
        got = f["got"].replace("\n", " ")
        out.append(
            f"- **{f['id']}** ({f['type']}, {f['lang']}, score {f['score']}) {f['question']}  \n"
            f"  expected: {expected}  \n"
            f"  got{' (refused)' if f['refused'] else ''}: {got}  \n"
            f"  why: {f['reason']}"
        )
    out += ["", "## Definitions", ""]
    out += [f"- **{k}**: {v}" for k, v in DEFINITIONS.items()]
    return "\n".join(out) + "\n"


def write_chart(run: EvalRun, path: Path) -> Path:
    """Grouped bars: accuracy by question type, one bar per configuration.

    Uses the Agg canvas directly, so no global matplotlib backend is set.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = run.summaries[run.primary.name]
    types = [t for t in TYPES if t in s["by_type"]]
    fig = Figure(figsize=(max(8.0, 1.1 * len(types) + 3.5), 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(run.configs))
    for j, c in enumerate(run.configs):
        by_type = run.summaries[c.name]["by_type"]
        vals = [by_type.get(t, {}).get("accuracy") or 0.0 for t in types]
        xs = [i + (j - (len(run.configs) - 1) / 2) * width for i in range(len(types))]
        ax.bar(xs, vals, width=width, label=c.name)
    ax.set_xticks(range(len(types)))
    ax.set_xticklabels(
        [f"{t}\n(n={s['by_type'][t]['n']})" for t in types], rotation=0, fontsize=8
    )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title(f"Accuracy by question type (top k = {run.k})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars
    fig.tight_layout()
    fig.savefig(path)
    return path


def plain_summary(run: EvalRun) -> str:
    """The summary table as aligned text, for the terminal."""
    header = ["config"] + [label for _, label in SUMMARY_COLUMNS]
    rows = [
        [c.name] + [_fmt(run.summaries[c.name]["overall"][key], key) for key, _ in SUMMARY_COLUMNS]
        for c in run.configs
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in [header, *rows])
