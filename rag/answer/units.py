"""English renderings of Chinese figures, computed, never generated.

    english_figures("Actual FDI was 41414万美元 in 2022.")
    -> "Actual FDI was US$414.14 million (41414万美元) in 2022."

The model copies a figure with its Chinese unit exactly as the sentence
writes it (that is what the grounding check can verify); this module adds
the English form beside it. Worked examples:

    >>> english_figures("41414万美元")
    'US$414.14 million (41414万美元)'
    >>> english_figures("4.55亿元, 4.8亿美元 and 916.6万元")
    'CN¥455 million (4.55亿元), US$480 million (4.8亿美元) and CN¥9.166 million (916.6万元)'
    >>> english_figures("120万人, 114家, 44.1%")
    '1.2 million people (120万人), 114 (114家), 44.1%'
    >>> english_figures("31亿美元 / 44.7万元")
    'US$3.1 billion (31亿美元) / CN¥447,000 (44.7万元)'

A bare count in an English answer gets the Chinese form its sentence
writes, so that what the reader checks against the quote is in the answer:

    >>> with_counts("3 villages", ["全市已有3个村入选省级未来乡村。"])
    '3 (3个) villages'

A relative year gets the year it means where its page was printed
(`with_years`): "去年10月" on a page of 2022-05-10 is "去年10月（2021年10月）".

Two slips of a small model are undone before the checks read an answer:
an English amount with the digits of a Chinese figure and the wrong
multiplier ("43.5 billion" for 43.5亿元) gets the figure as written
(`restore_figures`), and a date answer that is the page's printing date
gets the date its sentence writes (`printed_date_answer`).

Left out: Chinese numerals (三十六), ranges (5-8亿), and units without a
common English form (亩 stays as written).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from rag.text import RELATIVE_YEAR, extract_numbers, normalise_digits
from rag.types import Lang

_SCALE = {"": Decimal(1), "万": Decimal(10_000), "亿": Decimal(100_000_000), "千万": Decimal(10_000_000)}
# unit -> (prefix, suffix) of the English form
_UNITS: dict[str, tuple[str, str]] = {
    "美元": ("US$", ""),
    "元": ("CN¥", ""),
    "人": ("", " people"),
    "家": ("", ""),
}
_FIGURE = re.compile(r"(?<![\d.(（])(\d+(?:\.\d+)?)\s*(千万|万|亿)?\s*(美元|元|人|家)(?!\s*\()")


def _amount(value: Decimal) -> str:
    """414140000 -> '414.14 million'; 447000 -> '447,000'."""
    for size, word in ((Decimal(10) ** 9, "billion"), (Decimal(10) ** 6, "million")):
        if abs(value) >= size:
            return f"{_plain(value / size)} {word}"
    return f"{_plain(value, commas=True)}"


def _plain(value: Decimal, commas: bool = False) -> str:
    text = f"{value.normalize():f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if commas and "." not in text:
        text = f"{int(text):,}"
    return text


def english_figure(number: str, multiplier: str, unit: str) -> str:
    """The English form of one figure (without the original)."""
    value = Decimal(number) * _SCALE[multiplier]
    prefix, suffix = _UNITS[unit]
    return f"{prefix}{_amount(value)}{suffix}"


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})(?!\d)")


def _iso_date(m: re.Match[str]) -> str:
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group(0)
    return f"{day} {_MONTHS[month - 1]} {year} ({year}年{month}月{day}日)"


# Measure words that follow a count in the sentences.
_MEASURE = "个项天座条批名位所台辆次户件款种轮家人"
_BARE = re.compile(r"(?<![\d.$¥,])(\d+(?:\.\d+)?)(?![\d.,%]|\s*(?:[\u4e00-\u9fff]|million|billion|\())")


def with_counts(answer: str, sentences: list[str]) -> str:
    """Each bare number of an English `answer` that a sentence writes as a
    count (3个, 8天, 42个) followed by that form in brackets; years and
    numbers the sentences do not count stay as they are.

    >>> with_counts("It spent 8 days abroad.", ["首个招商团队远赴欧洲，为期8天。"])
    'It spent 8 (8天) days abroad.'
    >>> with_counts("In 2023, 42 projects; 44.1% of output", ["2023年签约项目42个，占44.1%"])
    'In 2023, 42 (42个) projects; 44.1% of output'
    >>> with_counts("114 (114家)", ["日资企业114家"])
    '114 (114家)'
    """

    def repl(m: re.Match[str]) -> str:
        number = m.group(1)
        for sentence in sentences:
            found = re.search(rf"(?<![\d.]){re.escape(number)}\s*([{_MEASURE}])", sentence)
            if found:
                return f"{number} ({number}{found.group(1)})"
        return number

    return _BARE.sub(repl, answer)


def english_figures(text: str) -> str:
    """Every Chinese figure of `text` with its English form first and the
    original in brackets; percentages and bare numbers stay as they are.
    A date the model wrote as 2023-01-06 is spelled out, with the form the
    Chinese sentences use beside it.

    >>> english_figures("The delegation left on 2023-01-06.")
    'The delegation left on 6 January 2023 (2023年1月6日).'
    """

    def repl(m: re.Match[str]) -> str:
        original = m.group(0).strip()
        return f"{english_figure(m.group(1), m.group(2) or '', m.group(3))} ({original})"

    return _ISO_DATE.sub(_iso_date, _FIGURE.sub(repl, text))


_RELATIVE_WORD = re.compile(
    r"(前年|去年|上年|今年|本年|明年)"
    r"(\d{1,2}\s*月份?(?:\d{1,2}\s*[日号])?|[一二三四1-4]\s*季度|[上下]半年|年底|年初|年末|底|初)?"
    r"|\b(last year|this year|next year)\b",
    re.I,
)
_ZH_OF = {"last year": "去年", "this year": "今年", "next year": "明年"}


def with_years(answer: str, sentences: Sequence[tuple[str, str | None]], lang: Lang) -> str:
    """The answer with the year each relative year word means, from the date
    of the article whose cited sentence says that word (`sentences` are
    (text, article date) pairs), after the date as written. The reader of an
    answer does not know when its page was printed: "去年10月" alone is no date.

    >>> with_years("去年10月", [("于去年10月份开工建设", "2022-05-10")], "zh")
    '去年10月（2021年10月）'
    >>> with_years("预计明年二季度实现试生产", [("明年二季度实现试生产", "2022-05-10")], "zh")
    '预计明年二季度（2023年二季度）实现试生产'
    >>> with_years("in October last year", [("于去年10月份开工建设", "2022-05-10")], "en")
    'in October last year (2021)'
    >>> with_years("2021年10月", [("于去年10月份开工建设", "2022-05-10")], "zh")
    '2021年10月'

    An answer that already writes a year, or whose word is said on pages of
    different years, is left as it is.
    """
    if re.search(r"(?<!\d)(?:19|20)\d{2}(?!\d)", answer):
        return answer

    def repl(m: re.Match[str]) -> str:
        word = m.group(1) or _ZH_OF[m.group(3).lower()]
        years = {
            int(date[:4]) + RELATIVE_YEAR[word]
            for text, date in sentences
            if date and date[:4].isdigit() and word in text
        }
        if len(years) != 1:
            return m.group(0)
        (year,) = years
        if lang != "zh":
            return f"{m.group(0)} ({year})"
        tail = re.sub(r"\s+|份", "", m.group(2) or "")
        return f"{m.group(0)}（{year}年{tail}）"

    return _RELATIVE_WORD.sub(repl, answer)


# A figure as a Chinese sentence writes it: digits, a multiplier, a unit.
_ZH_FIGURE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(千万|万|亿)\s*(美元|欧元|日元|港元|元|[\u4e00-\u9fff])?")
# An English amount a model may write for one: currency, digits, multiplier, currency.
_EN_AMOUNT = re.compile(
    r"(?:US\s?\$|CN¥|RMB\s?|¥|\$|€)?(?<![\d.])(\d+(?:\.\d+)?)(?!\d|\.\d|\s*[\u4e00-\u9fff%％(（])"
    r"(?:\s*(hundred million|ten thousand|billion|million|thousand|bn|mn)\b)?"
    r"(?:\s*(?:yuan|RMB|CNY|US dollars|dollars|USD|euros?|EUR)\b)?",
    re.I,
)


def restore_figures(answer: str, sentences: Sequence[str]) -> str:
    """An English answer's amount whose digits the sentences write once, with
    a Chinese multiplier, at another value, as the sentences write it: a
    small model copies the digits of 43.5亿元 and then reads 亿 as billion
    ("43.5 billion" is ten times too much) or drops it ("300" for 300万台).
    The digits are the model's reading; the multiplier is the sentence's.
    Amounts the sentences support, and digits with several written forms,
    stay as they are (the checks then judge them).

    >>> restore_figures("Its output was 43.5 billion yuan.", ["2022年实现产值43.5亿元，税收4.55亿元。"])
    'Its output was 43.5亿元.'
    >>> restore_figures("Capacity will exceed 300 million.", ["到2025年将突破300万台。"])
    'Capacity will exceed 300万台.'
    >>> restore_figures("US$414.14 million", ["实际外资41414万美元"])
    'US$414.14 million'
    >>> restore_figures("15 billion", ["年产值15亿元", "投资15万元"])
    '15 billion'
    >>> restore_figures("Output: 43.5亿元, or 300.", ["产值43.5亿元，突破300万台"])
    'Output: 43.5亿元, or 300万台.'
    >>> restore_figures("1500 million mu", ["总投资1500万美元"]), restore_figures("300 million units", ["300万台"])
    ('1500 million mu', '300万台 units')
    >>> restore_figures("1,900 people", ["员工1900名"])
    '1,900 people'
    """
    forms: dict[str, set[str]] = {}
    supported = [n for s in sentences for n in extract_numbers(s)]
    for s in sentences:
        for m in _ZH_FIGURE.finditer(normalise_digits(s)):
            forms.setdefault(m.group(1), set()).add(re.sub(r"\s+", "", m.group(0)))

    def repl(m: re.Match[str]) -> str:
        written = forms.get(m.group(1), set())
        numbers = extract_numbers(m.group(0))
        if len(written) != 1 or not numbers or any(numbers[0].supported_by(n) for n in supported):
            return m.group(0)
        form = next(iter(written))
        # "1500 million mu" is not 1500万美元: a measure the answer names must be the figure's.
        measure = _EN_MEASURE.match(m.string, m.end())
        if measure and not form.endswith(_MEASURE_OF[measure.group(1).lower()]):
            return m.group(0)
        return form

    restored = _EN_AMOUNT.sub(repl, normalise_digits(answer))
    # Unchanged answers keep their own writing (thousands commas and all).
    return restored if restored != normalise_digits(answer) else answer


# English measure words after an amount, and the Chinese unit each must have.
_MEASURE_OF = {
    "mu": "亩", "people": "人", "persons": "人", "employees": "人", "workers": "人",
    "companies": "家", "firms": "家", "enterprises": "家", "projects": "个",
    "tons": "吨", "tonnes": "吨", "units": "台", "sets": "台", "square metres": "平方米",
}
_EN_MEASURE = re.compile(r"\s*(" + "|".join(sorted(_MEASURE_OF, key=len, reverse=True)) + r")\b", re.I)


# A day a page names relative to its own date.
_RELATIVE_DAY = re.compile(
    r"(昨天|昨日|前天|今天|今日|(?:上|本)(?:周|星期)[一二三四五六日天])(上午|下午|晚上|凌晨|早上|中午)?"
)
# A date as written in a sentence: 3月25日, 3月上旬, 去年10月, 昨天下午, 上周六 (the
# citation shows the page's date; a day is not computed from it, as the
# seeds' dates are estimates).
_DATE_PHRASE = re.compile(
    r"(?:(?:19|20)\d{2}\s*年|前年|去年|今年|明年)?\d{1,2}\s*月份?(?:\d{1,2}\s*[日号]|上旬|中旬|下旬|初|底|末)?"
    r"|(?:19|20)\d{2}\s*年(?:底|初|末)?|(?:前年|去年|今年|明年)(?:底|初|末)?"
    r"|" + _RELATIVE_DAY.pattern
)
_PRINTED = re.compile(r"((?:19|20)\d{2})\s*(?:-|年)\s*(\d{1,2})\s*(?:-|月)\s*(\d{1,2})\s*日?")


def printed_date_answer(answer: str, sentence: str, printed: str | None) -> str | None:
    """A date answer that is only the page's printing date (the model read
    the header, not the sentence) with the date the sentence writes instead,
    when it writes exactly one; else None.

    >>> printed_date_answer("2024-01-03", "昨天下午，陈利众来平湖走访。", "2024-01-03")
    '昨天下午'
    >>> printed_date_answer("2022年5月10日", "3月上旬，平湖召开推进会。", "2022-05-10")
    '3月上旬'
    >>> printed_date_answer("2022年5月10日", "平湖召开推进会。", "2022-05-10") is None
    True
    """
    if not printed:
        return None
    m = _PRINTED.search(answer)
    if not m or f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" != printed[:10]:
        return None
    phrases = list(dict.fromkeys(re.sub(r"\s+", "", p.group(0)) for p in _DATE_PHRASE.finditer(sentence)))
    if len(phrases) != 1:
        return None
    return answer[: m.start()] + phrases[0] + answer[m.end() :]
