"""The `rag` command line. Thin: each command calls the library.

Exit status: 0 success; 1 a handled error (one line on stderr); 2 a usage
error; 3 `rag index` finished but skipped unreadable files. This module is
the only place where `RagError` becomes an exit code.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rag.config import Settings
from rag.errors import RagError
from rag.types import MODES, Answer

EXIT_SKIPPED = 3


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    base: dict[str, Any] = ctx.obj or {}
    return Settings.load(**{**base, **{k: v for k, v in overrides.items() if v is not None}})


def _progress() -> Callable[[str, int, int], None]:
    """A tqdm bar per stage, on stderr."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if total == 0:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="chunk", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--docs", "docs_dir", type=click.Path(path_type=Path), help="Documents folder (.txt/.md). [RAG_DOCS_DIR; default: seeds/]")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder. [RAG_INDEX_DIR; default: index/]")
@click.option("--model", "embed_model", help="Embedding model: a sentence-transformers name or path. [RAG_EMBED_MODEL]")
@click.option("--no-build", is_flag=True, help="Never build the index; fail if it is missing or stale. [RAG_AUTO_BUILD=0]")
@click.option("-v", "--verbose", is_flag=True, help="Show per-stage timings and debug logs.")
@click.version_option(package_name="rag-zh")
@click.pass_context
def cli(ctx: click.Context, docs_dir: Path | None, index_dir: Path | None, embed_model: str | None, no_build: bool, verbose: bool) -> None:
    """Offline question answering with cited sources over Chinese documents.

    \b
    Examples:
      rag index                          build or refresh the index
      rag ask "2022年平湖实际外资是多少？"
      rag ask "How much actual FDI was there in 2022?" --json
      rag search "日资企业" --mode bm25
      rag chat                           the web page on http://127.0.0.1:7860
      rag eval --compare                 score the eval set
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"docs_dir": docs_dir, "index_dir": index_dir, "embed_model": embed_model}
    if no_build:
        ctx.obj["auto_build"] = False
    ctx.meta["verbose"] = verbose


@cli.command()
@click.option("--rebuild", is_flag=True, help="Rebuild from scratch, re-embedding everything.")
@click.pass_context
def index(ctx: click.Context, rebuild: bool) -> None:
    """Build the index, or refresh it if documents, model or settings changed.

    Only chunks whose text changed are embedded again.
    """
    from rag.pipeline import Pipeline
    from rag.store import ensure_index

    s = _settings(ctx)
    p = Pipeline(s)
    _, report = ensure_index(s, p.embedder, allow_build=True, force=rebuild, progress=_progress())
    for prob in report.problems:
        click.echo(f"skipped {prob.source}: {prob.reason}", err=True)
    if report.built:
        why = f" ({'; '.join(report.reasons[:3])})" if report.reasons else ""
        click.echo(
            f"built {report.path}{why}\n"
            f"{report.files} files, {report.articles} articles, {report.chunks} chunks "
            f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s"
        )
    else:
        click.echo(f"index is up to date: {report.files} files, {report.articles} articles, {report.chunks} chunks ({report.path})")
    if report.problems:
        ctx.exit(EXIT_SKIPPED)


def _mode_k(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("-k", "--top-k", "top_k", type=click.IntRange(1, 50), help="Passages to retrieve. [RAG_TOP_K; default 5]")(f)
    f = click.option("--mode", type=click.Choice(MODES), help="Retrieval mode. [RAG_MODE; default hybrid]")(f)
    return f


@cli.command()
@click.argument("query")
@_mode_k
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, mode: str | None, top_k: int | None, as_json: bool) -> None:
    """Show the passages retrieved for QUERY, with dense and BM25 ranks."""
    from rag.pipeline import Pipeline

    p = Pipeline(_settings(ctx, mode=mode, top_k=top_k))
    p.ensure_index(progress=_progress())
    timings: dict[str, float] = {}
    hits = p.search(query, timings=timings)
    if as_json:
        click.echo(json.dumps({"query": query, "hits": [h.to_dict() for h in hits], "timings_ms": timings}, ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("no passages matched")
    for h in hits:
        c = h.chunk
        dr = h.dense_rank if h.dense_rank is not None else "-"
        br = h.bm25_rank if h.bm25_rank is not None else "-"
        click.echo(f"#{h.rank}  score {h.score:.4f}  dense #{dr}  bm25 #{br}  {c.source} [{c.orig_start}:{c.orig_end}] {c.title} ({c.date or 'no date'})")
        click.echo(f"    {c.text[:160]}{'…' if len(c.text) > 160 else ''}")
    if ctx.meta.get("verbose"):
        click.echo("timings (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), err=True)


@cli.command()
@click.argument("question")
@_mode_k
@click.option("--answerer", type=click.Choice(["extractive", "llm"]), help="How to answer. [RAG_ANSWERER; default extractive]")
@click.option("--json", "as_json", is_flag=True, help="Print the whole Answer as JSON (citations, hits, timings, verification).")
@click.option("--stream/--no-stream", default=True, help="Stream generated tokens (llm answerer).")
@click.pass_context
def ask(ctx: click.Context, question: str, mode: str | None, top_k: int | None, answerer: str | None, as_json: bool, stream: bool) -> None:
    """Answer QUESTION from the documents, with numbered sources.

    \b
    Examples:
      rag ask "平湖有多少家日资企业？"
      rag ask "How much actual FDI was there in 2022?" -k 8 --json
    """
    from rag.pipeline import Pipeline

    s = _settings(ctx, mode=mode, top_k=top_k, answerer=answerer)
    p = Pipeline(s)
    p.check_question(question)
    p.ensure_index(progress=_progress())
    final: Answer | None = None
    streamed = False
    for part in p.stream(question, stream=stream and not as_json):
        if isinstance(part, Answer):
            final = part
        else:
            click.echo(part, nl=False)
            streamed = True
    assert final is not None
    if as_json:
        click.echo(json.dumps(final.to_dict(), ensure_ascii=False, indent=2))
        return
    if streamed:
        click.echo("\n")
    click.echo(format_answer(final, verbose=bool(ctx.meta.get("verbose"))))


def format_answer(a: Answer, verbose: bool = False) -> str:
    lines = []
    if a.rewritten_question:
        lines.append(f"(interpreted as: {a.rewritten_question})")
    lines.append(a.text)
    if a.notice:
        lines.append(f"note: {a.notice}")
    if a.citations:
        lines.append("")
        lines.append("Sources:" if a.lang == "en" else "来源：")
        for c in a.citations:
            lines.append(f"[{c.n}] {c.source} · 《{c.title}》 · {c.date or 'no date'} · chars {c.start}-{c.end}")
            lines.append(f"    “{c.quote}”")
    v = a.verification
    if v is not None and (v.failures or v.dropped):
        lines.append("")
        lines.append(f"verification: {len(v.failures)} problem(s); dropped: {len(v.dropped)}")
        lines.extend(f"  - {f}" for f in v.failures)
    if verbose:
        lines.append("")
        lines.append("timings (ms): " + ", ".join(f"{k} {t:.1f}" for k, t in a.timings_ms.items()))
    return "\n".join(lines)


@cli.command()
@click.option("--host", help="Address to bind. [RAG_HOST; default 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), help="Port. [RAG_PORT; default 7860]")
@click.option("--allow-remote", is_flag=True, help="Required to bind a non-loopback address (prints a warning).")
@click.option("--username", envvar="RAG_UI_USERNAME", help="Require this user name (with --password). [RAG_UI_USERNAME]")
@click.option("--password", envvar="RAG_UI_PASSWORD", help="Password for --username. [RAG_UI_PASSWORD]")
@click.pass_context
def chat(ctx: click.Context, host: str | None, port: int | None, allow_remote: bool, username: str | None, password: str | None) -> None:
    """Start the chat page (builds the index first if needed)."""
    if bool(username) != bool(password):
        raise click.UsageError("--username and --password go together")
    from ui.app import launch

    s = _settings(ctx, host=host, port=port)
    launch(s, allow_remote=allow_remote, auth=(username, password) if username and password else None)


def _register_optional() -> None:
    try:
        from rag.cli_eval import eval_command
    except ImportError:  # pragma: no cover - shipped with the package
        return
    cli.add_command(eval_command, "eval")


_register_optional()


def main(argv: list[str] | None = None) -> None:
    """Entry point: translate library errors into one line and exit 1."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        # Without standalone mode click returns ctx.exit(n)'s code instead
        # of raising Exit; dropping it would turn exit 3/1 into 0.
        rc = cli.main(args=argv, prog_name="rag", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except RagError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
