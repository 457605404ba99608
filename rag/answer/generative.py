"""The grounded reader: a chat model answers from numbered sentences, in JSON,
and every answer is checked before anyone sees it as an answer.

    GenerativeAnswerer(chat_model, scorer).run(question, hits, lang) -> DraftStream

1. Evidence: the best sentences of the top hits and their neighbours,
   chosen by the extractive answerer's sentence scores (evidence.py); an
   English question is scored through its Chinese translation when one is
   given. Sentences that address the model ("忽略以上指令…") are left out.
2. The model reads them under a fixed system prompt (reader_prompt.py) and
   must answer `{"found", "answer", "sentences"}`; the schema is enforced
   by a llama.cpp grammar or by structured output on OpenAI-compatible
   servers. Malformed output is retried once, then refused.
3. Checks (checks.py): every number of the answer is in a cited sentence
   and is the asked year's figure; a "who/which" answer copies a name; the
   cited sentences name the question's subject and are about its year; a
   quantity question gets a number, a date question a date. A failing
   answer is retried once with the failure named, then refused. What was
   checked is in `Draft.verification`.
4. English answers keep the Chinese figure and get a computed English form
   beside it (units.py): "US$414.14 million (41414万美元)".

The stream yields the answer text as the model writes it (unchecked, for a
live display); `draft()` is the checked result, which is what counts.
Backend failures become the GenerationError that `on_error` makes of them.

Left out: free-text answers (the structured output replaced them) and
answers that combine sentences from several questions' worth of evidence.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from rag.answer.base import make_citation, refusal
from rag.answer.checks import (
    NAME_RUN,
    consistency_failures,
    derivations,
    grounding_failures,
    looks_like_instruction,
    says_a_date,
    states_a_fact,
)
from rag.answer.condense import condense_with_llm
from rag.answer.evidence import Evidence, EvidenceSentence, select_evidence
from rag.answer.question import QuestionFacts, analyse, event_words
from rag.answer.reader_prompt import (
    RESPONSE_FORMAT,
    SYSTEM,
    TRANSLATE_SYSTEM,
    AnswerField,
    MalformedOutput,
    ReaderOutput,
    parse_output,
    retry_message,
    translate_message,
    user_message,
)
from rag.answer.units import (
    english_figures,
    printed_date_answer,
    restore_figures,
    with_counts,
    with_years,
)
from rag.errors import GenerationError, RagError
from rag.text import elapsed_ms, extract_numbers, fold, has_cjk
from rag.types import Draft, DraftStream, Hit, Lang, Turn, Verification

MAX_HITS = 4  # passages whose sentences are candidates
MAX_PICKS = 5  # best sentences (each with its neighbours) within the budget
YES_NO_PICKS = 2  # ... for a yes/no question
# Characters of evidence sentences. The model reads ~70 prompt tokens a
# second on two cores, so this decides the wait for the first token.
# Measured on every 3rd dev question (docs/measurements.md): 300 against 420
# made Chinese answers better (0.69 -> 0.75: less to confuse) and English
# ones worse (0.69 -> 0.59): an English question's sentences are ranked
# through its translation, which puts the right one lower.
EVIDENCE_CHARS: dict[Lang, int] = {"zh": 300, "en": 420}
_TRANSLATIONS = 512  # cached English -> Chinese question translations


class SentenceScorer(Protocol):
    """What the reader needs of the extractive answerer: sentences in score order."""

    def ranked_spans(self, question: str, hits: Sequence[Hit], lang: Lang) -> list[tuple[int, int, int]]: ...


def _generic_error(e: Exception) -> GenerationError:
    return GenerationError(f"the chat model failed: {type(e).__name__}: {e}")


class GenerativeAnswerer:
    name = "llm"

    def __init__(
        self,
        chat_model: BaseChatModel,
        scorer: SentenceScorer,
        *,
        side_model: BaseChatModel | None = None,
        on_error: Callable[[Exception], GenerationError] = _generic_error,
        is_common: Callable[[str], bool] = lambda name: False,
        in_corpus: Callable[[str], bool] = lambda word: True,
    ) -> None:
        self.chat_model = chat_model
        # Translation and condensing go to the side model: the same model, but
        # its calls leave the reader's cached prompt prefix in place.
        self.side_model = side_model if side_model is not None else chat_model
        self.scorer = scorer
        self.on_error = on_error
        # Names most documents mention (the city) identify no subject.
        self.is_common = is_common
        self.in_corpus = in_corpus
        self._translations: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- the protocol --------------------------------------------------------
    def run(
        self, question: str, hits: Sequence[Hit], lang: Lang, *, translation: str | None = None
    ) -> DraftStream:
        return DraftStream(self._answer(question, hits, lang, translation))

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        return condense_with_llm(self.side_model, question, history)

    def translate(self, question: str) -> str:
        """The question in Chinese (cached; the question itself on any failure)."""
        with self._lock:
            if question in self._translations:
                return self._translations[question]
        try:
            from rag.index.lexicon import default_glossary

            message = translate_message(question, default_glossary().pairs(question))
            out = self.side_model.invoke(
                [SystemMessage(TRANSLATE_SYSTEM), HumanMessage(message)], max_tokens=80
            ).text.strip()
        except Exception:  # noqa: BLE001 - translation only helps retrieval; never fail on it
            return question
        out = out.splitlines()[0].strip() if out else ""
        out = re.sub(r"^(?:问题|译文|翻译)\s*[:：]\s*", "", out)
        if not has_cjk(out) or len(out) > 3 * len(question):
            out = question
        with self._lock:
            if len(self._translations) >= _TRANSLATIONS:
                self._translations.pop(next(iter(self._translations)))
            self._translations[question] = out
        return out

    # -- the work ------------------------------------------------------------
    def facts(self, question: str, lang: Lang) -> QuestionFacts:
        facts = analyse(question, is_common=self.is_common, in_corpus=self.in_corpus)
        if lang == "en":
            # Latin names cannot be matched against Chinese sentences.
            facts = replace(facts, subjects=tuple(s for s in facts.subjects if has_cjk(s)))
        return facts

    @staticmethod
    def picks(facts: QuestionFacts) -> int:
        """How many best sentences (each with its neighbours) the model reads.
        A yes/no question is about one statement: two, as fewer distract."""
        return YES_NO_PICKS if facts.kind == "yes_no" else MAX_PICKS

    def evidence(
        self, question: str, hits: Sequence[Hit], lang: Lang, translation: str | None, *, picks: int = MAX_PICKS,
        event: str | None = None,
    ) -> Evidence:
        """The sentences the model reads. For a date question about an event
        (开工), the best sentences that say the event with a date come first:
        the check will want one, and "于去年10月份开工建设" shares few words
        with the question when the project's name is a sentence earlier."""
        top = [h for h in hits[:MAX_HITS] if not looks_like_instruction(h.chunk.text)] or list(hits[:MAX_HITS])
        if translation and translation != question:
            ranked = self.scorer.ranked_spans(f"{translation} {question}", top, "zh")
        else:
            ranked = self.scorer.ranked_spans(question, top, lang)
        ranked = [r for r in ranked if not looks_like_instruction(top[r[0]].chunk.text[r[1] : r[2]])]
        if event:
            ranked = dated_event_first(ranked, top, event)
        return select_evidence(top, ranked, budget=EVIDENCE_CHARS[lang], max_picks=picks)

    def _answer(
        self, question: str, hits: Sequence[Hit], lang: Lang, translation: str | None
    ) -> Generator[str, None, Draft]:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        if not hits:
            return refusal(lang, verification=Verification(checked=True), timings_ms={"generate": 0.0})
        facts = self.facts(question, lang)
        evidence = self.evidence(question, hits, lang, translation, picks=self.picks(facts), event=facts.event)
        if not evidence.sentences:
            return refusal(lang, verification=Verification(checked=True))
        messages = build_messages(evidence, question, lang)
        failures: list[str] = []
        output: ReaderOutput | None = None
        for attempt in range(2):
            raw = yield from self._generate(messages, timings, t0, live=attempt == 0)
            try:
                output = parse_output(raw)
            except MalformedOutput as e:
                failures.append(f"attempt {attempt + 1}: {e}")
                messages += [AIMessage(raw), HumanMessage(retry_message(f"输出不是所要求的JSON（{e}）", lang))]
                output = None
                continue
            output = repaired(output, evidence, facts, lang)
            problems, output = self._check(output, evidence, facts)
            if not problems:
                break
            failures.extend(f"attempt {attempt + 1}: {p}" for p in problems)
            messages += [AIMessage(raw), HumanMessage(retry_message("；".join(problems), lang))]
            output = None
        timings["generate"] = elapsed_ms(t0)
        return self._draft(output, evidence, lang, failures, timings, facts)

    def _generate(
        self, messages: list[BaseMessage], timings: dict[str, float], t0: float, *, live: bool
    ) -> Generator[str, None, str]:
        """The model's raw output; the `answer` field streams out while it is written."""
        field = AnswerField()
        parts: list[str] = []
        try:
            for chunk in self.chat_model.stream(messages, response_format=RESPONSE_FORMAT):
                token = chunk.text
                if not token:
                    continue
                timings.setdefault("first_token", elapsed_ms(t0))
                parts.append(token)
                delta = field.feed(token)
                if delta and live:
                    yield delta
        except RagError:
            raise
        except Exception as e:  # noqa: BLE001 - every backend failure becomes one line
            raise self.on_error(e) from e
        return "".join(parts)

    def _check(self, output: ReaderOutput, evidence: Evidence, facts: QuestionFacts) -> tuple[list[str], ReaderOutput]:
        """The problems of an answer, and the output with its citations
        repaired: a small model often cites a neighbour of the sentence it
        read a figure or a name from; when other given sentences hold what
        the answer says and pass every check, they are cited instead."""
        if not output.found or not output.answer:
            return [], output
        cited = [s for i in output.sentences if (s := evidence.by_id(i)) is not None]
        problems = self._problems(output.answer, cited, evidence, facts) if cited else ["no sentence cited"]
        if problems:
            better = self._recite(output.answer, evidence, facts)
            if better:
                return [], replace(output, sentences=tuple(s.id for s in better))
        return problems, output

    def _recite(self, answer: str, evidence: Evidence, facts: QuestionFacts) -> list[EvidenceSentence]:
        """The fewest given sentences (one, else a greedy cover of the answer's
        figures) that pass every check, or []."""
        for s in evidence.sentences:
            if not self._problems(answer, [s], evidence, facts):
                return [s]
        numbers = extract_numbers(answer)
        chosen: list[EvidenceSentence] = []
        left = list(numbers)
        while left:
            best = max(
                evidence.sentences,
                key=lambda s: sum(any(n.supported_by(m) for m in extract_numbers(s.text)) for n in left),
            )
            covered = [n for n in left if any(n.supported_by(m) for m in extract_numbers(best.text))]
            if not covered or best in chosen:
                return []
            chosen.append(best)
            left = [n for n in left if n not in covered]
        return chosen if len(chosen) > 1 and not self._problems(answer, chosen, evidence, facts) else []

    def _problems(
        self, answer: str, cited: Sequence[EvidenceSentence], evidence: Evidence, facts: QuestionFacts
    ) -> list[str]:
        sentences = [evidence.cited(s) for s in cited]
        return grounding_failures(answer, facts, sentences) + consistency_failures(facts, sentences, answer)

    def _draft(
        self, output: ReaderOutput | None, evidence: Evidence, lang: Lang, failures: list[str],
        timings: dict[str, float], facts: QuestionFacts,
    ) -> Draft:
        verification = Verification(checked=True, failures=tuple(failures))
        if output is None:
            notice = "the generated answer failed its checks and was withheld: " + "; ".join(failures)
            return refusal(lang, verification=verification, notice=notice, timings_ms=timings)
        if not output.found or not output.answer:
            return refusal(lang, verification=verification, timings_ms=timings)
        given = [s for i in output.sentences if (s := evidence.by_id(i)) is not None]
        # A comparison's difference is shown with the figures it is computed
        # from, and every sentence they come from stays cited.
        computed = derivations(output.answer, [evidence.cited(s) for s in given])
        cited = given if computed else _supporting(given, output.answer)
        if facts.kind == "yes_no" and cited:
            # The sentence that decides is quoted and cited: the scorer's best
            # one, which finds it more often than a small model's citation
            # does (dev: 10 of 15 against 5 of 15).
            cited = [min(evidence.sentences, key=lambda s: s.rank)]
        citations = tuple(
            make_citation(n, evidence.hits[s.hit_index], s.start, s.end) for n, s in enumerate(cited, start=1)
        )
        dated = [(s.text, evidence.cited(s).date) for s in cited]
        text = with_years(output.answer, dated, lang)
        if lang == "en":
            text = english_figures(with_counts(text, [s.text for s in cited]))
        if computed:
            shown = "；".join(computed) if lang == "zh" else english_figures("; ".join(computed))
            text = text.rstrip("。.") + (f"（{shown}）" if lang == "zh" else f" ({shown})")
        if cited and (facts.kind == "yes_no" or not states_a_fact(output.answer, [evidence.cited(s) for s in cited])):
            # A bare 是/否 or 高 is not checkable: quote the sentence that decides it.
            deciding = min(cited, key=lambda s: s.rank)
            text = f"{text.rstrip('。.')}{'：' if lang == 'zh' else ': '}“{deciding.text}”"
        marks = "".join(f"[{c.n}]" for c in citations)
        end = text[-1:] if text[-1:] in "。．.!?！？" else ""
        text = (text[: -len(end)] if end else text) + (" " if lang == "en" else "") + marks + end
        return Draft(
            text=text,
            refused=False,
            citations=citations,
            verification=replace(verification, citations_checked=len(citations)),
            timings_ms=timings,
        )


