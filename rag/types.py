"""Typed records that flow through the pipeline, and the names of its choices.

    seeds/*.txt -> Document -> Chunk -> (index) -> Hit -> Draft -> Answer(Citation...)

Every record is a frozen dataclass. Provenance travels with the data: a
`Chunk` knows its source file, article and character span in the cleaned
`Document.text`, and the span in the original file; a `Citation` carries the
original-file span and the exact quote. Nothing here does I/O.

The choices a user can make (`Mode`, `FusionName`, `AnswererName`) are
`Literal` types here, and their tuples (`MODES`, ...) are derived from them,
so each list of names lives in one place.

`TextStream` is the streaming hand-off: iterating it yields text deltas,
`result()` drains it and returns the final record (simonw/llm's `Response`
is the model). An answerer returns a `DraftStream`; only the pipeline turns
the `Draft` into an `Answer`, as an `AnswerStream`.

Left out on purpose: embeddings (they live in the vector index, not on
records) and any formatting for display (the CLI and UI do that).
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Generator, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Literal, TypeVar, get_args

Lang = Literal["zh", "en"]
Mode = Literal["hybrid", "dense", "bm25"]
FusionName = Literal["rsf", "rrf"]
AnswererName = Literal["extractive", "llm"]
MODES: tuple[str, ...] = get_args(Mode)
FUSIONS: tuple[str, ...] = get_args(FusionName)
ANSWERERS: tuple[str, ...] = get_args(AnswererName)
# What a user may choose: an answerer, or "auto" (llm when a chat model is
# available, else extractive).
ANSWERER_CHOICES: tuple[str, ...] = ("auto", *ANSWERERS)


@dataclass(frozen=True)
class Document:
    """One article of one source file, cleaned.

    `origin[i]` is the character offset in the original file text of
    `text[i]`, so any span of the cleaned text maps back to the file.
    """

    source: str  # file name relative to the corpus folder
    article: int  # 0-based index of the article inside the file
    title: str
    date: str | None  # ISO date of publication, from the metadata file
    text: str
    origin: tuple[int, ...]
    file_sha256: str = ""
    # (offset in the original/extracted text, page number) where each page
    # of the file starts; empty for files without pages. (issue 11)
    pages: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if len(self.origin) != len(self.text):
            raise ValueError("origin must map every character of text")

    @property
    def id(self) -> str:
        return f"{self.source}#{self.article}"

    def page_at(self, start: int) -> int | None:
        """The page of cleaned character `start` (None without pages)."""
        if not self.pages or not self.text:
            return None
        offset = self.origin[min(start, len(self.origin) - 1)]
        i = bisect.bisect_right([s for s, _ in self.pages], offset) - 1
        return self.pages[max(i, 0)][1]

    def page_breaks(self) -> list[int]:
        """Cleaned offsets where a new page starts (chunks never cross them)."""
        out = []
        for start, _page in self.pages[1:]:
            i = bisect.bisect_left(self.origin, start)
            if 0 < i < len(self.text):
                out.append(i)
        return out

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of `text` to a span of the original file."""
        if not (0 <= start < end <= len(self.text)):
            raise ValueError(f"bad span {start}:{end} for text of length {len(self.text)}")
        return self.origin[start], self.origin[end - 1] + 1


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Where a passage comes from: file, article, its title and date.

    Chunks and citations both carry it, so a citation can always name the
    file, the article and the date a reader needs to judge "今年".
    """

    source: str  # file name relative to the corpus folder
    article: int  # 0-based index of the article inside the file
    title: str
    date: str | None  # ISO publication date, from the metadata file
    page: int | None = None  # 1-based page of a PDF or scan; None for text (issue 11)


@dataclass(frozen=True, kw_only=True)
class Chunk(Provenance):
    """A passage of a Document; `Document.text[start:end] == text`."""

    id: str
    start: int
    end: int
    text: str
    orig_start: int  # span in the original file
    orig_end: int

    @staticmethod
    def make_id(source: str, article: int, text: str) -> str:
        """Stable content-hash id: same file, article and text give the same id."""
        h = hashlib.sha256(f"{source}\x00{article}\x00{text}".encode()).hexdigest()
        return h[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Chunk:
        # Fields with defaults (page) may be missing from older files.
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the evidence of how it was ranked.

    `rank` and `score` are the final (fused) ones; the per-retriever ranks
    and scores are kept so that fusion can be debugged. Ranks are 1-based;
    None means the retriever did not return the chunk.
    """

    chunk: Chunk
    rank: int
    score: float
    dense_rank: int | None = None
    dense_score: float | None = None
    bm25_rank: int | None = None
    bm25_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Hit:
        fields_ = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "chunk"}
        return cls(chunk=Chunk.from_dict(d["chunk"]), **fields_)


