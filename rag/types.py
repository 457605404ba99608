"""Typed records that flow through the pipeline.

    seeds/*.txt -> Document -> Chunk -> (index) -> Hit -> Answer(Citation...)

Every record is a frozen dataclass. Provenance travels with the data: a
`Chunk` knows its source file, article and character span in the cleaned
`Document.text`, and the span in the original file; a `Citation` carries the
original-file span and the exact quote. Nothing here does I/O.

Left out on purpose: embeddings (they live in the FAISS index, not on
records) and any formatting for display (the CLI and UI do that).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Lang = Literal["zh", "en"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
FUSIONS: tuple[str, ...] = ("rsf", "rrf")


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

    def __post_init__(self) -> None:
        if len(self.origin) != len(self.text):
            raise ValueError("origin must map every character of text")

    @property
    def id(self) -> str:
        return f"{self.source}#{self.article}"

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of `text` to a span of the original file."""
        if not (0 <= start < end <= len(self.text)):
            raise ValueError(f"bad span {start}:{end} for text of length {len(self.text)}")
        return self.origin[start], self.origin[end - 1] + 1


@dataclass(frozen=True)
class Chunk:
    """A passage of a Document; `Document.text[start:end] == text`."""

    id: str
    source: str
    article: int
    title: str
    date: str | None
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
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


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
        d = asdict(self)
        return d


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: `[n]` in the answer text points here.

    `start`/`end` is the span of the whole cited passage in the original
    file; `quote` is the supporting sentence(s), found in `passage` at
    `quote_start:quote_end` (offsets inside the passage, for highlighting).
    """

    n: int
    source: str
    article: int
    title: str
    date: str | None
    start: int
    end: int
    passage: str
    quote: str
    quote_start: int
    quote_end: int
    chunk_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation, for follow-up rewriting."""

    question: str
    answer: str

