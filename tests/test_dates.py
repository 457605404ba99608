"""Relative years, worked by hand."""

from __future__ import annotations

import pytest

from rag.dates import relative_year_note, relative_years

pytestmark = pytest.mark.unit


def test_relative_years_resolve_against_the_article_date() -> None:
    # A January 2024 article: 去年 is 2023, 今年 is 2024, 前年 2022.
    assert relative_years("去年1至11月，全市完成实际外资4.8亿美元", "2024-01-03") == {"2023"}
    assert relative_years("今年以来，前年签约的项目", "2024-01-03") == {"2024", "2022"}


def test_relative_years_need_a_date_and_a_word() -> None:
    assert relative_years("去年实际外资", None) == set()
    assert relative_years("去年实际外资", "unknown") == set()
    assert relative_years("2022年实际外资", "2023-03-01") == set()


def test_note_in_both_languages() -> None:
    assert relative_year_note("去年1至11月，今年以来", "2024-01-03", "zh") == "去年=2023年，今年=2024年"
    assert relative_year_note("今年前4个月", "2022-05-10", "en") == "今年 = 2022"
    assert relative_year_note("2022年", "2022-05-10", "zh") == ""
