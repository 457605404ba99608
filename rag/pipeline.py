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

Live documents: before answering, a long-running pipeline (the page, a
server) checks whether the documents changed since its index was loaded
(`check_documents`: at most every `refresh_check_s`, stat first, hash only
changed files). If they did, it rebuilds in a background thread and keeps
answering from the old index until the new one is in place, saying so in
the answer's notice; passages of deleted files are left out meanwhile.
`problems` lists the files that are not in the index, with the reason.

Slow parts are injected: pass `embedder=` (a langchain Embeddings, e.g.
`FakeEmbedder`) or `chat_model=` (a langchain chat model) to replace the
real ones. Construction is cheap; models load on first use.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Generator, Sequence
from typing import Any, TypedDict

from langchain_core.embeddings import Embeddings
from typing_extensions import Unpack

from rag.answer.base import Answerer
from rag.config import Settings
from rag.errors import ConfigError, InputError, ModelError, RagError, user_message
from rag.index import BuildReport, Index, IndexSpec, ProgressFn, ensure_index
from rag.index.build import model_id
from rag.index.watch import Snapshot, changes
from rag.ingest import Problem
from rag.retrieve import RERANKERS, HybridRetriever, Reranker
from rag.text import detect_lang, elapsed_ms, unsupported_script
from rag.types import ANSWERERS, MODES, Answer, AnswerStream, Draft, Hit, Mode, Turn

