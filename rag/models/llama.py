"""llama.cpp as a langchain chat model: the only module that imports llama_cpp.

    LlamaCppChat(model_path=..., n_threads=2).invoke(messages)

The Llama object is loaded once per process and path (it takes a second or
two and 1.8 GB of memory) and is not thread-safe, so calls are serialised
with a lock.

llama.cpp reuses the evaluated tokens of the previous call that the new
prompt starts with, so the reader's fixed system prompt is evaluated once.
A side call (`side=True`: translating a question, condensing a follow-up)
has another system prompt and would evict it, costing the next answer
several seconds (prompt evaluation runs at ~70 tokens/s on two cores); so
a side call swaps the reader's evaluated state out and its own in, and
back afterwards (about 25 ms each way), instead of loading a second 1.8 GB
copy of the model.

Greedy decoding under a JSON grammar checks the model's best token against
the grammar first and masks the whole 151k-token vocabulary only when that
token is not allowed (`_GreedyGrammarSampler`; llama.cpp's own common
sampler does the same). The tokens are the same as masking first, and
generation runs at ~21 instead of ~13 tokens/s on two cores.

Left out: choosing a backend (rag/models/chat.py) and finding the GGUF
file (rag/models/gguf.py).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rag.errors import MissingExtraError, ModelError
from rag.models.gguf import INSTALL_HINT

N_CTX = 2048  # the prompt is ~1,000 tokens plus up to llm_max_tokens of answer

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}
_loaded: dict[tuple[str, int, int, bool], Any] = {}


@atexit.register
def _close_all() -> None:
    """Free the models before the interpreter tears down llama.cpp's own
    module (its finaliser otherwise prints a traceback at exit)."""
    _side_contexts.clear()
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
    # Flash attention: prompt evaluation ~10 % faster on two AVX2/AVX-512 cores (bench/bench_llm.py).
    flash_attn: bool = True
    side: bool = False  # a side call: leaves the evaluated context as it found it

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "temperature": self.temperature}

    @property
    def llama(self) -> Any:
        """The process-wide llama_cpp.Llama for this file (loaded on first use)."""
        key = (self.model_path, self.n_ctx, self.n_threads, self.flash_attn)
        with _load_lock:
            if key not in _loaded:
                try:
                    from llama_cpp import Llama
                except ImportError as e:
                    raise MissingExtraError("llama-cpp-python", INSTALL_HINT, "the local model") from e
                try:
                    _loaded[key] = _llama_class(Llama)(
                        model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                        flash_attn=self.flash_attn, verbose=False,
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
        with _call_lock(llama), _context_kept(llama, self.side):
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
        with _call_lock(llama), _context_kept(llama, self.side):
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


def _llama_class(base: type) -> type:
    """llama_cpp.Llama with the grammar checked after the greedy choice."""

    class _Llama(base):  # type: ignore[misc,valid-type]
        def _init_sampler(self, *args: Any, **kwargs: Any) -> Any:
            grammar = kwargs.get("grammar")
            neutral = (
                kwargs.get("temp", 0.8) == 0.0
                and kwargs.get("repeat_penalty", 1.0) == 1.0
                and kwargs.get("frequency_penalty", 0.0) == 0.0
                and kwargs.get("presence_penalty", 0.0) == 0.0
                and kwargs.get("logits_processor") is None
            )
            if grammar is None or args or not neutral:
                return super()._init_sampler(*args, **kwargs)
            return _GreedyGrammarSampler(self, grammar)

    return _Llama


class _GreedyGrammarSampler:
    """Greedy decoding under a grammar, best token first.

    Masking with a grammar means matching every one of the 151,646 tokens'
    text against the grammar's stacks at every step: a third of the
    generation time on two cores. Greedy decoding needs only the best
    allowed token, and the best token overall is nearly always allowed (the
    model has read the schema), so that one is checked first; the whole
    vocabulary is masked only when it is refused. The argmax of the masked
    logits is then the same token the stock chain (grammar, then greedy)
    picks: the first highest logit among the allowed tokens.

    Stands in for llama_cpp's LlamaSampler inside Llama.generate, which
    calls only `sample`.
    """

    def __init__(self, llama: Any, grammar: Any) -> None:
        import llama_cpp
        import numpy as np

        self._lib = llama_cpp
        self._np = np
        self._n_vocab = int(llama.n_vocab())
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            llama._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._sampler:
            raise ModelError("llama.cpp could not parse the JSON grammar")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all: Any = None  # the whole vocabulary, built on the first refusal

    def _apply(self, data: Any, size: int) -> None:
        lib = self._lib
        cur = lib.llama_token_data_array(
            data=ctypes.cast(data, lib.llama_token_data_p), size=size, selected=-1, sorted=False
        )
        lib.llama_sampler_apply(self._sampler, ctypes.byref(cur))

    def sample(self, ctx: Any, idx: int = -1) -> int:
        np = self._np
        pointer = self._lib.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        token = int(logits.argmax())
        one: Any = self._one[0]
        one.id, one.logit, one.p = token, float(logits[token]), 0.0
        self._apply(self._one, 1)
        if one.logit == float("-inf"):  # not allowed here: mask the whole vocabulary
            if self._all is None:
                self._all = (self._lib.llama_token_data * self._n_vocab)()
                np.ctypeslib.as_array(self._all)["id"] = np.arange(self._n_vocab)  # ids never change
            view = np.ctypeslib.as_array(self._all)
            view["logit"] = logits
            view["p"] = 0.0
            self._apply(self._all, self._n_vocab)
            token = int(view["logit"].argmax())
            if view["logit"][token] == float("-inf"):
                raise ModelError("the JSON grammar allows no next token")
        self._lib.llama_sampler_accept(self._sampler, token)
        return token

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


_call_locks: dict[int, threading.Lock] = {}


def _call_lock(llama: Any) -> threading.Lock:
    with _load_lock:
        return _call_locks.setdefault(id(llama), threading.Lock())


@dataclass(frozen=True)
class _Evaluated:
    """A context's evaluated tokens: the KV cache of sequence 0 and the token ids."""

    state: Any  # ctypes byte array
    size: int
    ids: Any  # numpy array of token ids


