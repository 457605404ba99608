"""`rag ask` and `rag search`: one question, from the shell."""

from __future__ import annotations

import json
from collections.abc import Callable

import click

from rag.cli.common import format_answer, mode_and_k, progress_bars, report_skipped, settings_from
from rag.config import Settings
from rag.ingest import Problem
from rag.types import ANSWERER_CHOICES, Answer


@click.command()
@click.argument("query")
@mode_and_k
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, mode: str | None, top_k: int | None, as_json: bool) -> None:
    """Show the passages retrieved for QUERY, with dense and BM25 ranks.

    \b
    Examples:
      rag search "日资企业" --mode bm25
      rag search "actual FDI 2022" -k 10 --json
    """
    from rag.pipeline import Pipeline

    p = Pipeline(settings_from(ctx, mode=mode, top_k=top_k))
    p.check_question(query)
    p.ensure_index(progress=progress_bars())
    report_skipped(p.problems)
    timings: dict[str, float] = {}
    hits = p.search(query, timings=timings)
    if as_json:
        out = {"query": query, "hits": [h.to_dict() for h in hits], "timings_ms": timings,
               "skipped": [x.to_dict() for x in p.problems]}
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("no passages matched")
    for h in hits:
        c = h.chunk
        dr = h.dense_rank if h.dense_rank is not None else "-"
        br = h.bm25_rank if h.bm25_rank is not None else "-"
        page = f" p. {c.page}" if c.page is not None else ""
        click.echo(f"#{h.rank}  score {h.score:.4f}  dense #{dr}  bm25 #{br}  {c.source}{page} [{c.orig_start}:{c.orig_end}] {c.title} ({c.date or 'no date'})")
        click.echo(f"    {c.text[:160]}{'…' if len(c.text) > 160 else ''}")
    if ctx.meta.get("verbose"):
        click.echo("timings (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), err=True)


@click.command()
@click.argument("question")
@mode_and_k
@click.option("--answerer", type=click.Choice(ANSWERER_CHOICES), help="How to answer; auto = llm when a model is available, else extractive. [RAG_ANSWERER; default auto]")
@click.option("--json", "as_json", is_flag=True, help="Print the whole Answer as JSON (citations, hits, timings, verification).")
@click.option("--stream/--no-stream", default=True, help="Stream generated tokens (llm answerer).")
@click.option("--local", is_flag=True, help="Answer in this process even when a `rag serve` is running. [RAG_SERVER_URL=off]")
@click.pass_context
def ask(ctx: click.Context, question: str, mode: str | None, top_k: int | None, answerer: str | None,
        as_json: bool, stream: bool, local: bool) -> None:
    """Answer QUESTION from the documents, with numbered sources.

    When a `rag serve` with the same documents and settings answers at
    RAG_SERVER_URL (default http://127.0.0.1:RAG_PORT), it answers (its
    models are warm); else the question is answered in this process. The
    output is the same either way; -v says which answered.

    \b
    Examples:
      rag ask "平湖有多少家日资企业？"
      rag ask "How much actual FDI was there in 2022?" -k 8 --json
      rag ask --local "2022年平湖实际外资是多少？"
    """
    s = settings_from(ctx, mode=mode, top_k=top_k, answerer=answerer)
    verbose = bool(ctx.meta.get("verbose"))
    live = stream and not as_json
    streamed: list[str] = []

    def on_delta(delta: str) -> None:
        click.echo(delta, nl=False)
        streamed.append(delta)

    result = None if local else _ask_server(s, question, live, on_delta, verbose)
    if result is None:
        result = _ask_here(s, question, live, on_delta)
    final, skipped = result
    if as_json:
        out = {**final.to_dict(), "skipped": [x.to_dict() for x in skipped]}
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if streamed:
        click.echo("\n")
    click.echo(format_answer(final, verbose=verbose))


def _ask_server(
    s: Settings, question: str, live: bool, on_delta: Callable[[str], None], verbose: bool,
) -> tuple[Answer, list[Problem]] | None:
    """The answer of a running server, or None (then the caller answers in-process)."""
    from rag.serve.client import ServerGone, ask_server, find_server

    server, why = find_server(s)
    if server is None:
        if verbose:
            click.echo(f"answering in this process: {why}", err=True)
        return None
    if verbose:
        click.echo(f"answered by {why}", err=True)
    sent: list[str] = []

    def relay(delta: str) -> None:
        sent.append(delta)
        on_delta(delta)

    options = {"collection": s.collection, "mode": s.mode, "k": s.top_k, "answerer": s.answerer, "fusion": s.fusion}
    try:
        final, skipped = ask_server(server, question, options, stream=live, on_delta=relay)
    except ServerGone as e:
        if sent:  # part of the answer is printed: starting again would repeat it
            raise
        if verbose:
            click.echo(f"answering in this process: {e}", err=True)
        return None
    report_skipped(skipped)
    return final, skipped


def _ask_here(s: Settings, question: str, live: bool, on_delta: Callable[[str], None]) -> tuple[Answer, list[Problem]]:
    from rag.pipeline import Pipeline

    p = Pipeline(s)
    p.check_question(question)
    p.ensure_index(progress=progress_bars())
    report_skipped(p.problems)
    answering = p.stream(question)
    if live:
        for delta in answering:
            on_delta(delta)
    return answering.answer(), p.problems
