"""What every command shares: settings from the group's options, progress
bars, reporting skipped files, and printing an Answer for people."""

from __future__ import annotations

import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from rag.config import Settings
from rag.errors import InputError
from rag.ingest import Problem
from rag.types import MODES, Answer

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_SKIPPED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# Set by `rag.cli.main`'s SIGINT handler. A KeyboardInterrupt raised while
# Python runs a finaliser (`__del__`, e.g. during a model load) is printed
# and dropped, so the flag is what makes Ctrl-C stick: progress callbacks
# raise again, and `main` exits 130 whatever happened after.
INTERRUPTED = threading.Event()


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings: the group's options and the command's flags over RAG_* over defaults."""
    base: dict[str, Any] = ctx.obj or {}
    return Settings.load(**{**base, **{k: v for k, v in overrides.items() if v is not None}})


def report_skipped(problems: Sequence[Problem]) -> None:
    """One stderr line per file that is not in the index, with the reason
    (the same lines from `rag index`, `ask` and `search`)."""
    for p in problems:
        click.echo(p.line(), err=True)


def check_writable_dir(path: Path, option: str) -> None:
    """Fail now, not after a long run, if results cannot be written to `path`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as e:
        raise InputError(f"{option} {path} is not a writable folder ({e.strerror or e})") from e


def progress_bars() -> Callable[[str, int, int], None]:
    """A tqdm bar per stage, on stderr when it is a terminal (a log or a pipe
    gets only the result lines)."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if INTERRUPTED.is_set():
            raise KeyboardInterrupt
        if total == 0:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(
                total=total, desc=stage, unit="chunk", file=sys.stderr, leave=False, disable=None
            )
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def mode_and_k(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("-k", "--top-k", "top_k", type=click.IntRange(1, 50), help="Passages to retrieve. [RAG_TOP_K; default 5]")(f)
    f = click.option("--mode", type=click.Choice(MODES), help="Retrieval mode. [RAG_MODE; default hybrid]")(f)
    return f


def format_answer(a: Answer, verbose: bool = False) -> str:
    """An Answer as people read it: text, notes, numbered sources."""
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
            page = f" · p. {c.page}" if c.page is not None else ""
            lines.append(f"[{c.n}] {c.source}{page} · 《{c.title}》 · {c.date or 'no date'} · chars {c.start}-{c.end}")
            lines.append(f"    “{c.quote}”")
    lines.append("")
    lines.append(f"(answerer: {a.answerer})")
    v = a.verification
    if v is not None and (v.failures or v.dropped):
        lines.append("")
        lines.append(f"verification: {len(v.failures)} problem(s); dropped: {len(v.dropped)}")
        lines.extend(f"  - {f}" for f in v.failures)
    if verbose:
        lines.append("")
        lines.append("timings (ms): " + ", ".join(f"{k} {t:.1f}" for k, t in a.timings_ms.items()))
    return "\n".join(lines)