def _save(llama: Any) -> _Evaluated | None:
    n = int(llama.n_tokens)
    if n == 0:
        return None
    import llama_cpp

    ctx = llama._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, 0)
    state = (ctypes.c_uint8 * size)()
    got = int(llama_cpp.llama_state_seq_get_data(ctx, state, size, 0))
    return _Evaluated(state, got, llama.input_ids[:n].copy()) if got else None


def _load(llama: Any, saved: _Evaluated | None) -> None:
    """Put `saved` back (None: an empty context). On failure the context is
    reset: correct, only slower."""
    import llama_cpp

    llama._ctx.kv_cache_seq_rm(-1, 0, -1)
    if saved is not None and llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, saved.state, saved.size, 0) == saved.size:
        n = len(saved.ids)
        llama.input_ids[:n] = saved.ids
        llama.n_tokens = n
        llama._requires_eval = True  # the logits are not the restored state's
    else:
        llama.reset()


_side_contexts: dict[int, _Evaluated | None] = {}


@contextlib.contextmanager
def _context_kept(llama: Any, side: bool) -> Iterator[None]:
    """For a side call: swap the reader's evaluated tokens out and the side
    calls' own (their fixed system prompt) in, and back afterwards, so that
    both prefixes stay evaluated (~25 ms a swap, a few MB each)."""
    if not side:
        yield
        return
    reader = _save(llama)
    _load(llama, _side_contexts.get(id(llama)))
    try:
        yield
    finally:
        _side_contexts[id(llama)] = _save(llama)
        _load(llama, reader)
