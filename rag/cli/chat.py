"""`rag chat`: the chat page.

The password can come from --password, RAG_UI_PASSWORD or a file
(--password-file / RAG_UI_PASSWORD_FILE); on the command line it is
visible to other users in `ps`, so that use gets a warning. Failed logins
are slowed down per client (ui/auth.py).
"""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from rag.cli.common import settings_from
from rag.errors import InputError


@click.command()
@click.option("--host", help="Address to bind. [RAG_HOST; default 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), help="Port. [RAG_PORT; default 7860]")
@click.option("--allow-remote", is_flag=True, help="Required to bind a non-loopback address (prints a warning).")
@click.option("--username", envvar="RAG_UI_USERNAME", help="Require this user name (with a password). [RAG_UI_USERNAME]")
@click.option("--password", envvar="RAG_UI_PASSWORD", help="Password for --username; prefer the variable or --password-file (a flag shows in `ps`). [RAG_UI_PASSWORD]")
@click.option("--password-file", envvar="RAG_UI_PASSWORD_FILE", type=click.Path(path_type=Path, dir_okay=False),
              help="Read the password from this file (first line). [RAG_UI_PASSWORD_FILE]")
@click.pass_context
def chat(ctx: click.Context, host: str | None, port: int | None, allow_remote: bool, username: str | None,
         password: str | None, password_file: Path | None) -> None:
    """Start the chat page (builds the index first if needed)."""
    if password and password_file:
        raise click.UsageError("give the password one way: --password or --password-file")
    if password_file:
        password = read_password(password_file)
    if bool(username) != bool(password):
        raise click.UsageError("--username and --password (or --password-file) go together")
    if password and ctx.get_parameter_source("password") == ParameterSource.COMMANDLINE:
        click.echo("warning: a password given with --password is visible to other users (ps); "
                   "use RAG_UI_PASSWORD or --password-file", err=True)
    from ui.app import launch

    s = settings_from(ctx, host=host, port=port)
    launch(s, allow_remote=allow_remote, auth=(username, password) if username and password else None)


def read_password(path: Path) -> str:
    """The first line of a password file, without its line break."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"password file {path} cannot be read ({getattr(e, 'strerror', None) or e})") from e
    lines = raw.splitlines()
    if not lines or not lines[0]:
        raise InputError(f"password file {path} is empty")
    return lines[0]
