"""`rag collections`, `rag add`, `rag remove`, `rag sync`: manage collections.

Thin: each command calls rag.collections and prints what happened, one
line per file. Exit status 3 when a file was refused (each named on stderr
with the reason), like `rag index` for skipped files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rag.cli.common import EXIT_SKIPPED, settings_from

if TYPE_CHECKING:
    from rag.collections import ChangeReport, Progress
    from rag.pipeline import Pipeline

COLLECTION_OPTION = click.option(
    "--collection", "collection", help="The collection to change. [RAG_COLLECTION; default: the group's --collection]"
)


def _pipeline(ctx: click.Context, collection: str | None) -> Pipeline:
    from rag.pipeline import Pipeline

    return Pipeline(settings_from(ctx, collection=collection))


def _print_report(ctx: click.Context, report: ChangeReport) -> None:
    for f in report.files:
        if f.action == "rejected":
            click.echo(f"rejected {f.name}: {f.reason}", err=True)
            continue
        what = ", ".join(x for x in (f.kind, f"{f.pages} pages" if f.pages else None) if x)
        click.echo(f"{f.action} {f.name}" + (f" ({what})" if what else "") + (f" [given as {f.given}]" if f.given else ""))
        for note in f.notes:
            click.echo(f"  note: {note}", err=True)
    b = report.build
    if b is not None:
        for prob in b.problems:
            click.echo(f"skipped {prob.source}: {prob.reason}", err=True)
        click.echo(
            f"collection {report.collection}: {b.files} documents, {b.chunks} chunks "
            f"({b.embedded} embedded, {b.reused} reused)"
        )
    if report.rejected:
        ctx.exit(EXIT_SKIPPED)


def _stage_lines() -> Callable[[Progress], None]:
    """Progress as one stderr line per file and stage ("reading a.pdf")."""
    seen: set[tuple[str, str]] = set()

    def show(e: Progress) -> None:
        if e.stage in ("reading", "indexing") and (e.name, e.stage) not in seen:
            seen.add((e.name, e.stage))
            click.echo(f"{e.stage} {e.name}…", err=True)

    return show


@click.command("collections")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
def collections_command(ctx: click.Context, as_json: bool) -> None:
    """List the collections with their document and chunk counts.

    \b
    Examples:
      rag collections
      rag --collection reports add ~/Downloads/*.pdf     (creates "reports")
    """
    from rag.collections import list_collections

    s = settings_from(ctx)
    infos = list_collections(s)
    if as_json:
        click.echo(json.dumps([{**i.__dict__, "docs_dir": str(i.docs_dir)} for i in infos], ensure_ascii=False, indent=2))
        return
    for i in infos:
        chunks = "not indexed" if i.chunks is None else f"{i.chunks} chunks"
        mark = "*" if i.name == s.collection else " "
        click.echo(f"{mark} {i.name:<20} {i.documents:>4} documents  {chunks:<14} {i.docs_dir}")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@COLLECTION_OPTION
@click.option("--link", is_flag=True, help="Hard-link the files instead of copying them (same file system).")
@click.pass_context
def add(ctx: click.Context, paths: tuple[Path, ...], collection: str | None, link: bool) -> None:
    """Add files to a collection (created if new) and index them.

    Each file is checked (size limit, format) and read (OCR for scans)
    before it is stored; only new chunks are embedded.

    \b
    Examples:
      rag add --collection reports report.pdf notes.docx page.html scan.png
      rag --collection reports ask "2022年实际外资是多少？"
    """
    from rag.collections import add_files

    _print_report(ctx, add_files(_pipeline(ctx, collection), list(paths), link=link, progress=_stage_lines()))


@click.command()
@click.argument("files", nargs=-1, required=True)
@COLLECTION_OPTION
@click.pass_context
def remove(ctx: click.Context, files: tuple[str, ...], collection: str | None) -> None:
    """Remove documents (names as `rag collections` lists them) and re-index.

    \b
    Example:
      rag remove --collection reports report.pdf
    """
    from rag.collections import remove_files

    _print_report(ctx, remove_files(_pipeline(ctx, collection), list(files)))


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@COLLECTION_OPTION
@click.option("--keep", is_flag=True, help="Do not delete documents the folder no longer has.")
@click.pass_context
def sync(ctx: click.Context, folder: Path, collection: str | None, keep: bool) -> None:
    """Bring a collection in line with FOLDER: add new files, update changed
    ones (by content hash), delete those FOLDER no longer has; re-index.

    \b
    Example:
      rag sync --collection papers ~/papers
    """
    from rag.collections import sync_folder

    _print_report(ctx, sync_folder(_pipeline(ctx, collection), folder, delete=not keep, progress=_stage_lines()))
