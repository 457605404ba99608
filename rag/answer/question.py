"""What a question asks: the years or periods, the kind of answer, the subject.

    facts = analyse("2022年津上精密缴纳税收多少？")
    facts.years == {"2022"}; facts.kind == "quantity"; facts.subjects == ("津上精密",)

Both answerers use these facts for their consistency checks (rag/answer/checks.py):
a sentence that answers must be about the asked year, name the asked
subject, say the asked quantity's qualifiers (日资 in "多少家日资企业"), and
hold the asked kind of answer. The rules are general (question words,
names, parts of speech and the corpus's word statistics), not fitted to any
corpus: which words are rare comes from the caller (`is_rare`, the BM25
document frequencies; without it no word is a qualifier).

Left out: relative years in the question itself ("今年" in a question means
the reader's year, which the documents' dates cannot tell), and months.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from rag.text import CJK, detect_lang, fold

Kind = Literal["quantity", "date", "name", "yes_no", "other"]

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_LATIN_TERM = re.compile(r"[a-z][a-z0-9\-]+")
_IDEOGRAPHS = re.compile(f"[{CJK}]")
_NAME_LIKE = re.compile(r"[A-Za-z]|(?:市|县|区|镇|乡|省|村|港|湾|岛|公司|集团|银行|大学|医院|学院|局|委|园区|中心)$")
_DATE = re.compile(
    r"哪一?年|哪年|何时|什么时候|几月|哪个月|哪一?天|几号|日期|时间是|"
    r"\bwhen\b|\bwhat year\b|\bwhich year\b|\bwhat date\b|\bwhich month\b|\bwhat month\b|\bwhat day\b",
    re.I,
)
_QUANTITY = re.compile(
    r"多少|几[家个项批次人名位条座幢件台户所年月天亿万%]|多大|多高|多长|多远|多少倍|占比|比重|比例|"
    r"增长了?多少|增速|规模|金额|总额|产值|\bhow (?:much|many|large|big|high|long|far)\b|"
    r"\bwhat (?:percentage|share|proportion|amount|number|total|value)\b|\bwhat was the (?:growth|rate)\b",
    re.I,
)
_NAME = re.compile(
    r"谁|叫什么|什么名字|名称|哪家|哪一家|哪个(?:公司|企业|项目|国家|城市|地方|部门|单位|园区|机构)|"
    r"哪些(?:公司|企业|国家|城市|项目|园区|机构)|"
    r"\bwho\b|\bwhose\b|\bwhich (?:company|companies|firm|firms|enterprise|enterprises|country|countries|city|"
    r"project|projects|park|organi[sz]ation)\b|\bwhat (?:company|firm|enterprise|is the name|name)\b",
    re.I,
)
_YES_NO = re.compile(
    r"吗[？?。\s]*$|是否|有没有|是不是|能不能|可不可以|^\s*(?:is|are|was|were|did|does|do|has|have|had|can|could|will)\b",
    re.I,
)


@dataclass(frozen=True)
class Qualifier:
    """A rare word of the question that narrows what it asks (日资 in 日资企业,
    产值 rather than 税收), and the forms that say it: the word, a glossary
    variant, or all of its specific parts. A sentence says it when one form's
    strings are all in the sentence's context."""

    word: str
    forms: tuple[tuple[str, ...], ...]
    clause: int = 0  # which part of the question asks for it (a question may ask two things)

    def said_in(self, context: str) -> bool:
        return any(all(p in context for p in form) for form in self.forms)


@dataclass(frozen=True)
class QuestionFacts:
    text: str  # the folded (NFKC, lower-case) text the facts come from
    years: frozenset[str]  # years written in the question
    kind: Kind
    subjects: tuple[str, ...]  # names the answer must be about (companies, places, projects)
    terms: tuple[str, ...] = ()  # Latin terms a Chinese question uses (GDP, THOMAS): the answer's sentences must too
    qualifiers: tuple[Qualifier, ...] = ()  # rare words that narrow the asked thing: the sentences must say them


