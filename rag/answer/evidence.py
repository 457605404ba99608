"""Evidence for the generative reader: the best sentences of the retrieved
passages, with their neighbours, numbered and tagged with their article.

    ev = select_evidence(hits, ranked, budget=420)
    ev.render()          # the numbered lines the model reads
    ev.sentences[0]      # EvidenceSentence: id, hit index, span in the chunk, text

Why sentences and not whole chunks: a 1.5B model on two cores reads about
70 prompt tokens a second (measured, bench/bench_llm.py), so the evidence
must stay near 300 tokens for the first token to come within a few
seconds; and a sentence is what a citation quotes. The sentences are chosen by the
extractive answerer's sentence scores (words, numbers, the asked kind,
meaning), each with the sentence before and after it, so that a year or a
subject stated in the previous sentence comes along. Each article is shown
once, with its title, date and the years its 今年/去年 mean.

Left out: the prompt around the evidence (rag/answer/generative.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.answer.checks import CitedSentence
from rag.text import has_cjk, relative_year_note, sentence_spans
from rag.types import Hit, Lang

# How far back in its article a shown sentence still counts as a cited
# sentence's context (the subject named a sentence or two before).
BACK_CHARS = 300

# What the scorer hands over: (hit index, start, end) in score order.
Ranked = Sequence[tuple[int, int, int]]


@dataclass(frozen=True)
class EvidenceSentence:
    id: int  # 1-based, as the model sees it
    hit_index: int
    start: int  # span in the hit's chunk text
    end: int
    text: str
    context: str  # with the sentences before and after it
    rank: int = 0  # its place in the scorer's order (0 = best); neighbours rank after every scored pick

    def cited(self, hits: Sequence[Hit]) -> CitedSentence:
        c = hits[self.hit_index].chunk
        return CitedSentence(text=self.text, title=c.title, date=c.date, context=self.context, passage=c.text)


@dataclass(frozen=True)
class Evidence:
    sentences: tuple[EvidenceSentence, ...]
    hits: tuple[Hit, ...]

    def by_id(self, i: int) -> EvidenceSentence | None:
        return self.sentences[i - 1] if 1 <= i <= len(self.sentences) else None

    def render(self, lang: Lang) -> str:
        """One header per article (title, date, what 今年/去年 mean), then `[id] sentence` lines."""
        lines: list[str] = []
        last: tuple[str, int] | None = None
        for s in self.sentences:
            c = self.hits[s.hit_index].chunk
            if (c.source, c.article) != last:
                last = (c.source, c.article)
                group = " ".join(x.text for x in self.sentences if self._doc(x) == last)
                note = relative_year_note(group, c.date, lang)
                lines.append(f"《{c.title}》" + (f" {c.date}" if c.date else "") + (f"（{note}）" if note else ""))
            lines.append(f"[{s.id}] {_one_line(s.text)}")
        return "\n".join(lines)

    def cited(self, s: EvidenceSentence) -> CitedSentence:
        """`s` for the checks, its passage widened by the sentences of its
        article shown just before it (within BACK_CHARS): the model read
        "湛新项目…" and then "项目现场负责人尹海涛说…", and the name it
        refers back to may sit in the previous chunk."""
        base = s.cited(self.hits)
        doc, at = self._doc(s), self._at(s)
        before = [x.text for x in self.sentences if self._doc(x) == doc and 0 < at - self._at(x) <= BACK_CHARS]
        return replace(base, passage=" ".join([*before, base.passage])) if before else base

    def _at(self, s: EvidenceSentence) -> int:
        return self.hits[s.hit_index].chunk.start + s.start

    def _doc(self, s: EvidenceSentence) -> tuple[str, int]:
        c = self.hits[s.hit_index].chunk
        return c.source, c.article


def select_evidence(hits: Sequence[Hit], ranked: Ranked, *, budget: int = 420, max_picks: int = 5) -> Evidence:
    """The best-ranked sentences and their neighbours, at most `budget`
    characters, in reading order (article by article, best article first)."""
    # Every sentence once, keyed by its place in its article (chunks overlap).
    spans: dict[tuple[str, int, int], tuple[int, int, int]] = {}
    order: dict[int, list[tuple[int, int]]] = {}
    for hi, h in enumerate(hits):
        c = h.chunk
        order[hi] = [(s, e) for s, e in sentence_spans(c.text) if e - s >= 4]
        for s, e in order[hi]:
            spans.setdefault((c.source, c.article, c.start + s), (hi, s, e))

    chosen: dict[tuple[str, int, int], tuple[int, int, int]] = {}
    used = 0
    picks = 0
    for hi, s, e in ranked:
        if picks >= max_picks or used >= budget:
            break
        sents = order.get(hi, [])
        if (s, e) not in sents:
            continue
        j = sents.index((s, e))
        group = [sents[k] for k in (j, j - 1, j + 1) if 0 <= k < len(sents)]
        added = False
        for gs, ge in group:
            key = _key(hits, hi, gs)
            if key in chosen:
                continue
            if used + (ge - gs) > budget and (gs, ge) != (s, e):
                continue  # a neighbour that does not fit
            chosen[key] = spans.get(key, (hi, gs, ge))
            used += ge - gs
            added = True
        picks += added

    best_rank: dict[tuple[str, int], int] = {}
    for key, (hi, _, _) in chosen.items():
        best_rank[key[:2]] = min(best_rank.get(key[:2], hi), hi)
    keys = sorted(chosen, key=lambda k: (best_rank[k[:2]], k[0], k[1], k[2]))
    position = {(hi, s, e): r for r, (hi, s, e) in enumerate(ranked)}
    sentences = []
    for n, key in enumerate(keys, start=1):
        hi, s, e = chosen[key]
        text = hits[hi].chunk.text
        sents = order[hi]
        j = sents.index((s, e))
        ctx_start = sents[max(j - 1, 0)][0]
        ctx_end = sents[min(j + 1, len(sents) - 1)][1]
        sentences.append(
            EvidenceSentence(
                n, hi, s, e, text[s:e], _one_line(text[ctx_start:ctx_end]), position.get((hi, s, e), len(ranked))
            )
        )
    return Evidence(tuple(sentences), tuple(hits))


def _key(hits: Sequence[Hit], hi: int, s: int) -> tuple[str, int, int]:
    c = hits[hi].chunk
    return c.source, c.article, c.start + s


def _one_line(text: str) -> str:
    """Whitespace runs removed in Chinese text, folded to one space in other text."""
    return "".join(text.split()) if has_cjk(text) else " ".join(text.split())