def repaired(output: ReaderOutput, evidence: Evidence, facts: QuestionFacts, lang: Lang) -> ReaderOutput:
    """The output with two copying slips of a small model undone before the
    checks see it (both are measured in docs/measurements.md, session 6):

    - an English answer's amount with the digits of a Chinese figure and a
      wrong multiplier ("43.5 billion" for 43.5亿元) gets the figure as
      written (`units.restore_figures`): its cited sentences first, else
      any given sentence, when exactly one figure has those digits;
    - a date question answered with its page's printing date (read from
      the header) gets the one date its cited sentence writes
      (`units.printed_date_answer`): "昨天下午", beside a citation that
      shows the page's date.
    """
    if not output.found or not output.answer:
        return output
    cited = [s for i in output.sentences if (s := evidence.by_id(i)) is not None]
    answer = output.answer
    if lang == "en":
        answer = restore_figures(answer, [s.text for s in cited])
        if answer == output.answer:
            answer = restore_figures(answer, [s.text for s in evidence.sentences])
    if facts.kind == "date":
        for s in cited:
            fixed = printed_date_answer(answer, s.text, evidence.cited(s).date)
            if fixed:
                answer = fixed
                break
    return output if answer == output.answer else replace(output, answer=answer)


EVENT_FIRST = 2  # sentences that say the asked event with a date, moved first