def question_kind(text: str) -> Kind:
    """The kind of answer a question asks for; the first matching rule wins:
    a date (when, 哪一年), a name (who, 哪家), a quantity (how many, 多少),
    yes or no (吗, is/does...), else other."""
    q = fold(text)
    if _DATE.search(q):
        return "date"
    if _NAME.search(q) or re.search(r"哪几|哪些", q):
        return "name"
    if _QUANTITY.search(q):
        return "quantity"
    if _YES_NO.search(q):
        return "yes_no"
    return "other"


def analyse(
    question: str,
    *,
    is_common: Callable[[str], bool] = lambda name: False,
    in_corpus: Callable[[str], bool] = lambda name: True,
    is_rare: Callable[[str], bool] = lambda word: False,
) -> QuestionFacts:
    """The facts of a question. `is_common(name)` says a name is too
    frequent in the corpus to identify a subject (the city every page is
    about); `in_corpus(word)` whether any passage has the word;
    `is_rare(word)` whether few passages have it (a qualifier worth
    checking; by default none is).

    jieba's tagger calls some common words names (午休 a place): a tagged
    word counts as a name only when the corpus has it, or it looks like one
    (a place or organisation suffix, Latin letters).
    """
    from rag.index.lexicon import default_tokenizer

    q = fold(question)
    names = [
        n for n in default_tokenizer().proper_nouns(question)
        if not is_common(fold(n)) and (in_corpus(fold(n)) or _NAME_LIKE.search(n))
    ]
    lang = detect_lang(question)
    terms = tuple(dict.fromkeys(_LATIN_TERM.findall(q))) if lang == "zh" else ()
    subjects = tuple(fold(n) for n in names)
    kind = question_kind(question)
    # A quantity is only the asked one with its qualifiers (日资企业的注册资本).
    asked = (
        qualifiers(q, lang, subjects, is_rare=is_rare, is_common=is_common, in_corpus=in_corpus)
        if kind == "quantity"
        else ()
    )
    return QuestionFacts(
        text=q,
        years=frozenset(_YEAR.findall(q)),
        kind=kind,
        subjects=subjects,
        terms=terms,
        qualifiers=asked,
    )


# Parts of speech of words that name a thing or a kind of thing: nouns,
# abbreviations (同比), distinguishing words (二期, 省级), and words the
# dictionaries do not have (the domain's 日资企业, 德资). Not verbs,
# adverbs, time words or names (names are subjects, checked on their own).
_THING_TAGS = frozenset({"n", "nz", "ng", "nl", "j", "b", "an", None})
# A word general Chinese uses this often (jieba's dictionary counts: 人员,
# 数量, 计划, 目标) is too generic to narrow anything, however few passages have it.
_GENERIC = 1e-4
_NAME_TAGS = frozenset({"nr", "ns", "nt", "nrt", "nrfg"})
# What ends a clause of a question, and what joins two things asked about.
_CLAUSE_END = re.compile(r"[，,；;？?。！!]")
_COORDINATOR = re.compile(r"和|与|及|以及|还是|或|或者|、|跟|and|or|vs\.?")
_ASKS = re.compile(
    r"多少|几|哪|什么|谁|吗|是否|怎|如何|多大|多高|多长|多久|"
    r"\b(?:how|what|which|who|when|where|whose|is|are|was|were|did|does|do|has|have)\b"
)
_ASKING = re.compile(r"多少|哪|什么|几|谁|怎|如何|为何|是否|吗|呢|^[更最较越]")  # and comparatives (更大)


