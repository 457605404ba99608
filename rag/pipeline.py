"""The library's front door: question in, `Answer` out.

    p = Pipeline(Settings.load())
    p.ensure_index()                          # build or refresh if stale
    ans = p.ask("2022年实际外资是多少？")      # Answer with citations
    stream = p.stream(q)                      # AnswerStream
    for delta in stream: ...                  # generated text as it arrives
    ans = stream.answer()

    condense (follow-ups) -> retrieve -> rerank -> answer

`Pipeline` reads `Settings` and gives each component the parameters it
uses. It also owns the product's policies, the same for the CLI, the page
and the eval runner: which answerer answers (and the fallback to the
extractive one, with a visible notice, when no chat model is available),
when the index is (re)built, and what a question may be.

Slow parts are injected: pass `embedder=` (a langchain Embeddings, e.g.
`FakeEmbedder`) or `chat_model=` (a langchain chat model) to replace the
real ones. Construction is cheap; models load on first use.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Generator, Sequence
from typing import Any, TypedDict

from langchain_core.embeddings import Embeddings
from typing_extensions import Unpack

from rag.answer.base import Answerer
from rag.config import Settings
from rag.errors import ConfigError, InputError, ModelError
from rag.index import BuildReport, Index, IndexSpec, ProgressFn, ensure_index
from rag.index.build import model_id
from rag.retrieve import RERANKERS, HybridRetriever, Reranker
from rag.text import detect_lang, elapsed_ms, unsupported_script
from rag.types import ANSWERERS, MODES, Answer, AnswerStream, Draft, Hit, Mode, Turn


class AskOptions(TypedDict, total=False):
    """Per-question choices; each defaults to the settings' value."""

    mode: str | None  # hybrid | dense | bm25
    k: int | None  # passages given to the answerer
    answerer: str | None  # extractive | llm
    history: Sequence[Turn]  # earlier turns, for follow-up questions
    fusion: str | None  # rsf | rrf


