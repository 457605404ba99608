"""The error tree. Library code raises these; the CLI and UI translate them.

    RagError                  anything the user can act on
    ├── ConfigError           a setting is invalid (bad value, bad combination)
    ├── InputError            a question is empty or too long, a file is bad input
    │   └── DocumentError     one document cannot be read (the message says why)
    ├── IndexNotReadyError    no index, or a stale one while auto-build is off
    │                         (also: its Milvus collection is missing or has another schema)
    ├── StoreError            the vector store cannot be reached or failed (a Milvus server)
    ├── ModelError            a model is missing, corrupt or not installed
    │   └── MissingExtraError an optional extra is needed; says which command installs it
    └── GenerationError       a chat model backend failed (timeout, HTTP error)

Every message is one line a user can act on. Anything else that escapes
is a bug, and the CLI shows it as such. `user_message(exc)` is that one
line, for every surface (CLI, page, API) alike.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: a handled failure with a one-line, actionable message."""


class ConfigError(RagError):
    pass


class InputError(RagError):
    pass


class DocumentError(InputError):
    """One document cannot be read; the message is the reason, without the name."""


class IndexNotReadyError(RagError):
    pass


class StoreError(RagError):
    """The vector store (a Milvus server or Milvus Lite) cannot be reached or
    failed. Never answered with a fallback to another store."""


class ModelError(RagError):
    pass


class MissingExtraError(ModelError):
    def __init__(self, package: str, install: str, what: str = "") -> None:
        self.package = package
        self.install = install
        why = f" ({what})" if what else ""
        super().__init__(f"{package} is not installed{why}; install it with: {install}")


class GenerationError(RagError):
    pass


def user_message(exc: BaseException) -> str:
    """The one line every surface shows for an exception."""
    if isinstance(exc, RagError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot access{where}: {exc.strerror or exc}"
    first = (str(exc).splitlines() or [""])[0][:200]
    return f"unexpected {type(exc).__name__}: {first} (a bug; please report it with the output of -v)"
