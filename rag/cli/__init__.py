"""The `rag` command line. Thin: each command calls the library.

    rag [global options] index | search | ask | chat | serve | eval | collections | add | remove | sync

One module per command family (index, query, chat, serve, eval, collections); `common` holds
what they share. Exit status: 0 success; 1 a handled error (one line on
stderr); 2 a usage error; 3 `rag index` finished but skipped unreadable
files; 130 interrupted (Ctrl-C, also during a build or a model load).
`main` is the only place where an exception becomes an exit code: every
exception, expected or not, is one line (`rag.errors.user_message`); `-v`
adds the traceback of an unexpected one.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import click

from rag.cli.chat import chat
from rag.cli.collections import add, collections_command, remove, sync
from rag.cli.common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_SKIPPED, INTERRUPTED, format_answer
from rag.cli.eval import eval_command
from rag.cli.index import index
from rag.cli.query import ask, search
from rag.cli.serve import serve
from rag.errors import RagError, user_message

__all__ = ["EXIT_SKIPPED", "cli", "format_answer", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--docs", "docs_dir", type=click.Path(path_type=Path), help="Documents folder of the default collection. [RAG_DOCS_DIR; default: seeds/]")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder. [RAG_INDEX_DIR; default: index/]")
@click.option("--model", "embed_model", help="Embedding model: a sentence-transformers name or path. [RAG_EMBED_MODEL]")
@click.option("--collection", help="Collection to use (see rag collections). [RAG_COLLECTION; default: seeds]")
@click.option("--no-build", is_flag=True, help="Never build the index; fail if it is missing or stale. [RAG_AUTO_BUILD=0]")
@click.option("-v", "--verbose", is_flag=True, help="Show per-stage timings and debug logs.")
@click.version_option(package_name="rag-zh")
@click.pass_context
def cli(ctx: click.Context, docs_dir: Path | None, index_dir: Path | None, embed_model: str | None, collection: str | None, no_build: bool, verbose: bool) -> None:
    """Offline question answering with cited sources over Chinese documents.

    \b
    Examples:
      rag index                          build or refresh the index
      rag ask "2022年平湖实际外资是多少？"
      rag ask "How much actual FDI was there in 2022?" --json
      rag search "日资企业" --mode bm25
      rag chat                           the web page on http://127.0.0.1:7860
      rag serve                          the page and the HTTP API (rag ask then uses it)
      rag eval --compare                 score the eval set
      rag --collection t add a.pdf b.docx  add files to collection "t"
      rag --collection t ask "…"         ask collection "t"
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"docs_dir": docs_dir, "index_dir": index_dir, "embed_model": embed_model, "collection": collection}
    if no_build:
        ctx.obj["auto_build"] = False
    ctx.meta["verbose"] = verbose


for _command in (index, search, ask, chat, serve, eval_command, collections_command, add, remove, sync):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every exception becomes one line and an exit status."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    INTERRUPTED.clear()
    previous, hook = _catch_sigint(), sys.unraisablehook
    sys.unraisablehook = _quiet_interrupts(hook)
    try:
        _run(argv)
    finally:
        sys.unraisablehook = hook
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _quiet_interrupts(hook: Any) -> Any:
    """A Ctrl-C that lands in a finaliser is remembered, not printed as a traceback."""

    def unraisable(u: Any) -> None:
        if isinstance(u.exc_value, KeyboardInterrupt):
            INTERRUPTED.set()
            return
        hook(u)

    return unraisable


def _catch_sigint() -> Any:
    """Remember Ctrl-C (see INTERRUPTED), then interrupt as Python does."""

    def on_sigint(signum: int, frame: Any) -> None:
        INTERRUPTED.set()
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:  # started in the background by a shell: keep it so
        return None
    signal.signal(signal.SIGINT, on_sigint)
    return previous


def _run(argv: list[str] | None) -> None:
    try:
        # Without standalone mode click returns ctx.exit(n)'s code instead
        # of raising Exit; dropping it would turn exit 3/1 into 0.
        rc = cli.main(args=argv, prog_name="rag", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C (KeyboardInterrupt) into Abort outside standalone mode.
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except BrokenPipeError:  # `rag search ... | head`: the reader left; not an error to report
        _silence_stdout()
        sys.exit(EXIT_ERROR)
    except Exception as e:  # noqa: BLE001 - the edge: one line, never a traceback
        args = sys.argv[1:] if argv is None else argv
        if not isinstance(e, RagError | OSError) and ("-v" in args or "--verbose" in args):
            traceback.print_exc()
        click.echo(f"error: {user_message(e)}", err=True)
        sys.exit(EXIT_INTERRUPTED if INTERRUPTED.is_set() else EXIT_ERROR)
    if INTERRUPTED.is_set():  # the interrupt was swallowed somewhere; it still counts
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(rc if isinstance(rc, int) else 0)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
