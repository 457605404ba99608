"""Small text helpers every stage shares: the one home of each.

- CJK character classes (`CJK`, `is_cjk`, `has_cjk`);
- normalisation for matching (`fold`: NFKC + lower case);
- sentence spans of cleaned document text (`sentence_spans`);
- numbers as written ("41414万美元", "4.55亿元", "45.6%") with their value
  (`Number`, `extract_numbers`) and the bare digit tokens of a text
  (`number_tokens`);
- relative years (今年/去年/明年 and "last year") resolved against an
  article's date (`relative_years`, `relative_year_note`);
- the question language (`detect_lang`);
- a millisecond stopwatch (`elapsed_ms`).

Worked examples:

    >>> [n.value for n in extract_numbers("达到41414万美元，占比45.6%")]
    [414140000.0, 45.6]
    >>> number_tokens("共有外资企业1,512家")
    ['1512']
    >>> sorted(relative_years("去年1至11月，今年以来", "2024-01-03"))
    ['2023', '2024']

Left out: Chinese numerals (三十六, 百分之十), months and seasons ("上月",
"一季度"), and splitting generated answers into sentences (that needs the
`[n]` markers, so it lives in rag/answer/verify.py).
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass

from rag.types import Lang

# CJK ideographs: Extension A, the unified block, compatibility ideographs.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# CJK and full-width punctuation, quotes, dashes, ellipsis.
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef\u2014\u2026\u201c\u201d\u2018\u2019"
_IDEOGRAPH = re.compile(f"[{CJK}]")
_CJK_OR_PUNCT = re.compile(f"[{CJK}{CJK_PUNCT}]")


def has_cjk(text: str) -> bool:
    """Does `text` contain a CJK ideograph?"""
    return bool(_IDEOGRAPH.search(text))


def is_cjk(ch: str) -> bool:
    """Is the character a CJK ideograph or CJK/full-width punctuation?"""
    return bool(_CJK_OR_PUNCT.match(ch))


def fold(text: str) -> str:
    """The matching form of a text: NFKC (full-width digits and punctuation
    become ASCII) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


# -- languages -----------------------------------------------------------------
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")


def script_counts(text: str) -> tuple[int, int, int]:
    """(Latin letters, CJK ideographs, kana and hangul) in `text`."""
    return (
        len(_LATIN_LETTER.findall(text)),
        len(_IDEOGRAPH.findall(text)),
        len(_KANA_HANGUL.findall(text)),
    )


def detect_lang(text: str) -> Lang:
    """en when most of the letters are Latin, else zh.

    Letters are Latin letters and CJK ideographs, one each, so an English
    question that names a Chinese company is English and a Chinese question
    with an acronym is Chinese:

    >>> detect_lang("How much tax did 津上精密 pay in 2022?"), detect_lang("平湖的FDI是多少？")
    ('en', 'zh')

    A text without letters ("2022?") is zh only if it has ideographs.
    See `unsupported_script` for Japanese and Korean.
    """
    latin, ideographs, _ = script_counts(text)
    return "en" if latin > ideographs else "zh"


