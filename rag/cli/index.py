"""`rag index`: build or refresh the index."""

from __future__ import annotations

import click

from rag.cli.common import EXIT_SKIPPED, progress_bars, report_skipped, settings_from


@click.command()
@click.option("--rebuild", is_flag=True, help="Rebuild from scratch, re-embedding everything.")
@click.pass_context
def index(ctx: click.Context, rebuild: bool) -> None:
    """Build the index, or refresh it if documents, model or settings changed.

    Only chunks whose text changed are embedded again, and a build that was
    interrupted resumes without embedding its finished batches again. A
    damaged index (changed files, malformed manifest or CURRENT) is rebuilt;
    --rebuild always starts from scratch. Exit status 3 when some files
    were skipped (each is named on stderr with the reason).
    """
    from rag.pipeline import Pipeline

    p = Pipeline(settings_from(ctx))
    report = p.ensure_index(progress=progress_bars(), force=rebuild, allow_build=True)
    report_skipped(report.problems)
    if report.built:
        why = f" ({'; '.join(report.reasons[:3])})" if report.reasons else ""
        resumed = f", {report.resumed} resumed from an interrupted build" if report.resumed else ""
        click.echo(
            f"built {report.path}{why}\n"
            f"{report.files} files, {report.articles} articles, {report.chunks} chunks "
            f"({report.embedded} embedded, {report.reused} reused{resumed}) in {report.seconds:.1f} s"
        )
    else:
        click.echo(f"index is up to date: {report.files} files, {report.articles} articles, {report.chunks} chunks ({report.path})")
    if report.problems:
        ctx.exit(EXIT_SKIPPED)
