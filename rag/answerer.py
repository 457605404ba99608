"""The answerer protocol and what every answerer shares.

An answerer turns a question and its retrieved `Hit`s into an `Answer`
with numbered `Citation`s, or a refusal. Implementations:
`rag.answer.ExtractiveAnswerer` (verbatim sentences, no model) and
`rag.llm_answer.LLMAnswerer` (a langchain chat model, verified).

`stream` yields text deltas and then exactly one `Answer`; an answerer
that cannot stream yields just the `Answer`. `condense` rewrites a
follow-up question into a standalone one using the conversation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from rag.config import REFUSAL_EN, REFUSAL_ZH
from rag.types import Answer, Citation, Hit, Lang, Turn


class Answerer(Protocol):
    name: str

    def answer(self, question: str, hits: Sequence[Hit], lang: Lang) -> Answer: ...

    def stream(self, question: str, hits: Sequence[Hit], lang: Lang) -> Iterator[str | Answer]: ...

    def condense(self, question: str, history: Sequence[Turn]) -> str: ...


def refusal_text(lang: Lang) -> str:
    return REFUSAL_ZH if lang == "zh" else REFUSAL_EN


def refusal(question: str, hits: Sequence[Hit], lang: Lang, answerer: str, **extra: object) -> Answer:
    return Answer(
        question=question,
        text=refusal_text(lang),
        refused=True,
        citations=(),
        hits=tuple(hits),
        lang=lang,
        answerer=answerer,
        mode="",
        **extra,  # type: ignore[arg-type]
    )


def make_citation(n: int, hit: Hit, quote_start: int, quote_end: int) -> Citation:
    """Cite `hit.chunk`, with `chunk.text[quote_start:quote_end]` as the quote."""
    c = hit.chunk
    if not (0 <= quote_start < quote_end <= len(c.text)):
        raise ValueError("quote span outside the passage")
    return Citation(
        n=n,
        source=c.source,
        article=c.article,
        title=c.title,
        date=c.date,
        start=c.orig_start,
        end=c.orig_end,
        passage=c.text,
        quote=c.text[quote_start:quote_end],
        quote_start=quote_start,
        quote_end=quote_end,
        chunk_id=c.id,
    )