def unsupported_script(text: str) -> str | None:
    """"Japanese" or "Korean" when the text is written in it, else None.

    Kana or hangul make up at least a fifth of the letters (a katakana name
    in a Chinese question does not count).

    >>> unsupported_script("平湖の日系企業はいくつありますか？"), unsupported_script("평택의 인구는?")
    ('Japanese', 'Korean')
    """
    latin, ideographs, other = script_counts(text)
    if other < 2 or other * 5 < latin + ideographs + other:
        return None
    hangul = len(re.findall(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]", text))
    return "Korean" if hangul * 2 >= other else "Japanese"


# -- sentences -----------------------------------------------------------------
_SENTENCE = re.compile(r"[^。！？；…!?;\n]*(?:[。！？；!?;]+|…+|\n|$)[”’」』）)]*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of cleaned text, whitespace trimmed.

    Sentences end at 。！？；… (with any closing quote that follows) and at
    line breaks (in cleaned text a line break ends a paragraph).

    >>> t = "外资增长。“很好！”他说\\n新段"
    >>> [t[s:e] for s, e in sentence_spans(t)]
    ['外资增长。', '“很好！”', '他说', '新段']
    """
    spans = []
    for m in _SENTENCE.finditer(text):
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


# -- numbers -------------------------------------------------------------------
_FULLWIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": ".", "％": "%"})

# Longest spellings first, so that "千万" wins over "千" and "万".
MULTIPLIERS: dict[str, float] = {
    "万亿": 1e12, "千万": 1e7, "百万": 1e6, "亿": 1e8, "万": 1e4, "千": 1e3,
    "hundred million": 1e8, "ten thousand": 1e4,
    "trillion": 1e12, "billion": 1e9, "million": 1e6, "thousand": 1e3,
    "bn": 1e9, "mn": 1e6,
}
_PERCENT = ("%", "percent", "per cent")
_UNIT = "|".join(re.escape(u) for u in sorted([*MULTIPLIERS, *_PERCENT], key=len, reverse=True))
_NUMBER = re.compile(
    rf"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)(?:\s*({_UNIT})(?![A-Za-z]))?",
    re.IGNORECASE,
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# A full-width comma is a thousands separator only between full-width digits
# ("４１，４１４"); elsewhere it is the Chinese comma ("45.6%，57.5%").
_FW_THOUSANDS = re.compile(r"(?<=[０-９])，(?=[０-９]{3}(?![０-９]))")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Number:
    """A number as written: `mantissa` x `scale`, with `decimals` digits after the point."""

    text: str
    mantissa: float
    scale: float
    decimals: int
    percent: bool

    @property
    def value(self) -> float:
        return self.mantissa * self.scale

    def supported_by(self, other: Number) -> bool:
        """True if `other` (from a passage) rounds to this number at its precision.

        >>> a, = extract_numbers("4.14亿"); b, = extract_numbers("41414万")
        >>> a.supported_by(b), b.supported_by(a)
        (True, False)
        """
        if self.percent != other.percent:
            return False
        tol = 0.5 * 10.0 ** (-self.decimals) + 1e-9
        return abs(other.value / self.scale - self.mantissa) <= tol


def normalise_digits(text: str) -> str:
    """Full-width digits to ASCII, thousands commas removed."""
    return _THOUSANDS.sub("", _FW_THOUSANDS.sub("", text).translate(_FULLWIDTH))


def find_numbers(text: str) -> list[tuple[Number, int]]:
    """Every number of `text` with its position in `normalise_digits(text)`."""
    out: list[tuple[Number, int]] = []
    for m in _NUMBER.finditer(normalise_digits(text)):
        digits, unit = m.group(1), (m.group(2) or "").lower()
        unit = re.sub(r"\s+", " ", unit)
        num = Number(
            text=re.sub(r"\s+", " ", m.group(0).strip()),
            mantissa=float(digits),
            scale=MULTIPLIERS.get(unit, 1.0),
            decimals=len(digits.split(".")[1]) if "." in digits else 0,
            percent=unit in _PERCENT,
        )
        out.append((num, m.start()))
    return out


def extract_numbers(text: str) -> list[Number]:
    """Every number in `text` with its multiplier (万, 亿, million...) or percent sign."""
    return [n for n, _ in find_numbers(text)]


def number_tokens(text: str) -> list[str]:
    """The digit strings of a text, thousands commas removed ("1,512" -> "1512")."""
    return [m.group(0).replace(",", "") for m in _DIGITS.finditer(text)]


def first_number(text: str) -> str:
    """The first digit string of a text, or ""."""
    found = number_tokens(text)
    return found[0] if found else ""


# -- relative years ------------------------------------------------------------
# Offsets from the article's year. 当年 in news means the year being reported,
# which for a dated article is its own.
RELATIVE_YEAR: dict[str, int] = {
    "前年": -2, "去年": -1, "上年": -1, "今年": 0, "当年": 0, "本年": 0, "明年": 1,
    "last year": -1, "this year": 0, "next year": 1,
}


def _article_year(date: str | None) -> int | None:
    return int(date[:4]) if date and date[:4].isdigit() else None


def relative_years(text: str, date: str | None) -> set[str]:
    """Years meant by the relative expressions in `text`, resolved against
    the article date (ISO). Empty without a date."""
    year = _article_year(date)
    if year is None:
        return set()
    low = text.lower()
    return {str(year + off) for word, off in RELATIVE_YEAR.items() if word in low}


def relative_year_note(text: str, date: str | None, lang: Lang) -> str:
    """A short note saying which year each relative word in `text` means.

    >>> relative_year_note("去年1至11月，今年以来", "2024-01-03", "zh")
    '去年=2023年，今年=2024年'
    """
    year = _article_year(date)
    if year is None:
        return ""
    found = [(w, year + off) for w, off in RELATIVE_YEAR.items() if has_cjk(w) and w in text]
    if not found:
        return ""
    if lang == "zh":
        return "，".join(f"{w}={y}年" for w, y in found)
    return ", ".join(f"{w} = {y}" for w, y in found)


# -- time ----------------------------------------------------------------------
def elapsed_ms(t0: float) -> float:
    """Milliseconds since `t0` (a `time.perf_counter()` reading), 2 decimals."""
    return round((time.perf_counter() - t0) * 1000.0, 2)