log = logging.getLogger(__name__)


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
        # Live documents (issue 14): see check_documents.
        self._snapshot = Snapshot()
        self._checked_at = 0.0
        self._refresh: threading.Thread | None = None
        self._pending: list[str] = []  # why the background refresh runs
        self._gone: frozenset[str] = frozenset()  # files deleted since the index was built
        self._note: str | None = None  # a finished refresh, told on the next answer
        self._failed: tuple[Snapshot, str] | None = None  # documents a refresh failed on, and why

    def for_collection(self, name: str) -> Pipeline:
        """A pipeline over another collection that shares this one's models (issue 11)."""
        if name == self.settings.collection:
            return self
        return Pipeline(
            self.settings.with_(collection=name), embedder=self.embedder,
            chat_model=self._chat_model, reranker=self.reranker,
        )

    # -- components, created on first use ---------------------------------
    @property
    def embedder(self) -> Embeddings:
        with self._lock:
            if self._embedder is None:
                from rag.models.embed import load_embedder

                self._embedder = load_embedder(self.settings)
            return self._embedder

    @property
    def embedder_loaded(self) -> bool:
        """Whether the embedding model is in memory (a server's health check)."""
        return self._embedder is not None

    @property
    def index_spec(self) -> IndexSpec:
        s = self.settings
        docs_dir, index_dir = s.collection_dirs()  # the current collection's folders (issue 11)
        return IndexSpec(
            docs_dir=docs_dir, index_dir=index_dir, chunk_size=s.chunk_size,
            chunk_overlap=s.chunk_overlap, embed_batch_size=s.embed_batch_size,
            max_file_bytes=int(s.max_file_mb * 2**20), max_chunks_per_file=s.max_chunks_per_file,
            follow_links=s.follow_links,
            extract_cache=s.extract_cache_dir,
            store=s.vector_store, faiss_approx_above=s.faiss_approx_above,
        )

    def ensure_index(
        self, progress: ProgressFn | None = None, *, force: bool = False, allow_build: bool | None = None
    ) -> BuildReport:
        """Load the index, building or refreshing it when the documents, model
        or settings changed (unless auto-build is off: then IndexNotReadyError).
        `force=True` rebuilds from scratch (`rag index --rebuild`)."""
        with self._lock:
            allow = self.settings.auto_build if allow_build is None else allow_build
            spec = self.index_spec
            snapshot = Snapshot.take(spec)  # before: a change during the build shows up later
            index, report = ensure_index(
                spec, self.embedder, model=self.model_id, allow_build=allow or force, force=force, progress=progress,
            )
            self._install(index, report, snapshot)
            return report

    def reset_index(self) -> None:
        """Forget the loaded index (its collection was emptied); the next use reloads it."""
        with self._lock:
            self._index = None
            self.last_build = None

    @property
    def model_id(self) -> str:
        return model_id(self.embedder, self.settings.embed_model)

    def _install(self, index: Index, report: BuildReport, snapshot: Snapshot) -> None:
        with self._lock:
            self._index, self.last_build = index, report
            self._snapshot, self._checked_at, self._gone = snapshot, time.monotonic(), frozenset()

    @property
    def problems(self) -> list[Problem]:
        """Files that are not in the index, with the reason (every surface reports them)."""
        return list(self._index.problems) if self._index is not None else []

    @property
    def refreshing(self) -> list[str]:
        """Why the index is being rebuilt in the background ([] when it is not)."""
        with self._lock:
            return list(self._pending) if self._refresh is not None and self._refresh.is_alive() else []

    # -- live documents ----------------------------------------------------
    def check_documents(self) -> str | None:
        """Before answering: have the documents changed since the index was
        loaded? If so, start a background rebuild. Returns the notice for
        this answer, or None. Cheap: a stat walk at most every
        `refresh_check_s`; only changed files are hashed."""
        s = self.settings
        with self._lock:
            if self._index is None or not s.live_refresh:
                return None
            note, self._note = self._note, None
            if self.refreshing:
                return self._pending_notice()
            if time.monotonic() - self._checked_at < s.refresh_check_s:
                return note
            self._checked_at = time.monotonic()
            index, before = self._index, self._snapshot
        try:
            reasons, now = changes(self.index_spec, index, before, self.model_id)
        except RagError as e:
            return f"The documents cannot be checked for changes: {e}"
        with self._lock:
            index.problems = [*now.skipped, *(p for p in index.problems if p.source in index.manifest["files"])]
            if not reasons:
                self._snapshot, self._failed = now, None
                return note
            self._gone = frozenset(index.manifest["files"]) - frozenset(now.stamps)
            self._pending = reasons
            if self._failed is not None and self._failed[0] == now:
                return self._failed[1]  # retried only when the documents change again
            if not s.auto_build:
                return f"The documents changed ({_brief(reasons)}); answers come from the old index until: rag index"
            self._refresh = threading.Thread(target=self._rebuild, name="rag-refresh", daemon=True)
            self._refresh.start()
            return self._pending_notice()

    def _pending_notice(self) -> str:
        gone = " (passages of deleted files are left out)" if self._gone else ""
        return (
            f"The documents changed ({_brief(self._pending)}); the index is being refreshed in the "
            f"background, and this answer comes from the previous index{gone}."
        )

    def _rebuild(self) -> None:
        """The background refresh: build, then swap the index in one step."""
        spec = self.index_spec
        try:
            snapshot = Snapshot.take(spec)
            index, report = ensure_index(spec, self.embedder, model=self.model_id, allow_build=True)
        except Exception as e:  # noqa: BLE001 - reported on the next answer, not lost in a thread
            log.warning("background index refresh failed: %s", user_message(e), exc_info=not isinstance(e, RagError))
            with self._lock:
                self._failed = (snapshot, (
                    f"The documents changed ({_brief(self._pending)}), but the index could not be refreshed "
                    f"({user_message(e)}); answers still come from the previous index."
                ))
            return
        with self._lock:
            self._install(index, report, snapshot)
            self._failed = None
            self._note = f"The index was refreshed ({_brief(self._pending)})."

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
        from rag.models.chat import generation_error, make_chat_model, side_model

        model = self._chat_model if self._chat_model is not None else make_chat_model(self.settings)
        side = side_model(model)
        scorer = self.answerer("extractive")
        assert isinstance(scorer, ExtractiveAnswerer)
        return GenerativeAnswerer(
            model, scorer, side_model=side, on_error=lambda e: generation_error(e, self.settings),
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
        if any("\ud800" <= ch <= "\udfff" for ch in q):  # undecodable bytes from argv or a bad client
            raise InputError("the question contains bytes that are not valid UTF-8; check the terminal's encoding")
        if not any(ch.isalnum() for ch in q):
            raise InputError("the question has no words, only punctuation or symbols")
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
        self.check_documents()
        return self._search(q, mode=mode, k=k, fusion=fusion, timings=timings)

    def _search(
        self, q: str, *, mode: str | None, k: int | None, fusion: str | None, timings: dict[str, float] | None,
    ) -> list[Hit]:
        s = self.settings.with_(mode=mode, top_k=k, fusion=fusion)  # validates them
        return self._retrieve(q, s, timings)

    def _retrieve(self, q: str, s: Settings, timings: dict[str, float] | None) -> list[Hit]:
        retriever = HybridRetriever(
            self.index, self.embedder, fetch_k=s.fetch_k, fusion=s.fusion, rrf_k=s.rrf_k
        )
        mode_: Mode = s.mode if s.mode in MODES else "hybrid"  # type: ignore[assignment]
        gone = self._gone
        hits = retriever.search(q, mode=mode_, k=s.top_k * (2 if gone else 1), timings=timings)
        if gone:  # deleted while a refresh runs: never cite a file that is not there
            kept = [h for h in hits if h.chunk.source not in gone][: s.top_k]
            hits = [dataclasses.replace(h, rank=i) for i, h in enumerate(kept, start=1)]
        return self.reranker.rerank(q, hits, s.top_k)

    def stream(self, question: str, **options: Unpack[AskOptions]) -> AnswerStream:
        """Text deltas (generated answers only), then the final Answer.

        The question and settings are checked now, not on iteration.
        """
        q = self.check_question(question)
        s = self.settings.with_(mode=options.get("mode"), top_k=options.get("k"), fusion=options.get("fusion"))
        impl, notice = self.resolve_answerer(options.get("answerer"))
        docs_notice = self.check_documents()
        notice = "; ".join(n for n in (docs_notice, notice) if n) or None
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


def _brief(reasons: Sequence[str], n: int = 3) -> str:
    more = f"; and {len(reasons) - n} more" if len(reasons) > n else ""
    return "; ".join(reasons[:n]) + more