def qualifiers(
    question: str,
    lang: str,
    subjects: Sequence[str] = (),
    *,
    is_rare: Callable[[str], bool],
    is_common: Callable[[str], bool] = lambda word: False,
    in_corpus: Callable[[str], bool] = lambda word: True,
) -> tuple[Qualifier, ...]:
    """The words of a question that narrow what it asks and that few
    passages have (so the sentence that answers must have them too).

    Chinese: jieba's whole words of two or more CJK characters that name a
    thing (nouns and the like, `_THING_TAGS`), less question words, the
    subject names (checked on their own), words found in more than a few
    passages (`is_rare`) and words no passage has (a paraphrase's wording,
    which no passage can confirm). English: the glossary terms of its
    phrases ("registered capital" -> 注册资本), when every term the corpus
    has is rare, and the Chinese words it quotes.

    Each comes with the forms that say it: the word, its glossary variants
    (not place names: 日本 does not say 日资) and its specific parts (日资企业
    is said by 日资, as 企业 is everywhere). Each carries the number of its
    clause: a question that asks two things ("日资企业和欧美企业，哪一边…",
    "几家…，到2025年…多少") is answered clause by clause.
    """
    from rag.index.lexicon import default_glossary, default_tokenizer

    tk, glossary = default_tokenizer(), default_glossary()

    def wanted(word: str) -> bool:
        return (
            len(_IDEOGRAPHS.findall(word)) >= 2
            and word not in tk.stopwords
            and tk.tag(word) in _THING_TAGS
            and tk.frequency(word) <= _GENERIC
            and not _ASKING.search(word)
            and not any(word in s or s in word for s in subjects)
            and not is_common(word)
            and is_rare(word)
        )

    def variants(word: str) -> list[tuple[str, ...]]:
        return [(v,) for v in glossary.variants(word) if tk.tag(v) not in _NAME_TAGS]

    def forms(word: str) -> list[tuple[str, ...]]:
        out = [(word,), *variants(word)]
        parts = [p for p in tk.words(word) if p != word and len(p) >= 2]
        specific = [p for p in parts if is_rare(p)]
        if len(specific) == 1:
            out += [(specific[0],), *variants(specific[0])]
        elif specific or parts:
            out.append(tuple(specific or parts))
        return out

    text, phrases = glossary.locate(question) if lang == "en" else (fold(question), [])
    # Walk the words: clause ends, coordinators (A和B) and the wanted words.
    marks: list[tuple[int, str, str]] = []  # (position, "end" | "or" | "word", text)
    at = 0
    for token in tk.cut(text):
        t = token.strip()
        if _CLAUSE_END.fullmatch(t):
            marks.append((at, "end", t))
        elif _COORDINATOR.fullmatch(t):
            marks.append((at, "or", t))
        elif wanted(token):
            marks.append((at, "word", token))
        at += len(token)
    for en, zh, start in phrases:
        known = [z for z in zh if in_corpus(z)]
        if known and all(wanted(z) for z in known):
            marks.append((start, "phrase", en))
    terms = {en: [z for z in zh if in_corpus(z)] for en, zh, _ in phrases}
    clauses: list[list[Qualifier]] = [[]]
    asks: list[bool] = [False]
    pending_or = False
    last = 0
    word_end = -1  # where the last qualifier word ends
    for start, what, word in sorted(marks):
        if what == "end":
            asks[-1] = asks[-1] or bool(_ASKS.search(text[last:start]))
            last = start
            clauses.append([])
            asks.append(False)
            pending_or = False
            continue
        if what == "or":
            # Only a qualifier right before the coordinator is one of two.
            pending_or = bool(clauses[-1]) and word_end >= 0 and not text[word_end:start].strip()
            continue
        word_end = start + len(word)
        made = Qualifier(word, _unique(f for z in terms.get(word, [word]) for f in forms(z)))
        if pending_or:
            # Coordinated (日资企业和欧美企业): either one says what is asked.
            prev = clauses[-1].pop()
            made = Qualifier(f"{prev.word}/{made.word}", prev.forms + made.forms)
            pending_or = False
        if all(q.word != made.word for q in clauses[-1]):
            clauses[-1].append(made)
    asks[-1] = asks[-1] or bool(_ASKS.search(text[last:]))
    # A clause that asks nothing ("截至2022年底，") narrows the next one that does.
    merged: list[list[Qualifier]] = []
    carry: list[Qualifier] = []
    for qs, asking in zip(clauses, asks, strict=True):
        carry += qs
        if asking:
            merged.append(carry)
            carry = []
    if carry:
        if merged:
            merged[-1] += carry
        else:
            merged.append(carry)
    if not all(merged):
        return ()  # a clause asks for something no rare word narrows: nothing to check
    return tuple(
        replace(q, clause=n) for n, qs in enumerate(merged) for q in dict((q.word, q) for q in qs).values()
    )


def _unique(forms: Iterable[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(forms))
