"""llama.cpp as a langchain chat model: the only module that imports llama_cpp.

    LlamaCppChat(model_path=..., n_threads=2).invoke(messages)

The Llama object is loaded once per process and path (it takes a second or
two and 1.1 GB of memory) and is not thread-safe, so calls are serialised
with a lock.

Left out: choosing a backend (rag/models/chat.py) and finding the GGUF
file (rag/models/gguf.py).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rag.errors import MissingExtraError, ModelError
from rag.models.gguf import INSTALL_HINT

N_CTX = 2048  # the prompt is ~1,000 tokens plus up to llm_max_tokens of answer

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}
_loaded: dict[tuple[str, int, int], Any] = {}


@atexit.register
def _close_all() -> None:
    """Free the models before the interpreter tears down llama.cpp's own
    module (its finaliser otherwise prints a traceback at exit)."""
    while _loaded:
        _, llama = _loaded.popitem()
        with contextlib.suppress(Exception):
            llama.close()
_load_lock = threading.Lock()


def installed() -> bool:
    """Is llama-cpp-python importable (without importing it)?"""
    return importlib.util.find_spec("llama_cpp") is not None


class LlamaCppChat(BaseChatModel):
    """llama_cpp.Llama.create_chat_completion as a langchain chat model.

    The chat template comes from the GGUF metadata (Qwen's ChatML here).
    """

    model_path: str
    n_ctx: int = N_CTX
    n_threads: int = 2  # the caller passes the available cores (Settings.llm_threads)
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
        request: dict[str, Any] = {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages],
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "stop": stop or [],
        }
        fmt = kwargs.get("response_format")
        if fmt and fmt.get("type") == "json_schema":
            # OpenAI's structured-output field -> llama.cpp's JSON grammar.
            request["response_format"] = {"type": "json_object", "schema": fmt["json_schema"]["schema"]}
        elif fmt:
            request["response_format"] = fmt
        return request

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
