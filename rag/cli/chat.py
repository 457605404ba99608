"""`rag chat`: the chat page."""

from __future__ import annotations

import click

from rag.cli.common import settings_from


@click.command()
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

    s = settings_from(ctx, host=host, port=port)
    launch(s, allow_remote=allow_remote, auth=(username, password) if username and password else None)
