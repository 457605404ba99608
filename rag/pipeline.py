"""The library's front door: question in, `Answer` out.

`Pipeline` wires the stages together (index -> retrieve -> answer) and
times each one. The CLI, the UI and the eval runner all call it; none of
them contains retrieval or answering logic.

    p = Pipeline(Settings.load())
    p.ensure_index()                       # build or refresh if stale
    ans = p.ask("2022年实际外资是多少？")   # Answer with citations
    for part in p.stream(q): ...           # str deltas, then the Answer

Slow parts are injected: pass `embedder=` (a langchain Embeddings, e.g.
`FakeEmbedder`) or `chat_model=` (a langchain chat model) to replace the
real ones. Construction is cheap; models load on first use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from langchain_core.embeddings import Embeddings

from rag.answer import ExtractiveAnswerer
from rag.answerer import Answerer
from rag.config import Settings
from rag.errors import ConfigError, InputError
from rag.lang import detect_lang
from rag.retrieve import HybridRetriever
from rag.store import BuildReport, Index, ProgressFn, ensure_index
from rag.types import Answer, Hit, Turn

ANSWERERS = ("extractive", "llm")


class Pipeline:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embeddings | None = None,
        chat_model: Any = None,
    ) -> None:
        self.settings = settings or Settings.load()
        self._embedder = embedder
        self._chat_model = chat_model
        self._index: Index | None = None
        self._answerers: dict[str, Answerer] = {}
        self._lock = threading.RLock()
        self.last_build: BuildReport | None = None

    # -- components, created on first use ---------------------------------
    @property
    def embedder(self) -> Embeddings:
        if self._embedder is None:
            from rag.embed import load_embedder

            self._embedder = load_embedder(self.settings)
        return self._embedder

    def ensure_index(
        self, progress: ProgressFn | None = None, *, rebuild: bool | None = None
    ) -> BuildReport:
        """Load the index, building or refreshing it when the seeds, model or
        settings changed (unless auto-build is off: then IndexNotReadyError)."""
        with self._lock:
            allow = self.settings.auto_build if rebuild is None else rebuild
            index, report = ensure_index(self.settings, self.embedder, allow_build=allow, progress=progress)
            self._index = index
            self.last_build = report
            return report

    @property
    def index(self) -> Index:
        if self._index is None:
            self.ensure_index()
        assert self._index is not None
        return self._index

    def answerer(self, name: str | None = None) -> Answerer:
        name = name or self.settings.answerer
        if name not in ANSWERERS:
            raise ConfigError(f"answerer must be one of {', '.join(ANSWERERS)}, got {name!r}")
        with self._lock:
            if name not in self._answerers:
                if name == "extractive":
                    self._answerers[name] = ExtractiveAnswerer(
                        self.settings, embedder=self.embedder, idf=lambda t: self.index.bm25.idf(t)
                    )
                else:
                    from rag.llm_answer import LLMAnswerer

                    self._answerers[name] = LLMAnswerer(self.settings, chat_model=self._chat_model)
            return self._answerers[name]

    # -- the three verbs ---------------------------------------------------
    def check_question(self, question: str) -> str:
        q = (question or "").strip()
        if not q:
            raise InputError("the question is empty")
        if len(q) > self.settings.max_question_chars:
            raise InputError(
                f"the question is {len(q)} characters long; the limit is "
                f"{self.settings.max_question_chars} (RAG_MAX_QUESTION_CHARS)"
            )
        return q

    def search(
        self, query: str, *, mode: str | None = None, k: int | None = None,
        fusion: str | None = None, timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        q = self.check_question(query)
        s = self.settings.with_(mode=mode, top_k=k, fusion=fusion)  # validates them
        retriever = HybridRetriever(index=self.index, embedder=self.embedder, settings=s)
        return retriever.search(q, timings=timings)

    def ask(
        self,
        question: str,
        *,
        mode: str | None = None,
        k: int | None = None,
        answerer: str | None = None,
        history: Sequence[Turn] = (),
        fusion: str | None = None,
    ) -> Answer:
        final: Answer | None = None
        for part in self.stream(
            question, mode=mode, k=k, answerer=answerer, history=history, stream=False, fusion=fusion
        ):
            if isinstance(part, Answer):
                final = part
        assert final is not None
        return final

    def stream(
        self,
        question: str,
        *,
        mode: str | None = None,
        k: int | None = None,
        answerer: str | None = None,
        history: Sequence[Turn] = (),
        stream: bool = True,
        fusion: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield text deltas (generated answers only), then the final Answer."""
        t0 = time.perf_counter()
        q = self.check_question(question)
        s = self.settings.with_(mode=mode, top_k=k)
        ans_impl = self.answerer(answerer)
        timings: dict[str, float] = {}

        rewritten = None
        if history:
            t = time.perf_counter()
            rewritten = ans_impl.condense(q, history)
            timings["condense"] = _ms(t)
            if rewritten == q:
                rewritten = None
        query = rewritten or q
        lang = detect_lang(q)

        hits = self.search(query, mode=s.mode, k=s.top_k, fusion=fusion, timings=timings)

        t = time.perf_counter()
        final: Answer | None = None
        parts: Iterator[str | Answer] = (
            ans_impl.stream(query, hits, lang) if stream else iter([ans_impl.answer(query, hits, lang)])
        )
        for part in parts:
            if isinstance(part, Answer):
                final = part
            else:
                yield part
        assert final is not None, "answerer produced no Answer"
        timings["answer"] = _ms(t)
        timings["total"] = _ms(t0)
        yield replace(
            final,
            question=q,
            rewritten_question=rewritten,
            mode=s.mode,
            timings_ms={**final.timings_ms, **timings},
        )


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 2)

