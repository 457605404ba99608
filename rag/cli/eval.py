"""`rag eval`: score the eval set, optionally against the other modes and a baseline.

Registered on the `rag` group by rag/cli/__init__.py. Handled failures (a missing or
invalid QA file, a bad setting) raise `RagError`; the group's `main()`
turns them into one line on stderr and exit status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rag.cli.common import check_writable_dir, report_skipped, settings_from
from rag.config import PROJECT_ROOT
from rag.types import ANSWERERS, MODES

DEFAULT_QA = PROJECT_ROOT / "evals" / "qa.jsonl"
DEFAULT_OUT = Path("eval-out")


@click.command("eval")
@click.option("--qa", "qa_path", type=click.Path(path_type=Path), default=DEFAULT_QA,
              show_default="evals/qa.jsonl", help="The QA file (JSON Lines, see evals/README.md).")
@click.option("--mode", type=click.Choice(MODES), help="Retrieval mode. [RAG_MODE; default hybrid]")
@click.option("--answerer", type=click.Choice(ANSWERERS),
              help="How to answer. [RAG_ANSWERER; default extractive]")
@click.option("-k", "--top-k", "top_k", type=click.IntRange(1, 50), default=5, show_default=True,
              help="Passages retrieved and passed to the answerer.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_OUT,
              show_default=True, help="Folder for results.jsonl, report.json, report.md and the chart.")
@click.option("--compare", is_flag=True,
              help="Also run the other retrieval modes and a plain LangChain baseline; one table.")
@click.option("--min-accuracy", type=click.FloatRange(0.0, 1.0),
              help="Exit with status 1 when the accuracy (first configuration) is below this.")
@click.option("--limit", type=click.IntRange(1), help="Only the first N questions (a quick check).")
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout instead of the table.")
@click.pass_context
def eval_command(
    ctx: click.Context,
    qa_path: Path,
    mode: str | None,
    answerer: str | None,
    top_k: int,
    out_dir: Path,
    compare: bool,
    min_accuracy: float | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Run the QA set through the pipeline and score it.

    Writes results.jsonl (one line per question: answer, citations, hits,
    latency), report.json, report.md and accuracy_by_type.png to --out.
    Metrics: hit@1/3/5 and MRR of the evidence, answer accuracy, citation
    precision/recall, refusal rates, latency; overall, by language and by
    type, with the failed items. Exit status 0 whatever the scores, unless
    --min-accuracy is given and not met (1).

    \b
    Examples:
      rag eval                              hybrid + extractive, eval-out/
      rag eval --compare                    + dense, bm25, LangChain baseline
      rag eval --compare --answerer llm     the same with the llm answerer
      rag eval --mode bm25 -k 3 --out /tmp/ev --min-accuracy 0.6
    """
    import json

    from rag.eval.qaset import load_qa
    from rag.eval.report import plain_summary
    from rag.eval.runner import EvalConfig, compare_configs, run_eval, tqdm_progress
    from rag.pipeline import Pipeline

    items = load_qa(qa_path)
    if limit:
        items = items[:limit]
    settings = settings_from(ctx)
    check_writable_dir(out_dir, "--out")  # before the run, not after it
    chosen_mode = mode or settings.mode
    chosen_answerer = answerer or settings.answerer
    configs = (
        compare_configs(chosen_mode, chosen_answerer)
        if compare
        else [EvalConfig(chosen_mode, chosen_mode, chosen_answerer)]
    )
    pipeline = Pipeline(settings)
    click.echo("loading the index (the first build takes a few minutes)…", err=True)
    run = run_eval(
        pipeline, items, configs, k=top_k, out_dir=out_dir, qa_file=str(qa_path), progress=tqdm_progress
    )
    report_skipped(getattr(pipeline, "problems", ()))  # a stand-in pipeline may not track files
    if as_json:
        click.echo(json.dumps(run.report(), ensure_ascii=False, indent=2))
    else:
        click.echo(plain_summary(run))
        click.echo(f"\nwrote {out_dir}/report.md, report.json, results.jsonl, accuracy_by_type.png")
    acc = run.accuracy()
    if min_accuracy is not None and acc < min_accuracy:
        click.echo(f"accuracy {acc:.3f} is below --min-accuracy {min_accuracy:.3f}", err=True)
        sys.stderr.flush()
        ctx.exit(1)