def dated_event_first(ranked: list[tuple[int, int, int]], hits: Sequence[Hit], event: str) -> list[tuple[int, int, int]]:
    """`ranked` with its best EVENT_FIRST sentences that say `event` (or a
    verb for the same event) and a date moved to the front, in their order.

    >>> from rag.types import Chunk
    >>> text = "湛新项目是省重大外资项目。注册资本6000万美元，于去年10月份开工建设。项目开工仪式很隆重。"
    >>> chunk = Chunk(id="c", source="s.txt", article=0, title="t", date="2022-05-10", start=0,
    ...               end=len(text), text=text, orig_start=0, orig_end=len(text))
    >>> a, b = text.index("注册"), text.index("项目开工")
    >>> ranked = [(0, 0, a), (0, b, len(text)), (0, a, b)]
    >>> [text[s:e] for _, s, e in dated_event_first(ranked, [Hit(chunk=chunk, rank=1, score=1.0)], "开工")]
    ['注册资本6000万美元，于去年10月份开工建设。', '湛新项目是省重大外资项目。', '项目开工仪式很隆重。']
    """
    verbs = event_words(event)

    def dated_event(r: tuple[int, int, int]) -> bool:
        text = hits[r[0]].chunk.text[r[1] : r[2]]
        return any(v in text for v in verbs) and says_a_date(text)

    first = [r for r in ranked if dated_event(r)][:EVENT_FIRST]
    return first + [r for r in ranked if r not in first]


def _supporting(cited: list[EvidenceSentence], answer: str) -> list[EvidenceSentence]:
    """The cited sentences that hold a number or a name of the answer (all
    of them when none does): a small model cites generously."""
    numbers = extract_numbers(answer)
    runs = [fold(r) for r in NAME_RUN.findall(answer)]

    def holds(s: EvidenceSentence) -> bool:
        text = fold(s.text)
        found = extract_numbers(s.text)
        return any(n.supported_by(m) for n in numbers for m in found) or any(r in text for r in runs)

    return [s for s in cited if holds(s)] or cited


def prompt_text(messages: Sequence[BaseMessage]) -> str:
    """The messages as one string (for token counts in benchmarks)."""
    return "\n".join(m.text for m in messages)


def build_messages(evidence: Evidence, question: str, lang: Lang) -> list[BaseMessage]:
    """The first attempt's messages (for benchmarks and tests)."""
    return [SystemMessage(SYSTEM), HumanMessage(user_message(evidence.render(lang), question, lang))]

