"""The extractive answerer: verbatim sentences from the top hits, cited.

No language model: it picks the sentence (or two) of the retrieved passages
that best answers the question and returns it word for word with `[n]`
markers, so every answer is supported by construction.

How a sentence is scored (each part in 0..1):

- terms:  share of the question's content words (jieba, weighted: numbers
          and longer words count more) found in the sentence, with half
          credit for words found only elsewhere in the same passage;
- numbers: share of the question's numbers and years found in the sentence;
- kind:   does the sentence hold what the question asks for (a quantity
          for 多少/how much, a date for 哪一年/when, ...)?
- dense:  cosine between the question and the sentence (the same embedder
          as retrieval), for English questions, which share few words with
          Chinese passages (halved when no specific question word is in the
          passage: that is how unanswerable English questions look);
- years:  今年/去年 in a sentence count as the years they mean, from the
          article's date (rag.text.relative_years), at a discount;
- prior:  the passage's retrieval rank.

The evidence score of the best sentence decides refusal: below
`refusal_threshold` the answer is the fixed refusal in the
question's language. The threshold was chosen by measurement on
answerable and unanswerable questions (docs/measurements.md).

Left out: synthesis across sentences, translation (English questions get
Chinese quotes; the llm answerer writes English).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rag.answer.base import VERIFIED_BY_CONSTRUCTION, drafted, make_citation, refusal
from rag.answer.checks import CitedSentence, consistency_failures
from rag.answer.condense import condense_rule_based
from rag.answer.question import analyse
from rag.index.lexicon import default_tokenizer
from rag.text import first_number as _num_of
from rag.text import fold as _norm
from rag.text import has_cjk, relative_years, sentence_spans
from rag.text import number_tokens as _numbers
from rag.types import Draft, DraftStream, Hit, Lang, Turn, Verification

_QUANTITY = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|万|亿|千|百|元|美元|家|个|人|项|批|次|平方|亩|台|吨|年|月|倍|名|件|幢|座|条|户)")
_DATE = re.compile(r"(?:19|20)\d{2}\s*年|\d{1,2}\s*月|\d{1,2}\s*日")

_ASK_QUANTITY = re.compile(
    r"多少|几[家个项批次人年月天]|多大|多高|占比|比重|比例|增长|增速|规模|金额|总额|产值|数量|"
    r"\bhow (?:much|many)\b|\bwhat (?:is|was|were) the (?:total|number|amount|share|value|rate)|"
    r"\bpercent|\bshare\b|\brate\b|\bamount\b|\bnumber of\b|\bgrowth\b|\bgrow\b|\bincrease\b|\bvalue\b|\btotal\b",
    re.I,
)
_ASK_DATE = re.compile(r"哪一?年|何时|什么时候|几月|哪天|\bwhen\b|\bwhat year\b|\bwhich year\b", re.I)


# Sentences scored by the embedder for an English question (see rank_sentences).
_DENSE_SENTENCES = 16
_SENTENCE_CACHE = 4096


@dataclass(frozen=True)
class _Question:
    numbers: set[str]  # digit strings of the question
    weights: dict[str, float]  # content word -> weight
    anchors: list[str]  # words specific enough to anchor an answer
    wants_qty: bool
    wants_date: bool
    counter: str | None  # the measure word asked for (多少家 -> 家)


def _kind(t: str, qp: _Question) -> float:
    """1.0 if sentence `t` holds what the question asks for (a count with its
    measure word, a quantity, a date), else 0.0."""
    if qp.counter:
        return 1.0 if _has_count(t, qp.counter, qp.numbers) else 0.0
    if qp.wants_qty:
        return 1.0 if any(_num_of(m.group(0)) not in qp.numbers for m in _QUANTITY.finditer(t)) else 0.0
    if qp.wants_date:
        return 1.0 if _DATE.search(t) else 0.0
    return 1.0


def _number_support(t: str, date: str | None, q_nums: set[str]) -> float | None:
    """Share of the question's numbers in sentence `t` (None if it has none).

    今年/去年 count as the year they mean, given the article date ("去年实际
    外资4.8亿" in a 2024 article is no answer about 2022), but a year only
    implied (今年 + an estimated article date) counts for less than one
    written out.
    """
    if not q_nums:
        return None
    nums = set(_numbers(t))
    implied = relative_years(t, date) - nums
    return (len(q_nums & nums) + 0.6 * len(q_nums & implied)) / len(q_nums)


@dataclass(frozen=True)
class _Candidate:
    hit_index: int
    start: int  # in chunk text
    end: int
    score: float
    evidence: float
    kind: float = 1.0  # holds what the question asks for (a count, a date...)


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(
        self,
        refusal_threshold: float = 0.35,
        embedder: Any = None,
        max_sentences: int = 2,
        idf: Callable[[str], float] | None = None,
        *,
        is_common: Callable[[str], bool] = lambda name: False,
        consistency: bool = True,
    ) -> None:
        # Names most passages mention (the city) identify no subject.
        self.is_common = is_common
        # Pass over sentences about another subject or year (checks.py).
        self.consistency = consistency
        self.refusal_threshold = refusal_threshold
        self.embedder = embedder
        self.max_sentences = max_sentences
        # Corpus idf (from the BM25 statistics): words found everywhere,
        # like the city's name, say little about which sentence answers.
        self.idf = idf
        self._sentence_vecs: dict[str, list[float]] = {}
        self._cache_lock = threading.Lock()

    def in_corpus(self, term: str) -> bool:
        """Does any passage contain the word? (True without corpus statistics.)"""
        if self.idf is None:
            return True
        # A word no passage contains has the largest possible idf.
        return self.idf(term) < self.idf("\x00")

    def _weight(self, term: str) -> float:
        w = _term_weight(term)
        if self.idf is not None:
            w *= min(max(self.idf(term) / 3.0, 0.2), 1.5)
        return w

    # ------------------------------------------------------------ protocol
    def condense(self, question: str, history: Sequence[Turn]) -> str:
        return condense_rule_based(question, history)

    def run(
        self, question: str, hits: Sequence[Hit], lang: Lang, *, translation: str | None = None
    ) -> DraftStream:
        return drafted(self.answer(question, hits, lang, translation=translation))

    def _consistent(
        self, question: str, hits: Sequence[Hit], cands: list[_Candidate], lang: Lang
    ) -> list[_Candidate]:
        """The candidates whose sentence is about the question's subject and
        year (rag/answer/checks.py), best first: a sentence about another
        company or year is no answer, however well it scores."""
        facts = analyse(question, is_common=self.is_common, in_corpus=self.in_corpus)
        if lang == "en":
            facts = replace(facts, subjects=tuple(s for s in facts.subjects if has_cjk(s)))
        if not (facts.subjects or facts.terms or facts.years):
            return cands
        out = []
        for c in cands:
            text = hits[c.hit_index].chunk.text
            spans = sentence_spans(text)
            j = next((k for k, (s, e) in enumerate(spans) if s <= c.start < e), 0)
            ctx = text[spans[max(j - 1, 0)][0] : spans[min(j + 1, len(spans) - 1)][1]] if spans else text
            chunk = hits[c.hit_index].chunk
            cited = CitedSentence(text[c.start : c.end], chunk.title, chunk.date, ctx, text)
            if not consistency_failures(facts, [cited]):
                out.append(c)
        return out

    def ranked_spans(self, question: str, hits: Sequence[Hit], lang: Lang) -> list[tuple[int, int, int]]:
        """(hit index, start, end) of every sentence, best first (for the generative reader)."""
        return [(c.hit_index, c.start, c.end) for c in self.rank_sentences(question, hits, lang)]

    def answer(
        self, question: str, hits: Sequence[Hit], lang: Lang, *, translation: str | None = None
    ) -> Draft:
        """The best sentence(s), quoted and cited, or the refusal in `lang`.

        With a Chinese `translation` of an English question, sentences are
        scored on the translation (words match), the refusal stays English.
        """
        if not hits:
            return refusal(lang, verification=VERIFIED_BY_CONSTRUCTION)
        scoring_lang: Lang = lang
        if translation and translation != question:
            question, scoring_lang = f"{translation} {question}", "zh"
        cands = self.rank_sentences(question, hits, scoring_lang)
        if self.consistency:
            cands = self._consistent(question, hits, cands, lang)
        if not cands or cands[0].evidence < self.refusal_threshold:
            return refusal(lang, verification=VERIFIED_BY_CONSTRUCTION)
        chosen = [cands[0]]
        covered = self._covered(question, hits, cands[0])
        for c in cands[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if c.score < 0.85 * cands[0].score or c.evidence < self.refusal_threshold:
                continue
            if c.kind < 1.0:  # a second sentence must hold the asked kind too
                continue
            text = hits[c.hit_index].chunk.text[c.start : c.end]
            if any(_overlaps(c, o) or text in hits[o.hit_index].chunk.text[o.start : o.end] for o in chosen):
                continue
            # A second sentence must add something the question asks about,
            # and more than a word found everywhere (the city's name).
            extra = {
                w for w in self._covered(question, hits, c) - covered
                if w.isdigit() or self._weight(w) >= 0.5
            }
            if extra:
                chosen.append(c)
                covered |= extra
        chosen = [self._trim(question, hits, c) for c in chosen]
        # Number citations by passage, in the order they appear in the answer.
        numbers: dict[int, int] = {}
        parts = []
        citations = []
        for c in chosen:
            n = numbers.get(c.hit_index)
            if n is None:
                n = numbers[c.hit_index] = len(numbers) + 1
                citations.append(make_citation(n, hits[c.hit_index], c.start, c.end))
            parts.append(f"{hits[c.hit_index].chunk.text[c.start:c.end]}[{n}]")
        return Draft(
            text="".join(parts) if lang == "zh" else " ".join(parts),
            refused=False,
            citations=tuple(citations),
            verification=Verification(checked=True, citations_checked=len(citations)),
        )

    # ------------------------------------------------------------- scoring
    def _profile(self, question: str, lang: Lang) -> _Question:
        """What the question asks: weighted terms, numbers, the asked kind."""
        q = _norm(question)
        q_nums = set(_numbers(q))
        terms = [t for t in dict.fromkeys(default_tokenizer().query_words(q)) if t not in q_nums]
        # English words the glossary did not translate can only match the
        # few English names in Chinese text; when the corpus never uses them
        # they say nothing about any sentence.
        terms = [t for t in terms if not (t.isascii() and t.isalpha()) or self.in_corpus(t)]
        weights = {t: self._weight(t) for t in terms}
        return _Question(
            numbers=q_nums,
            weights=weights,
            # Terms specific enough to anchor an answer (not the city's name).
            anchors=[t for t, w in weights.items() if w >= 0.5],
            wants_qty=bool(_ASK_QUANTITY.search(q)),
            wants_date=bool(_ASK_DATE.search(q)),
            counter=_asked_counter(q),
        )

    def rank_sentences(self, question: str, hits: Sequence[Hit], lang: Lang) -> list[_Candidate]:
        qp = self._profile(question, lang)
        spans = [(hi, s, e) for hi, h in enumerate(hits) for s, e in sentence_spans(h.chunk.text) if e - s >= 6]
        if not spans:
            return []
        texts = [_norm(hits[hi].chunk.text[s:e]) for hi, s, e in spans]
        passages = [_norm(h.chunk.text) for h in hits]
        total_w = sum(qp.weights.values())
        term_scores = []
        for (hi, _s, _e), t in zip(spans, texts, strict=True):
            if total_w == 0:
                term_scores.append(0.0)
                continue
            got = sum(w for term, w in qp.weights.items() if term in t)
            near = sum(w for term, w in qp.weights.items() if term not in t and term in passages[hi])
            term_scores.append((got + 0.5 * near) / total_w)

        # English questions share few exact words with Chinese passages, so
        # meaning (dense) always counts for them; for Chinese, words do.
        use_dense = self.embedder is not None and lang == "en"
        dense_scores = self._dense_scores(question, hits, spans, term_scores) if use_dense else [0.0] * len(spans)

        out = []
        for idx, ((hi, s, e), t) in enumerate(zip(spans, texts, strict=True)):
            kind = _kind(t, qp)
            # Evidence: how well the sentence is supported as an answer.
            # Words dominate for Chinese questions, meaning for English ones.
            # Kind and numbers only scale it: without topical support a
            # sentence that merely holds a number is no evidence.
            sem = max(term_scores[idx], dense_scores[idx]) if use_dense else term_scores[idx]
            if use_dense and not qp.anchors:
                # Nothing specific survived translation ("house price"):
                # the city's name alone is no lexical evidence.
                sem = dense_scores[idx] * 0.5
            elif use_dense and not any(a in passages[hi] for a in qp.anchors):
                # Meaning alone, with no specific word of the question in
                # the passage, is how unanswerable English questions look.
                sem *= 0.5
            evidence = sem * (0.6 + 0.4 * kind)
            num_part = _number_support(t, hits[hi].chunk.date, qp.numbers)
            if num_part is not None:
                evidence *= 0.6 + 0.4 * num_part
            score = evidence + 0.1 / math.sqrt(hits[hi].rank)  # the retrieval rank as a prior
            out.append(_Candidate(hi, s, e, round(score, 4), round(evidence, 4), kind))
        out.sort(key=lambda c: (-c.score, c.hit_index, c.start))
        return out

    def _dense_scores(
        self, question: str, hits: Sequence[Hit], spans: list[tuple[int, int, int]], term_scores: list[float]
    ) -> list[float]:
        """Question-sentence similarity for the most promising sentences, 0 for the rest.

        Embedding every sentence of five passages costs seconds on a CPU;
        the sentences of the best-ranked passages and those with the most
        question words are where the answer is.
        """
        scores = [0.0] * len(spans)
        order = sorted(
            range(len(spans)),
            key=lambda i: (-(term_scores[i] + 0.2 / math.sqrt(hits[spans[i][0]].rank)), i),
        )[:_DENSE_SENTENCES]
        sims = self._dense(question, [hits[spans[i][0]].chunk.text[spans[i][1] : spans[i][2]] for i in order])
        for i, sim in zip(order, sims, strict=True):
            scores[i] = sim
        return scores

    def _covered(self, question: str, hits: Sequence[Hit], c: _Candidate) -> set[str]:
        t = _norm(hits[c.hit_index].chunk.text[c.start : c.end])
        words = set(default_tokenizer().query_words(_norm(question))) | set(_numbers(_norm(question)))
        return {w for w in words if len(w) > 1 and w in t}

    def _trim(self, question: str, hits: Sequence[Hit], c: _Candidate) -> _Candidate:
        """Shorten a long sentence to the clauses (1-3) that answer.

        A window of clauses scores by the question words and numbers it
        holds and whether it holds the asked-for kind of thing; among equal
        scores the shortest wins. Offsets stay those of the chunk text.
        """
        text = hits[c.hit_index].chunk.text
        if c.end - c.start <= 60:
            return c
        bounds = [c.start]
        for m in re.finditer(r"[，,；;：:]", text[c.start : c.end]):
            bounds.append(c.start + m.end())
        if bounds[-1] != c.end:
            bounds.append(c.end)
        if len(bounds) <= 2:
            return c
        q = _norm(question)
        q_nums = set(_numbers(q))
        words = [w for w in dict.fromkeys(default_tokenizer().query_words(q)) if w not in q_nums]
        wants_qty = bool(_ASK_QUANTITY.search(q))
        counter = _asked_counter(q)
        best: tuple[float, int, int, int] | None = None
        for i in range(len(bounds) - 1):
            for j in range(i + 1, min(i + 4, len(bounds))):
                w = _norm(text[bounds[i] : bounds[j]])
                sc = sum(self._weight(t) for t in words if t in w) + 1.5 * len(q_nums & set(_numbers(w)))
                if counter and _has_count(w, counter, q_nums):
                    sc += 1.5
                elif wants_qty and any(_num_of(m.group(0)) not in q_nums for m in _QUANTITY.finditer(w)):
                    sc += 1.0
                key = (sc, -(bounds[j] - bounds[i]), bounds[i], bounds[j])
                if best is None or key > best:
                    best = key
        assert best is not None
        s, e = best[2], best[3]
        while e > s and text[e - 1] in "，,；;：: ":
            e -= 1
        if e - s < 6:
            return c
        return _Candidate(c.hit_index, s, e, c.score, c.evidence, c.kind)

    def _dense(self, question: str, sentences: list[str]) -> list[float]:
        import numpy as np

        assert self.embedder is not None
        if not sentences:
            return []
        qv = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        # The same passages come back for many questions: embed each
        # sentence once per process (bounded; plain dict in insertion order).
        with self._cache_lock:
            known = {t: self._sentence_vecs[t] for t in sentences if t in self._sentence_vecs}
        todo = list(dict.fromkeys(t for t in sentences if t not in known))
        if todo:
            fresh = dict(zip(todo, self.embedder.embed_documents(todo), strict=True))
            known.update(fresh)
            with self._cache_lock:
                for t, v in fresh.items():
                    if len(self._sentence_vecs) >= _SENTENCE_CACHE:
                        self._sentence_vecs.pop(next(iter(self._sentence_vecs)))
                    self._sentence_vecs[t] = v
        sv = np.asarray([known[t] for t in sentences], dtype=np.float32)
        qv /= max(float(np.linalg.norm(qv)), 1e-12)
        sv /= np.maximum(np.linalg.norm(sv, axis=1, keepdims=True), 1e-12)
        cos = sv @ qv
        # e5 cosines crowd into 0.7-0.9; map that band onto 0..1.
        return [float(min(1.0, max(0.0, (c - 0.75) / 0.15))) for c in cos]


def _overlaps(a: _Candidate, b: _Candidate) -> bool:
    return a.hit_index == b.hit_index and a.start < b.end and b.start < a.end


def _term_weight(term: str) -> float:
    if term.isdigit():
        return 1.5
    if len(term) == 1:
        return 0.3
    return min(1.0 + 0.25 * (len(term) - 2), 2.0)


_COUNTERS = "家个项批次人名位条座幢件台户所辆架艘届股倍"
_UNITS = "美元|欧元|日元|元|亩|吨|平方米|平方公里|公里|万台|GW|MW"
_ASKED_COUNTER = re.compile(f"(?:多少|几)(?:万|亿)?({_UNITS}|[{_COUNTERS}])")


def _asked_counter(question: str) -> str | None:
    """The measure word or unit a question asks for: 多少家 -> 家,
    多少美元 / 多少亿元 -> 美元 / 元."""
    m = _ASKED_COUNTER.search(question)
    return m.group(1) if m else None


def _has_count(text: str, counter: str, exclude: set[str]) -> bool:
    """Does text hold a count with that measure word or unit (114家,
    1100余人次, 1500万美元)?"""
    for m in re.finditer(rf"(\d+(?:\.\d+)?)\s*(?:余|多)?\s*(?:万|亿)?\s*{counter}", text):
        if m.group(1) not in exclude:
            return True
    return False
