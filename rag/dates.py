"""Relative time in news text: which year 今年, 去年, 前年 mean.

The pages speak in relative time; each article's publication date (from
seeds/metadata.toml) resolves it. The extractive answerer uses this to tell
a "去年" figure from the year a question asks about; the llm answerer tells
the model what the words mean in each passage.

Left out: months and seasons ("上月", "一季度") and dates other than years.
"""

from __future__ import annotations

RELATIVE_YEAR: dict[str, int] = {
    "前年": -2, "去年": -1, "上年": -1, "今年": 0, "当年": 0, "本年": 0, "明年": 1,
}


def relative_years(text: str, date: str | None) -> set[str]:
    """Years meant by relative expressions, resolved against the article date.

    >>> sorted(relative_years("去年1至11月，今年以来", "2024-01-03"))
    ['2023', '2024']
    """
    if not date or not date[:4].isdigit():
        return set()
    year = int(date[:4])
    return {str(year + off) for word, off in RELATIVE_YEAR.items() if word in text}


def relative_year_note(text: str, date: str | None, lang: str) -> str:
    """A short note saying which year each relative word in text means.

    >>> relative_year_note("去年1至11月，今年以来", "2024-01-03", "zh")
    '去年=2023年，今年=2024年'
    """
    if not date or not date[:4].isdigit():
        return ""
    year = int(date[:4])
    found = [(w, year + off) for w, off in RELATIVE_YEAR.items() if w in text]
    if not found:
        return ""
    if lang == "zh":
        return "，".join(f"{w}={y}年" for w, y in found)
    return ", ".join(f"{w} = {y}" for w, y in found)