class Pipeline:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embeddings | None = None,
        chat_model: Any = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings or Settings.load()
        self._embedder = embedder
        self._chat_model = chat_model
        self.reranker = reranker or RERANKERS["none"]
        self._index: Index | None = None
        self._answerers: dict[str, Answerer] = {}
        self._lock = threading.RLock()
        self.last_build: BuildReport | None = None

    # -- components, created on first use ---------------------------------
    @property
    def embedder(self) -> Embeddings:
        with self._lock:
            if self._embedder is None:
                from rag.models.embed import load_embedder

                self._embedder = load_embedder(self.settings)
            return self._embedder

    @property
    def index_spec(self) -> IndexSpec:
        s = self.settings
        return IndexSpec(
            docs_dir=s.docs_dir, index_dir=s.index_dir, chunk_size=s.chunk_size,
            chunk_overlap=s.chunk_overlap, embed_batch_size=s.embed_batch_size,
        )

    def ensure_index(
        self, progress: ProgressFn | None = None, *, force: bool = False, allow_build: bool | None = None
    ) -> BuildReport:
        """Load the index, building or refreshing it when the documents, model
        or settings changed (unless auto-build is off: then IndexNotReadyError).
        `force=True` rebuilds from scratch (`rag index --rebuild`)."""
        with self._lock:
            allow = self.settings.auto_build if allow_build is None else allow_build
            index, report = ensure_index(
                self.index_spec, self.embedder, model=model_id(self.embedder, self.settings.embed_model),
                allow_build=allow or force, force=force, progress=progress,
            )
            self._index = index
            self.last_build = report
            return report

    @property
    def index(self) -> Index:
        if self._index is None:
            self.ensure_index()
        assert self._index is not None
        return self._index

    # -- answerers and the fallback policy ---------------------------------
    def llm_status(self) -> tuple[bool, str]:
        """Can the llm answerer run here? The message says which model, or how to enable one."""
        if self._chat_model is not None:
            return True, "the configured chat model"
        from rag.models.chat import llm_status

        return llm_status(self.settings)

    def answerer(self, name: str | None = None) -> Answerer:
        """The named answerer, made once (raises ModelError if it cannot run)."""
        name = name or self.settings.answerer
        if name not in ANSWERERS:
            raise ConfigError(f"answerer must be one of {', '.join(ANSWERERS)}, got {name!r}")
        with self._lock:
            if name not in self._answerers:
                self._answerers[name] = self._make_answerer(name)
            return self._answerers[name]

    def _make_answerer(self, name: str) -> Answerer:
        if name == "extractive":
            from rag.answer.extractive import ExtractiveAnswerer

            return ExtractiveAnswerer(
                refusal_threshold=self.settings.refusal_threshold,
                embedder=self.embedder,
                idf=lambda t: self.index.bm25.idf(t),
                is_common=self._is_common,
            )
        from rag.answer.extractive import ExtractiveAnswerer
        from rag.answer.generative import GenerativeAnswerer
        from rag.models.chat import generation_error, make_chat_model

        model = self._chat_model if self._chat_model is not None else make_chat_model(self.settings)
        scorer = self.answerer("extractive")
        assert isinstance(scorer, ExtractiveAnswerer)
        return GenerativeAnswerer(
            model, scorer, on_error=lambda e: generation_error(e, self.settings),
            is_common=self._is_common, in_corpus=scorer.in_corpus,
        )

    def _is_common(self, word: str) -> bool:
        """A word in more than a third of the passages names no particular subject."""
        bm25 = self.index.bm25
        return bm25.n_docs > 0 and bm25.idf(word) < math.log(1.0 + (2 * bm25.n_docs / 3 + 0.5) / (bm25.n_docs / 3 + 0.5))

    def resolve_answerer(self, name: str | None = None) -> tuple[Answerer, str | None]:
        """The answerer to use and, when it is not the one asked for, why.

        The policy: `auto` is the llm answerer when a chat model is
        available, else the extractive one (the Answer says which). An
        explicit `llm` without a chat model falls back to the extractive
        answerer, and the notice says why.
        """
        name = name or self.settings.answerer
        if name == "auto":
            if self.llm_status()[0]:
                try:
                    return self.answerer("llm"), None
                except ModelError:
                    pass
            return self.answerer("extractive"), None
        if name == "llm":
            available, why = self.llm_status()
            if available:
                try:
                    return self.answerer("llm"), None
                except ModelError as e:
                    why = str(e)
            return self.answerer("extractive"), (
                f"The LLM answerer cannot be used: {why}. The extractive answerer answered instead."
            )
        return self.answerer(name), None

    # -- the verbs ---------------------------------------------------------
    def check_question(self, question: str) -> str:
        q = (question or "").strip()
        if not q:
            raise InputError("the question is empty")
        if len(q) > self.settings.max_question_chars:
            raise InputError(
                f"the question is {len(q)} characters long; the limit is "
                f"{self.settings.max_question_chars} (RAG_MAX_QUESTION_CHARS)"
            )
        script = unsupported_script(q)
        if script:
            raise InputError(
                f"questions can be asked in Chinese or English only; this one looks {script} "
                "(请用中文或英文提问)"
            )
        return q

    def search(
        self, query: str, *, mode: str | None = None, k: int | None = None,
        fusion: str | None = None, timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        q = self.check_question(query)
        s = self.settings.with_(mode=mode, top_k=k, fusion=fusion)  # validates them
        return self._retrieve(q, s, timings)

    def _retrieve(self, q: str, s: Settings, timings: dict[str, float] | None) -> list[Hit]:
        retriever = HybridRetriever(
            self.index, self.embedder, fetch_k=s.fetch_k, fusion=s.fusion, rrf_k=s.rrf_k
        )
        mode_: Mode = s.mode if s.mode in MODES else "hybrid"  # type: ignore[assignment]
        hits = retriever.search(q, mode=mode_, k=s.top_k, timings=timings)
        return self.reranker.rerank(q, hits, s.top_k)

    def stream(self, question: str, **options: Unpack[AskOptions]) -> AnswerStream:
        """Text deltas (generated answers only), then the final Answer.

        The question and settings are checked now, not on iteration.
        """
        q = self.check_question(question)
        s = self.settings.with_(mode=options.get("mode"), top_k=options.get("k"), fusion=options.get("fusion"))
        impl, notice = self.resolve_answerer(options.get("answerer"))
        return AnswerStream(self._answer(q, s, impl, notice, options.get("history", ())))

    def _answer(
        self, q: str, s: Settings, impl: Answerer, notice: str | None, history: Sequence[Turn]
    ) -> Generator[str, None, Answer]:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        rewritten = None
        if history:
            t = time.perf_counter()
            rewritten = impl.condense(q, history)
            timings["condense"] = elapsed_ms(t)
            if rewritten == q:
                rewritten = None
        query = rewritten or q
        lang = detect_lang(q)
        translation = None
        translate = getattr(impl, "translate", None)
        if lang == "en" and translate is not None:
            # An English question over Chinese text: retrieve and choose
            # sentences with its Chinese rendering (cached per question).
            t = time.perf_counter()
            translation = translate(query)
            timings["translate"] = elapsed_ms(t)
        # The translation finds the Chinese words; the English keeps the
        # glossary's terms and the names the translation may have lost.
        search_text = f"{translation} {query}" if translation and translation != query else query
        hits = self._retrieve(search_text, s, timings)
        t = time.perf_counter()
        drafting = impl.run(query, hits, lang, translation=translation)
        yield from drafting
        draft = drafting.draft()
        timings["answer"] = elapsed_ms(t)
        timings["total"] = elapsed_ms(t0)
        return self._make_answer(q, hits, impl, draft, s.mode, timings, rewritten, notice)

    def answer_hits(self, question: str, hits: Sequence[Hit], *, answerer: str | None = None) -> Answer:
        """Answer from hits retrieved elsewhere (the eval baseline)."""
        t0 = time.perf_counter()
        q = self.check_question(question)
        impl, notice = self.resolve_answerer(answerer)
        draft = impl.run(q, hits, detect_lang(q)).draft()
        return self._make_answer(q, hits, impl, draft, "external", {"total": elapsed_ms(t0)}, None, notice)

    def ask(self, question: str, **options: Unpack[AskOptions]) -> Answer:
        """The whole Answer at once (`stream(...).answer()`)."""
        return self.stream(question, **options).answer()

    @staticmethod
    def _make_answer(
        question: str, hits: Sequence[Hit], impl: Answerer, draft: Draft, mode: str,
        timings: dict[str, float], rewritten: str | None, notice: str | None,
    ) -> Answer:
        notes = "; ".join(n for n in (notice, draft.notice) if n) or None
        return Answer(
            question=question,
            text=draft.text,
            refused=draft.refused,
            citations=draft.citations,
            hits=tuple(hits),
            lang=detect_lang(question),
            answerer=impl.name,
            mode=mode,
            timings_ms={**draft.timings_ms, **timings},
            rewritten_question=rewritten,
            verification=draft.verification,
            notice=notes,
        )
