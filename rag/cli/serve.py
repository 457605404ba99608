"""`rag serve`: the HTTP API (OpenAI-compatible) and the chat page in one process.

The API key can come from --api-key or RAG_API_KEY; on the command line it
is visible to other users in `ps`, so that use gets a warning.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from rag.cli.common import settings_from


@click.command()
@click.option("--host", help="Address to bind. [RAG_HOST; default 127.0.0.1] Another address needs an API key.")
@click.option("--port", type=click.IntRange(1, 65535), help="Port. [RAG_PORT; default 7860]")
@click.option("--api-key", envvar="RAG_API_KEY", help="Require 'Authorization: Bearer KEY' on every API request; prefer RAG_API_KEY (a flag shows in `ps`). [RAG_API_KEY]")
@click.option("--no-page", is_flag=True, help="Serve the API only, without the chat page.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, api_key: str | None, no_page: bool) -> None:
    """Serve the HTTP API and the chat page with warm models (until Ctrl-C).

    \b
    Endpoints: POST /v1/ask, POST /v1/search, GET /v1/health,
    GET /v1/models, POST /v1/chat/completions (OpenAI format, streaming),
    and the chat page at /. `rag ask` uses a running server by itself.

    \b
    Examples:
      rag serve                                  http://127.0.0.1:7860
      RAG_API_KEY=s3cret rag serve --host 0.0.0.0 --port 8000
    """
    from rag.serve import check_bind, run

    s = settings_from(ctx, host=host, port=port)
    check_bind(s.host, api_key)  # before any warning or loading
    if api_key and ctx.get_parameter_source("api_key") == ParameterSource.COMMANDLINE:
        click.echo("warning: an API key given with --api-key is visible to other users (ps); use RAG_API_KEY", err=True)
    run(s, api_key=api_key or None, page=not no_page)
