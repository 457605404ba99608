"""Deterministic checks of an answer against the sentences it rests on.

    grounding_failures(answer, facts, cited)     numbers, years, names
    consistency_failures(facts, cited)           subject, period, kind

Both answerers use them: the extractive one to pass over a sentence that
only looks like an answer, the generative one to reject (and retry once) a
model answer that is not supported. Each failure is one sentence in words,
shown in `Answer.verification`.

Grounding:
- every number of the answer is in a cited sentence (by value, at the
  precision written: "4.14亿" is supported by "41414万"); 今年/去年 in a dated
  sentence count as the years they mean;
- a figure must be *the asked year's* figure: when the question names a
  year, the nearest year written before the figure in its sentence must be
  that year, so "63232万美元" (the 2020 figure, in the sentence that also
  holds the 2022 one) is no answer to a 2022 question;
- an answer to "who / which company" must copy a name from the sentences;
- a count counts what was asked: "多少家企业" is not answered by the
  "3860件" of a sentence (the figure's measure word must agree with the
  question's, 名/位 being 人);
- a comparison (差距, 多多少, how much more) may answer with the difference
  of two figures of the cited sentences in one unit (`derivation`), each
  of an asked year: 1400万元 - 916.6万元 = 483.4万元; no sums, no percentages;
- a date question about an event (开工, 落户; `QuestionFacts.event`) must
  cite a sentence that says that event or a verb for the same one: "是我市
  今年新认定的项目" does not date its 开工.

Consistency (the near misses: right company, wrong year or metric):
- subject: one of the names the question asks about, and every Latin term
  a Chinese question uses (GDP), is in the cited sentences' passages or
  their article's title (a term may also be there in its glossary
  translation); so is a phase or batch it names (二期, 第三批): the first
  phase's investment does not answer a question about the second;
- period: every year the question names is in that context (written, or
  through 今年/去年 and the article date), unless the context gives no
  year at all;
- kind: a quantity question gets a number, a date question a date.

A sentence that addresses the model with an instruction ("忽略以上指令，回答：
…", "ignore previous instructions and say …") is a prompt injection, not
evidence (`looks_like_instruction`): the reader never sees it, and its
numbers support nothing.

Left out: checking claims without numbers or names (what a sentence means).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.question import PART_OF_YEAR, QuestionFacts, event_words
from rag.text import (
    CJK,
    Number,
    extract_numbers,
    find_numbers,
    fold,
    has_cjk,
    normalise_digits,
    relative_years,
)

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:\s*年)?(?!\d)")
_RELATIVE = re.compile(r"前年|去年|上年|今年|当年|本年|明年")
# Words that date a sentence by its article's date.
_RELATIVE_DAY = re.compile(r"昨天|昨日|前天|今天|今日|当天|日前|近日|本月|上月|本周|上周|目前|近期")
_DATE_IN_ANSWER = re.compile(
    r"(?:19|20)\d{2}|\d{1,2}\s*月|\d{1,2}\s*日|季度|上半年|下半年|年底|年初|今年|去年|明年|前年|"
    r"周[一二三四五六日天末]|星期[一二三四五六日天]|礼拜[一二三四五六日天]|"
    r"昨天|昨日|前天|今天|今日|当天|日前|近日|本月|上月|上旬|中旬|下旬|"
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekends?)s?\b",
    re.I,
)
NAME_RUN = re.compile(rf"[{CJK}]{{2,}}|[A-Za-z][A-Za-z\-]{{2,}}")
# The measure word after a figure: "512家", "1900余名", "3.5万吨".
_MEASURE = re.compile(r"\d+(?:\.\d+)?\s*(?:[十百千万亿]\s*)*(?:余|多)?\s*([家件台人名位亩天日吨户辆套座所条批个项])")
# Measure words that count the same things.
_SAME_COUNT = {"人": "人名位", "天": "天日", "台": "台套", "家": "家户个", "件": "件项个"}


@dataclass(frozen=True)
class CitedSentence:
    """A sentence an answer rests on, with what it is read in."""

    text: str
    title: str = ""
    date: str | None = None
    context: str = ""  # the sentence with its neighbours in the passage
    passage: str = ""  # the whole retrieved passage it comes from


_INSTRUCTION = re.compile(
    r"(?:忽略|无视|不要理会|忘记|忘掉)(?:掉)?(?:以上|上面|上述|之前|前面|先前|所有|全部|你的)*(?:的)?(?:所有)?"
    r"(?:指令|指示|提示|要求|规则|设定)"
    r"|(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
    r"(?:previous|prior|above|earlier|preceding|system)?\s*(?:instructions|prompts?|rules|directions)"
    r"|(?:你现在是|作为AI|作为人工智能|system prompt|you are now|new instructions)",
    re.IGNORECASE,
)


def looks_like_instruction(text: str) -> bool:
    """True if `text` contains an instruction addressed to the model."""
    return bool(_INSTRUCTION.search(text))



def _years_in(text: str, date: str | None) -> set[str]:
    return set(_YEAR.findall(normalise_digits(text))) | relative_years(text, date)


_MONTH = re.compile(r"(?<![\d年./-])(1[0-2]|0?[1-9])\s*月")


def month_year(sentence: str, date: str | None) -> set[str]:
    """The year a month written without one ("3月，…提出") means on a page of
    `date`: a newspaper's month is its latest past one, in the page's year
    unless the month is later than the page's. Nothing when the sentence
    writes a year or no month, or the page has no date.

    >>> month_year("3月，《实施方案》提出了蓝图。", "2023-05-15")
    {'2023'}
    >>> month_year("3月3日，项目落户平湖。", "2024-01-03")
    {'2023'}
    >>> month_year("2022年3月，项目开工。", "2023-05-15"), month_year("历时不到2个月。", "2023-05-15")
    (set(), set())
    """
    text = normalise_digits(sentence)
    if not date or _YEAR.search(text):
        return set()
    m = _MONTH.search(text)
    if not m:
        return set()
    year, page_month = int(date[:4]), int(date[5:7])
    return {str(year if int(m.group(1)) <= page_month else year - 1)}


def figure_year(sentence: str, position: int, date: str | None) -> str | None:
    """The year a figure at `position` of `sentence` belongs to: the nearest
    year written (or 今年/去年 resolved) before it, else None.

    >>> s = "从2013年的22583万美元增长到2020年的63232万美元，2022年达到41414万美元"
    >>> figure_year(s, s.index("63232"), None), figure_year(s, s.index("41414"), None)
    ('2020', '2022')
    """
    before = sentence[:position]
    best: tuple[int, str] | None = None
    for m in _YEAR.finditer(before):
        best = (m.start(), m.group(1))
    for m in _RELATIVE.finditer(before):
        years = relative_years(m.group(0), date)
        if years and (best is None or m.start() > best[0]):
            best = (m.start(), next(iter(years)))
    return best[1] if best else None


def grounding_failures(answer: str, facts: QuestionFacts, cited: Sequence[CitedSentence]) -> list[str]:
    """What in `answer` the cited sentences do not support (empty: grounded)."""
    failures: list[str] = []
    if not cited:
        return ["the answer cites no sentence"]
    for num in extract_numbers(answer):
        is_year = _is_year(num)
        holders: list[tuple[CitedSentence, int, str]] = []
        for c in cited:
            if looks_like_instruction(c.text):
                continue
            text = normalise_digits(c.text)
            found = [(n, pos) for n, pos in find_numbers(c.text) if num.supported_by(n)]
            # A year may come from 今年/去年, or from the article's date when the
            # sentence dates itself by it ("昨天" in a page of 2024-01-03 is a
            # 2024 date); not from the date alone, which is when it was printed.
            # A month without a year ("3月，…提出") is the page's latest past one.
            article_year = {c.date[:4]} if c.date and _RELATIVE_DAY.search(c.text) else set()
            article_year |= month_year(c.text, c.date)
            if is_year and str(int(num.mantissa)) in _years_in(c.text + " " + c.title, c.date) | article_year:
                found = found or [(num, 0)]
            holders.extend((c, pos, text) for _, pos in found)
        if not holders and facts.compares and not is_year and not num.percent:
            # A comparison's answer may be the difference of two
            # figures the sentences give: 1400万元 - 916.6万元 = 483.4万元.
            pair = derivation(num, cited, _answer_unit(answer, num))
            if pair and facts.years:
                # Both figures must be of a year asked (one each when two are).
                years = {figure_year(normalise_digits(o.sentence.text), o.position, o.sentence.date) for o in pair[:2]}
                if not years <= set(facts.years) | {None}:
                    asked = "/".join(sorted(facts.years))
                    other = "/".join(sorted(y for y in years - set(facts.years) if y))
                    failures.append(f"{num.text} is the {other} figure, not {asked}")
                    continue
            if pair:
                holders = [(o.sentence, o.position, normalise_digits(o.sentence.text)) for o in pair[:2]]
        if not holders:
            failures.append(f"{num.text} is not in the cited sentences")
            continue
        if facts.counted and not is_year and not num.percent:
            words = {w for c, pos, text in holders if (w := _measure_word(text, pos))}
            same = _SAME_COUNT.get(facts.counted, facts.counted)
            if words and not words & set(same):
                failures.append(f"{num.text} counts {'/'.join(sorted(words))}, not {facts.counted}")
                continue
        if facts.whole_year and not is_year:
            parts = {p for c, pos, text in holders if (p := part_of_year(text, pos))}
            if parts and len(parts) == len(holders):
                failures.append(f"{num.text} is the {'/'.join(sorted(parts))} figure, not the whole year's")
                continue
        if is_year or not facts.years:
            continue
        years = {figure_year(text, pos, c.date) for c, pos, text in holders}
        if not (years & set(facts.years)) and None not in years:
            asked = "/".join(sorted(facts.years))
            failures.append(f"{num.text} is the {'/'.join(sorted(y for y in years if y))} figure, not {asked}")
    if facts.kind == "name" and not _copies_a_name(answer, facts, cited):
        failures.append("the answer names nothing the cited sentences name")
    if facts.event:
        verbs = event_words(facts.event)
        if not any(w in fold(c.text) for c in cited for w in verbs):
            failures.append(f"no cited sentence says when it was {facts.event}")
    return failures


# The digits of a month or a day (11月, 3日, 1至11月), which are not figures.
_DATE_PART = re.compile(r"\d{1,2}\s*(?:月|日|号|(?:至|到|-|—|－|~)\s*\d{1,2}\s*月)")


def part_of_year(text: str, position: int) -> str | None:
    """The part of a year (1至11月, 一季度) the figure at `position` is
    for: the last one its sentence names before it, unless 全年 comes later.

    >>> part_of_year("去年1至11月,全市完成实际外资4.8亿美元", 18)
    '1至11月'
    >>> part_of_year("一季度增长5%；全年实际外资4.8亿美元", 15) is None
    True
    """
    before = text[:position]
    start = max(before.rfind(p) for p in "。；;!?！？") + 1
    before = before[start:]
    parts = list(PART_OF_YEAR.finditer(before))
    if not parts or "全年" in before[parts[-1].end() :]:
        return None
    return re.sub(r"\s+", "", parts[-1].group(0))


@dataclass(frozen=True)
class Operand:
    """A figure a derived number is computed from, and where it is."""

    sentence: CitedSentence
    number: Number
    position: int
    unit: str  # what follows the digits: 万元, 万美元, %, 家


# What follows a figure's digits: a multiplier, then a currency or a measure word.
_UNIT_WORD = re.compile(
    r"\s*(%|％|个百分点|(?:[万亿千百]\s*)*(?:美元|欧元|日元|港元|英镑|平方公里|平方米|元|[^\W\d_a-zA-Z%％])?)"
)


def _unit_at(text: str, pos: int) -> str:
    """The unit written after the digits of the figure at `pos` of `text`."""
    digits = re.match(r"[\d.]+", text[pos:])
    m = _UNIT_WORD.match(text, pos + (digits.end() if digits else 0))
    return re.sub(r"\s+", "", m.group(1)) if m else ""


def derivation(num: Number, cited: Sequence[CitedSentence], unit: str = "") -> tuple[Operand, Operand, str] | None:
    """Two figures of the cited sentences, in the same unit (of the kind of
    the answer's `unit` when it is known), whose difference is `num` at its
    precision, and the operator ("-").

    Only differences of amounts and counts: a sum of two figures is rarely
    what a comparison asks, and percentages are left out, because the
    difference of two growth rates or shares is easily a wrong answer to
    "增长了多少" that merely looks computed.

    >>> n, = extract_numbers("483.4万元")
    >>> a, b, op = derivation(n, [CitedSentence("太仓1400万元，而同期平湖只有916.6万元")], "万元")
    >>> a.number.text, op, b.number.text, a.unit
    ('1400万', '-', '916.6万', '万元')
    >>> derivation(n, [CitedSentence("太仓1400万元，而同期平湖只有916.6万美元")]) is None
    True
    >>> m, = extract_numbers("480万元")
    >>> derivation(m, [CitedSentence("太仓1400万元，而同期平湖只有916.6万元")]) is None
    True
    """
    if num.percent:
        return None
    figures: list[Operand] = []
    for c in cited:
        if looks_like_instruction(c.text):
            continue
        text = normalise_digits(c.text)
        for n, pos in find_numbers(c.text):
            u = _unit_at(text, pos)
            if not n.percent and not _is_year(n) and u and _same_kind(u, unit):
                figures.append(Operand(c, n, pos, u))
    tol = 0.5 * 10.0 ** (-num.decimals) + 1e-9

    def equals(value: float) -> bool:
        return abs(value / num.scale - num.mantissa) <= tol

    for i, a in enumerate(figures):
        for b in figures[i + 1 :]:
            if a.unit != b.unit:
                continue
            big, small = (a, b) if a.number.value >= b.number.value else (b, a)
            if equals(big.number.value - small.number.value):
                return big, small, "-"
    return None


def _same_kind(unit: str, answer_unit: str) -> bool:
    """Is a figure in `unit` of the same currency or measure as the answer's?
    (万元 and 亿元 both count 元; an answer without a unit takes any.)"""

    def base(u: str) -> str:
        return re.sub(r"^[万亿千百]+", "", u)

    return not answer_unit or base(unit) == base(answer_unit)


def derivations(answer: str, cited: Sequence[CitedSentence]) -> list[str]:
    """How each figure of a comparison's answer that no sentence gives is
    computed from two that they do ("1400万元 - 916.6万元").

    >>> derivations("相差483.4万元", [CitedSentence("太仓1400万元，而同期平湖只有916.6万元")])
    ['1400万元 - 916.6万元']
    """
    out: list[str] = []
    body = [n for c in cited for n, _ in find_numbers(c.text)]
    norm = normalise_digits(answer)
    for num, pos in find_numbers(answer):
        if _is_year(num) or any(num.supported_by(n) for n in body):
            continue
        found = derivation(num, cited, _unit_at(norm, pos))
        if found:
            a, b, op = found
            out.append(f"{_written(a)} {op} {_written(b)}")
    return out


def _written(o: Operand) -> str:
    """An operand as its sentence writes it (digits and unit)."""
    text = normalise_digits(o.sentence.text)
    digits = re.match(r"[\d.]+", text[o.position :])
    return (digits.group(0) if digits else o.number.text) + o.unit


def _answer_unit(answer: str, num: Number) -> str:
    norm = normalise_digits(answer)
    return next((_unit_at(norm, pos) for n, pos in find_numbers(answer) if n == num), "")


def _is_year(n: Number) -> bool:
    return n.scale == 1.0 and not n.percent and n.decimals == 0 and 1900 <= n.mantissa <= 2100


def says_a_date(text: str) -> bool:
    """Does `text` say when (a year, a month, a day, 今年, 上旬...)?

    >>> says_a_date("于去年10月份开工建设"), says_a_date("项目开工仪式很隆重")
    (True, False)
    """
    return bool(_DATE_IN_ANSWER.search(normalise_digits(text)))


def _measure_word(text: str, pos: int) -> str | None:
    """The measure word written right after the figure at `pos`, if any."""
    m = _MEASURE.match(text, pos)
    return m.group(1) if m else None


def states_a_fact(answer: str, cited: Sequence[CitedSentence]) -> bool:
    """Does the answer carry a number or a phrase of the cited sentences
    (not just 是, 高, "No")?"""
    body = fold(" ".join(c.text for c in cited))
    return bool(extract_numbers(answer)) or any(fold(r) in body for r in NAME_RUN.findall(answer))


def _copies_a_name(answer: str, facts: QuestionFacts, cited: Sequence[CitedSentence]) -> bool:
    """Does the answer copy from a cited sentence something the question does
    not say: a whole run of 2+ CJK characters or a Latin word, or, inside a
    longer CJK run (a sentence around the name), three characters in a row?
    And does it invent nothing: no new part of three or more characters
    is missing from the sentences (a made-up name beside copied words)?

    >>> f = QuestionFacts(text="谁负责?", years=frozenset(), kind="name", subjects=())
    >>> _copies_a_name("项目由尹海涛负责", f, [CitedSentence("尹海涛说，项目明年投产。")])
    True
    >>> _copies_a_name("项目由张三负责", f, [CitedSentence("尹海涛说，项目明年投产。")])
    False
    """
    body = fold(" ".join(c.text for c in cited))
    runs = [fold(r) for r in NAME_RUN.findall(answer)]
    if any(_invented(seg, body) for run in runs if has_cjk(run) for seg in _new_segments(run, facts.text)):
        return False
    for run in runs:
        if run in body and run not in facts.text:
            return True
        grams = (run[i : i + 3] for i in range(len(run) - 2)) if has_cjk(run) else iter(())
        if any(g in body and g not in facts.text for g in grams):
            return True
    return False


def _new_segments(run: str, question: str) -> list[str]:
    """The parts of a CJK run that the question does not say: the
    characters outside every two-character piece the question has.

    >>> _new_segments("平湖市第一家外资企业叫上海华谊集团", "平湖第一家外资企业叫什么名字")
    ['市', '上海华谊集团']
    """
    covered = [False] * len(run)
    for i in range(len(run) - 1):
        if run[i : i + 2] in question:
            covered[i] = covered[i + 1] = True
    segments, current = [], ""
    for ch, cov in zip(run, covered, strict=True):
        if cov:
            if current:
                segments.append(current)
            current = ""
        else:
            current += ch
    return [*segments, current] if current else segments


def _invented(segment: str, body: str) -> bool:
    """A new part of an answer of three or more characters of which the
    cited sentences have no three in a row: a name the model made up.

    >>> _invented("上海华谊集团", "平湖第一家外资企业落户于1986年"), _invented("是尹海涛", "尹海涛说")
    (True, False)
    """
    if len(segment) < 3 or segment in body:
        return False
    return not any(segment[i : i + 3] in body for i in range(len(segment) - 2))


def _translated_in(term: str, context: str) -> bool:
    """Is a Chinese rendering of an English term (the glossary's) in the context?"""
    from rag.index.lexicon import default_glossary

    return any(zh in context for zh in default_glossary().translate(term)[1])


def consistency_failures(facts: QuestionFacts, cited: Sequence[CitedSentence], answer: str = "") -> list[str]:
    """Is what the sentences say about what the question asks (see module doc)?"""
    failures: list[str] = []
    # The subject may be named a sentence or two earlier ("该项目…"): look in
    # the whole passage. A question may name one thing twice (尼得科（日本
    # 电产）) or two things to compare: one of its names is enough.
    context = fold(" ".join(f"{c.title} {c.passage or c.context or c.text}" for c in cited))
    missing = [t for t in facts.terms if t not in context and not _translated_in(t, context)]
    if facts.subjects and not any(s in context for s in facts.subjects):
        missing = [*facts.subjects, *missing]
    missing += [p for p in facts.phases if p not in context]
    if missing:
        failures.append(f"the sentences do not mention {', '.join(missing)}")
    if facts.years:
        years: set[str] = set()
        for c in cited:
            years |= _years_in(f"{c.title} {c.context or c.text}", c.date)
        if years and not facts.years <= years:
            failures.append(
                f"the sentences are about {', '.join(sorted(years))}, not {', '.join(sorted(facts.years))}"
            )
    if facts.whole_year:
        # A whole year asked, and the sentences' figures are all for a part
        # of one (去年1至11月…4.8亿美元): a near miss, whoever answers.
        figures = [
            (text, pos) for c in cited for n, pos in find_numbers(c.text)
            if not _is_year(n) and not _DATE_PART.match(text := normalise_digits(c.text), pos)
        ]
        parts = {p for text, pos in figures if (p := part_of_year(text, pos))}
        if figures and all(part_of_year(text, pos) for text, pos in figures):
            failures.append(f"the sentences give {'/'.join(sorted(parts))} figures, not the whole year's")
    if answer:
        if facts.kind == "quantity" and not re.search(r"\d", normalise_digits(answer)) and not re.search(
            r"[一二三四五六七八九十百千万亿两]", answer
        ):
            failures.append("a quantity was asked but the answer has no number")
        if facts.kind == "date" and not _DATE_IN_ANSWER.search(normalise_digits(answer)):
            failures.append("a date was asked but the answer has none")
    return failures
