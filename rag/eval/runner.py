"""The eval runner: a QA set through the pipeline, scored per configuration.

    items = load_qa(Path("evals/dev.jsonl"))
    run = run_eval(Pipeline(Settings.load()), items, [EvalConfig("hybrid", "hybrid")],
                   k=5, out_dir=Path("eval-out"))
    run.summaries["hybrid"]["overall"]["accuracy"]

A configuration is a retrieval mode (or the LangChain baseline) and an
answerer; `--compare` runs the chosen one, hybrid with the other fusion,
the other modes and the baseline. Handled per-question failures are
recorded as errors, not raised.

Left out: the metrics (metrics.py) and the files written (report.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from langchain_core.embeddings import Embeddings

from rag.config import Settings
from rag.errors import GenerationError, InputError
from rag.eval.baseline import LangChainBaseline
from rag.eval.metrics import DEFINITIONS, ItemResult, error_result, score_answer, summarize
from rag.eval.qaset import QAItem
from rag.text import elapsed_ms
from rag.types import Answer, Hit

BASELINE_MODE = "baseline"


class EvalPipeline(Protocol):
    """What the runner needs of `rag.pipeline.Pipeline` (tests pass a stub)."""

    settings: Settings

    @property
    def embedder(self) -> Embeddings: ...

    def ensure_index(self) -> Any: ...

    def ask(
        self, question: str, *, mode: str | None = None, k: int | None = None,
        answerer: str | None = None, fusion: str | None = None,
    ) -> Answer: ...

    def answer_hits(self, question: str, hits: Sequence[Hit], *, answerer: str | None = None) -> Answer: ...


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

    # disable=None: a bar on a terminal only; a log or a pipe gets the result lines.
    return tqdm(items, desc=desc, file=sys.stderr, unit="q", leave=False, disable=None)


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
    results: list[ItemResult] = []
    for item in progress(items, config.name) if progress else items:
        t0 = time.perf_counter()
        try:
            if baseline is not None:
                hits = baseline.search(item.question, k)
                ans = pipeline.answer_hits(item.question, hits, answerer=config.answerer)
            else:
                ans = pipeline.ask(
                    item.question, mode=config.mode, k=k, answerer=config.answerer, fusion=config.fusion
                )
        except (GenerationError, InputError) as e:
            results.append(error_result(item, str(e), elapsed_ms(t0)))
            continue
        results.append(score_answer(item, ans, elapsed_ms(t0)))
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
        from rag.eval.report import write_outputs

        write_outputs(run, out_dir)
    return run
