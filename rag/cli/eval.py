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
from rag.types import ANSWERER_CHOICES, MODES

DEFAULT_QA = (PROJECT_ROOT / "evals" / "dev.jsonl", PROJECT_ROOT / "evals" / "test.jsonl")
DEFAULT_OUT = Path("eval-out")


@click.command("eval")
@click.option("--qa", "qa_paths", type=click.Path(path_type=Path), multiple=True,
              help="A QA file (JSON Lines, see evals/README.md); repeat for several. "
              "[default: evals/dev.jsonl and evals/test.jsonl, side by side]")
@click.option("--mode", type=click.Choice(MODES), help="Retrieval mode. [RAG_MODE; default hybrid]")
@click.option("--answerer", type=click.Choice(ANSWERER_CHOICES),
              help="How to answer; auto = llm when a model is available, else extractive. [RAG_ANSWERER; default auto]")
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
    qa_paths: tuple[Path, ...],
    mode: str | None,
    answerer: str | None,
    top_k: int,
    out_dir: Path,
    compare: bool,
    min_accuracy: float | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Run the QA sets through the pipeline and score them.

    By default the dev set (for tuning) and the frozen test set, side by
    side. Writes, per set, results.jsonl (one line per question: answer,
    citations, hits, latency), report.json, report.md and
    accuracy_by_type.png to --out/<set> (to --out itself for one --qa
    file), and summary.md with both. Metrics: hit@1/3/5 and MRR of the
    evidence, answer accuracy, citation precision/recall, refusal rates,
    latency; overall, by language and by type, with the failed items.
    Exit status 0 whatever the scores, unless --min-accuracy is given and
    a set's accuracy is below it (1).

    \b
    Examples:
      rag eval                              dev and test, default answerer, eval-out/
      rag eval --qa evals/dev.jsonl --compare   + dense, bm25, LangChain baseline
      rag eval --answerer llm --limit 20    the llm answerer on 20 questions of each set
      rag eval --mode bm25 -k 3 --out /tmp/ev --min-accuracy 0.6
    """
    import json

    from rag.eval.qaset import load_qa
    from rag.eval.report import plain_summary, write_summary
    from rag.eval.runner import EvalConfig, compare_configs, run_eval, tqdm_progress
    from rag.pipeline import Pipeline

    paths = qa_paths or DEFAULT_QA
    sets = {p.stem: load_qa(p)[:limit] if limit else load_qa(p) for p in paths}
    if len(sets) != len(paths):
        raise click.UsageError("give each --qa file a different name")
    outs = {name: out_dir if len(paths) == 1 else out_dir / name for name in sets}
    for folder in outs.values():  # fail now, not after the whole run
        check_writable_dir(folder, "--out")
    settings = settings_from(ctx)
    chosen_mode = mode or settings.mode
    chosen_answerer = answerer or settings.answerer
    configs = (
        compare_configs(chosen_mode, chosen_answerer)
        if compare
        else [EvalConfig(chosen_mode, chosen_mode, chosen_answerer)]
    )
    pipeline = Pipeline(settings)
    click.echo("loading the index (the first build takes a few minutes)…", err=True)
    runs = {
        name: run_eval(pipeline, items, configs, k=top_k, out_dir=outs[name], qa_file=str(path),
                       progress=tqdm_progress)
        for (name, items), path in zip(sets.items(), paths, strict=True)
    }
    if len(runs) > 1:
        write_summary(runs, out_dir)
    report_skipped(getattr(pipeline, "problems", ()))  # a stand-in pipeline may not track files
    if as_json:
        reports = {name: run.report() for name, run in runs.items()}
        click.echo(json.dumps(reports if len(runs) > 1 else next(iter(reports.values())), ensure_ascii=False, indent=2))
    else:
        click.echo(plain_summary(runs))
        click.echo(f"\nwrote {out_dir}/" + ("summary.md and one folder per set" if len(runs) > 1 else "report.md"))
    low = [(name, run.accuracy()) for name, run in runs.items() if min_accuracy is not None and run.accuracy() < min_accuracy]
    for name, acc in low:
        click.echo(f"accuracy {acc:.3f} ({name}) is below --min-accuracy {min_accuracy:.3f}", err=True)
    if low:
        sys.stderr.flush()
        ctx.exit(1)

