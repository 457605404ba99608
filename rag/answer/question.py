"""What a question asks: the years or periods, the kind of answer, the subject.

    facts = analyse("2022年津上精密缴纳税收多少？")
    facts.years == {"2022"}; facts.kind == "quantity"; facts.subjects == ("津上精密",)
    analyse("平湖有多少家日资企业？").counted == "家"
    analyse("和太仓比，亩均产值差距有多大？").compares == True
    analyse("湛新项目是什么时候开工建设的？").event == "开工"

Both answerers use these facts for their consistency checks (rag/answer/checks.py):
a sentence that answers must be about the asked year, name the asked
subject, and hold the asked kind of answer. The rules are general (question
words and names), not fitted to any corpus.

Left out: relative years in the question itself ("今年" in a question means
the reader's year, which the documents' dates cannot tell), and months.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rag.text import detect_lang, fold

Kind = Literal["quantity", "date", "name", "yes_no", "other"]

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_LATIN_TERM = re.compile(r"[a-z][a-z0-9\-]+")
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


# A count's measure word (多少家, 几名): the figure that answers must count the
# same thing. 个 and 项 are left out: they count almost anything.
_COUNTED_ZH = re.compile(r"(?:多少|几)\s*([家件台人名位亩天吨户辆套座所条批])")
_COUNTED_EN = (
    (re.compile(r"\bhow many (?:\w+ ){0,2}?(?:companies|firms|enterprises|businesses)\b", re.I), "家"),
    (re.compile(r"\bhow many (?:\w+ ){0,2}?(?:people|persons|employees|workers|staff|talents|residents)\b", re.I), "人"),
    (re.compile(r"\bhow many (?:\w+ ){0,2}?days\b", re.I), "天"),
    (re.compile(r"\bhow many (?:\w+ ){0,2}?mu\b", re.I), "亩"),
    (re.compile(r"\bhow many (?:\w+ ){0,2}?(?:tons|tonnes)\b", re.I), "吨"),
    (re.compile(r"\bhow many (?:\w+ ){0,2}?(?:cases|issues|matters|complaints)\b", re.I), "件"),
)


# A question that compares two figures: its answer may be their difference.
_COMPARES = re.compile(
    r"差距|差额|相差|差多少|差了多少|[多少高低大小快慢]了?多少|[多高低少]出|增加了?多少|增长了?多少|减少了?多少|下降了?多少|"
    r"\bdifference\b|\bgap\b|\b(?:more|less|fewer|higher|lower|larger|smaller|bigger) than\b|"
    r"\bhow much (?:more|less|higher|lower|bigger|smaller)\b|\bcompare",
    re.I,
)

# A part of a year (1至11月, 前4个月, 一季度, 上半年, 今年以来, 截至3月): a
# figure for it is not the whole year's.
PART_OF_YEAR = re.compile(
    r"\d{1,2}\s*(?:至|到|-|—|－|~)\s*\d{1,2}\s*月|前\s*[\d一二三四五六七八九十]+\s*个?月|"
    r"[一二三四1-4]\s*季度|[上下]半年|(?:今年|年初)以来|截至\s*\d{1,2}\s*月|"
    r"\b(?:first|second|third|fourth|1st|2nd|3rd|4th) (?:quarter|half)\b|\bQ[1-4]\b|"
    r"\bfirst (?:\w+ )?months\b|\b(?:january|february|march|april|may|june|july|august|september|october|november)"
    r" (?:to|through|-) \w+",
    re.I,
)
_WHOLE_YEAR = re.compile(r"全年|整年|\b(?:full|whole|entire)[- ]year\b|\ball of (?:19|20)\d{2}\b|\bthe whole of\b", re.I)


def asks_whole_year(text: str) -> bool:
    """Does a question ask for a whole year's figure (and for no part of one)?

    >>> asks_whole_year("2023年全年平湖一共完成实际外资多少？"), asks_whole_year("What was FDI in all of 2023?")
    (True, True)
    >>> asks_whole_year("2022年全年的实际外资是多少？当年前4个月完成了多少？"), asks_whole_year("2023年实际外资多少？")
    (False, False)
    """
    return bool(_WHOLE_YEAR.search(text)) and not PART_OF_YEAR.search(text)


# The event a date question asks about: the verb after its question word
# ("什么时候开工建设的" -> 开工) or before 时间/日期 ("开工时间是").
_EVENT_AFTER = re.compile(
    r"(?:哪一?年|哪年|何时|什么时候|几月|哪个月|哪一?天|几号)(?:正式|首次|开始|能|会|将|要|才|就|可以|被|由|在|于|是)*([\u4e00-\u9fff]{2})"
)
_EVENT_BEFORE = re.compile(r"([\u4e00-\u9fff]{2})(?:的)?(?:时间|日期)")
# Verbs that name the same event. Only these are checked: a word outside
# them may not be an event at all ("来平湖").
EVENT_WORDS: tuple[frozenset[str], ...] = tuple(
    frozenset(g.split())
    for g in (
        "设立 成立 创立 建立 组建 挂牌",
        "落户 落地 入驻 签约 引进 投资",
        "开工 动工 开建 奠基",
        "投产 投用 运营 量产 下线 竣工 建成 完工",
        "开业 开张 营业",
        "提出 发布 出台 印发 实施",
        "举办 举行 召开 开幕",
        "出发 启程",
    )
)


def event_of(text: str) -> str | None:
    """The event a date question asks about (two characters), if it says one.

    >>> event_of("湛新项目是什么时候开工建设的？"), event_of("川电钢板哪一年落户平湖？"), event_of("开工时间是？")
    ('开工', '落户', '开工')
    >>> event_of("项目什么时候能投产？"), event_of("这家公司是哪一年来平湖的？"), event_of("平湖有多少家日资企业？")
    ('投产', None, None)
    """
    m = _EVENT_AFTER.search(text) or _EVENT_BEFORE.search(text)
    if m is None:
        return None
    word = m.group(1)
    return word if any(word in g for g in EVENT_WORDS) else None


def event_words(event: str) -> frozenset[str]:
    """The verbs that name the same event as `event`.

    >>> sorted(event_words("动工"))
    ['动工', '奠基', '开工', '开建']
    """
    return frozenset().union(*(g for g in EVENT_WORDS if event in g)) or frozenset({event})


# A phase or batch of a project or a programme: 二期, 3期, 第三批 (not 期间, 期待…).
_PHASE = re.compile(r"(?:第\s*)?(?:[一二三四五六七八九十]|\d{1,2})\s*[期批轮](?![间待望限货刊])")


def phases(text: str) -> tuple[str, ...]:
    """The phases or batches a question names, as written (spaces removed).

    >>> phases("艾本德项目二期投资多少？"), phases("第三批名单有哪些企业？"), phases("疫情期间产值多少？")
    (('二期',), ('第三批',), ())
    """
    return tuple(dict.fromkeys(re.sub(r"\s+", "", m) for m in _PHASE.findall(text)))


def counted_unit(text: str) -> str | None:
    """The measure word a "how many" question counts in, if it names one.

    >>> counted_unit("平湖有多少家日资企业？"), counted_unit("How many companies are in the park?")
    ('家', '家')
    >>> counted_unit("引进了多少个项目？") is None
    True
    """
    m = _COUNTED_ZH.search(text)
    if m:
        return "人" if m.group(1) in "名位" else m.group(1)
    return next((unit for rx, unit in _COUNTED_EN if rx.search(text)), None)


@dataclass(frozen=True)
class QuestionFacts:
    text: str  # the folded (NFKC, lower-case) text the facts come from
    years: frozenset[str]  # years written in the question
    kind: Kind
    subjects: tuple[str, ...]  # names the answer must be about (companies, places, projects)
    terms: tuple[str, ...] = ()  # Latin terms a Chinese question uses (GDP, THOMAS): the answer's sentences must too
    counted: str | None = None  # the measure word of a count (多少家 -> 家; 名/位 -> 人)
    phases: tuple[str, ...] = ()  # a phase or batch it asks about (二期, 第三批)
    compares: bool = False  # it compares two figures (差距, 多多少, how much more): a difference may answer
    event: str | None = None  # the event a date question asks about (开工, 落户)
    whole_year: bool = False  # it asks for a whole year (全年): a figure for part of one does not answer


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
) -> QuestionFacts:
    """The facts of a question. `is_common(name)` says a name is too
    frequent in the corpus to identify a subject (the city every page is
    about); `in_corpus(word)` whether any passage has the word.

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
    terms = tuple(dict.fromkeys(_LATIN_TERM.findall(q))) if detect_lang(question) == "zh" else ()
    kind = question_kind(question)
    return QuestionFacts(
        text=q,
        years=frozenset(_YEAR.findall(q)),
        kind=kind,
        subjects=tuple(fold(n) for n in names),
        terms=terms,
        counted=counted_unit(q),
        phases=phases(q),
        compares=bool(_COMPARES.search(q)),
        event=event_of(q) if kind == "date" else None,
        whole_year=asks_whole_year(q),
    )
