"""The answerer protocol and what every answerer shares.

    stream = answerer.run(question, hits, lang)   # DraftStream
    for delta in stream: ...                      # generated text (maybe none)
    draft = stream.draft()                        # text, citations, verification

An answerer turns a question and its retrieved `Hit`s into a `Draft` with
numbered `Citation`s, or a refusal; the pipeline adds the context and makes
the `Answer`. Implementations: `extractive.ExtractiveAnswerer` (verbatim
sentences, no model) and `generative.GenerativeAnswerer` (a chat model,
verified). `condense` rewrites a follow-up question into a standalone one.

Left out: choosing an answerer and falling back when one is unavailable
(the pipeline's policy).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Protocol

from rag.config import REFUSAL_EN, REFUSAL_ZH
from rag.types import Citation, Draft, DraftStream, Hit, Lang, Turn, Verification


class Answerer(Protocol):
    name: str

    def run(
        self, question: str, hits: Sequence[Hit], lang: Lang, *, translation: str | None = None
    ) -> DraftStream:
        """Answer `question` (in `lang`) from `hits`; `translation` is a
        Chinese rendering of an English question, when one was made."""
        ...

    def condense(self, question: str, history: Sequence[Turn]) -> str: ...


def refusal_text(lang: Lang) -> str:
    return REFUSAL_ZH if lang == "zh" else REFUSAL_EN


def refusal(lang: Lang, **extra: object) -> Draft:
    """The refusal in the question's language (extra: verification, notice, timings_ms)."""
    return Draft(text=refusal_text(lang), refused=True, **extra)  # type: ignore[arg-type]


def drafted(draft: Draft) -> DraftStream:
    """A stream with no deltas, for an answerer that does not generate."""

    def gen() -> Generator[str, None, Draft]:
        return draft
        yield  # pragma: no cover - makes this a generator

    return DraftStream(gen())


VERIFIED_BY_CONSTRUCTION = Verification(checked=True)


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
        page=c.page,
        start=c.orig_start,
        end=c.orig_end,
        passage=c.text,
        quote=c.text[quote_start:quote_end],
        quote_start=quote_start,
        quote_end=quote_end,
        chunk_id=c.id,
    )