@dataclass(frozen=True, kw_only=True)
class Citation(Provenance):
    """A numbered source of an answer: `[n]` in the answer text points here.

    `start`/`end` is the span of the whole cited passage in the original
    file; `quote` is the supporting sentence(s), found in `passage` at
    `quote_start:quote_end` (offsets inside the passage, for highlighting).
    """

    n: int
    start: int
    end: int
    passage: str
    quote: str
    quote_start: int
    quote_end: int
    chunk_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Citation:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Verification:
    """What was checked in a generated answer, and what failed.

    The extractive answerer quotes passages verbatim, so its answers are
    verified by construction (`checked=True`, no failures).
    """

    checked: bool
    citations_checked: int = 0
    numbers_checked: int = 0
    failures: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()  # sentences removed because they failed

    @property
    def ok(self) -> bool:
        return self.checked and not self.failures

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Verification:
        return cls(
            checked=d["checked"], citations_checked=d.get("citations_checked", 0),
            numbers_checked=d.get("numbers_checked", 0), failures=tuple(d.get("failures", ())),
            dropped=tuple(d.get("dropped", ())),
        )


@dataclass(frozen=True)
class Draft:
    """What an answerer hands the pipeline: the answer without the context
    (question, hits, mode) the pipeline already knows."""

    text: str
    refused: bool
    citations: tuple[Citation, ...] = ()
    verification: Verification | None = None
    notice: str | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """The product's output for one question."""

    question: str
    text: str
    refused: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    lang: Lang
    answerer: str
    mode: str
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    rewritten_question: str | None = None
    verification: Verification | None = None
    notice: str | None = None  # e.g. "the llm answerer is not installed; used extractive"

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "rewritten_question": self.rewritten_question,
            "answer": self.text,
            "refused": self.refused,
            "lang": self.lang,
            "answerer": self.answerer,
            "mode": self.mode,
            "citations": [c.to_dict() for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
            "timings_ms": dict(self.timings_ms),
            "verification": self.verification.to_dict() if self.verification else None,
            "notice": self.notice,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Answer:
        """The inverse of `to_dict` (an answer that came over HTTP, rag/serve/client.py)."""
        v = d.get("verification")
        return cls(
            question=d["question"], text=d["answer"], refused=d["refused"],
            citations=tuple(Citation.from_dict(c) for c in d.get("citations", ())),
            hits=tuple(Hit.from_dict(h) for h in d.get("hits", ())),
            lang=d["lang"], answerer=d["answerer"], mode=d["mode"],
            timings_ms=dict(d.get("timings_ms", {})), rewritten_question=d.get("rewritten_question"),
            verification=Verification.from_dict(v) if v else None, notice=d.get("notice"),
        )


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation, for follow-up rewriting."""

    question: str
    answer: str



R = TypeVar("R")


class TextStream(Generic[R]):
    """Text deltas while they arrive, then one final record.

        stream = pipeline.stream("2022年实际外资是多少？")
        for delta in stream:        # generated text as it arrives (maybe none)
            print(delta, end="")
        answer = stream.result()    # drains what is left; the final record

    Wraps a generator that yields `str` and returns the record. Iterating
    twice continues where the first iteration stopped; `result()` may be
    called any number of times.
    """

    def __init__(self, gen: Generator[str, None, R]) -> None:
        self._gen = gen
        self._result: R | None = None
        self._done = False
        self._lock = threading.Lock()
        self._it = self._run()

    def _run(self) -> Iterator[str]:
        result = yield from self._gen
        self._result = result
        self._done = True

    def __iter__(self) -> Iterator[str]:
        return self._it

    def result(self) -> R:
        with self._lock:
            for _ in self._it:
                pass
        if not self._done:
            raise RuntimeError("the stream ended without a result")
        return self._result  # type: ignore[return-value]


class DraftStream(TextStream[Draft]):
    """An answerer's output: text deltas, then the `Draft`."""

    def draft(self) -> Draft:
        return self.result()


class AnswerStream(TextStream[Answer]):
    """The pipeline's output: text deltas, then the `Answer`."""

    def answer(self) -> Answer:
        return self.result()
