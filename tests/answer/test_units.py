"""English forms of Chinese figures: computed, exact, the original kept."""

from __future__ import annotations

import pytest

from rag.answer.units import (
    english_figure,
    english_figures,
    printed_date_answer,
    restore_figures,
    with_counts,
    with_years,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("number", "multiplier", "unit", "english"),
    [
        ("41414", "万", "美元", "US$414.14 million"),
        ("4.8", "亿", "美元", "US$480 million"),
        ("31", "亿", "美元", "US$3.1 billion"),
        ("4.55", "亿", "元", "CN¥455 million"),
        ("768.40", "亿", "元", "CN¥76.84 billion"),
        ("916.6", "万", "元", "CN¥9.166 million"),
        ("44.7", "万", "元", "CN¥447,000"),
        ("120", "万", "人", "1.2 million people"),
        ("1900", "", "人", "1,900 people"),
        ("114", "", "家", "114"),
    ],
)
def test_figures(number: str, multiplier: str, unit: str, english: str) -> None:
    assert english_figure(number, multiplier, unit) == english


def test_in_a_sentence_the_original_follows_in_brackets() -> None:
    assert english_figures("Actual FDI was 41414万美元 in 2022, up 12.3%.") == (
        "Actual FDI was US$414.14 million (41414万美元) in 2022, up 12.3%."
    )
    # Percentages, years and bare numbers stay; a figure already explained is left alone.
    assert english_figures("In 2022 the share was 44.1%.") == "In 2022 the share was 44.1%."
    once = english_figures("114家")
    assert once == "114 (114家)" and english_figures(once) == once


def test_an_iso_date_is_spelled_out_with_the_chinese_form() -> None:
    assert english_figures("It left on 2023-01-06.") == "It left on 6 January 2023 (2023年1月6日)."
    assert english_figures("2023-13-40") == "2023-13-40"  # not a date


def test_a_bare_count_gets_the_sentences_chinese_form() -> None:
    sentences = ["全市已有3个村入选省级未来乡村，累计签约项目42个。", "截至目前，共有日资企业114家。"]
    assert with_counts("3", sentences) == "3 (3个)"
    assert with_counts("114 companies", sentences) == "114 (114家) companies"
    # A year, a share, a figure with its unit, an uncounted number: unchanged.
    for text in ("in 2023", "44.1%", "US$3.1 billion (31亿美元)", "7 of them"):
        assert with_counts(text, sentences) == text
    # Through english_figures afterwards: not doubled.
    assert english_figures(with_counts("114", sentences)) == "114 (114家)"


@pytest.mark.parametrize(
    ("answer", "lang", "expected"),
    [
        ("去年10月", "zh", "去年10月（2021年10月）"),
        ("今年4月份签约，明年投产", "zh", "今年4月份（2022年4月）签约，明年投产"),  # 明年 is in no cited sentence
        ("in October last year", "en", "in October last year (2021)"),
        ("2021年10月", "zh", "2021年10月"),  # a year is already written
    ],
)
def test_a_relative_year_gets_the_year_its_page_means(answer: str, lang: str, expected: str) -> None:
    sentences = [("于去年10月份开工建设", "2022-05-10"), ("今年4月，增资项目签约落户", "2022-05-10")]
    assert with_years(answer, sentences, lang) == expected  # type: ignore[arg-type]


def test_a_relative_year_said_on_pages_of_two_years_is_left_alone() -> None:
    sentences = [("去年完成实际外资", "2022-05-10"), ("去年1至11月", "2024-01-03")]
    assert with_years("去年", sentences, "zh") == "去年"


@pytest.mark.parametrize(
    ("answer", "sentences", "expected"),
    [
        # 亿 read as billion: ten times too much; the sentence's multiplier wins.
        ("Output was 43.5 billion yuan.", ["2022年实现产值43.5亿元。"], "Output was 43.5亿元."),
        # 万 dropped.
        ("It will exceed 300.", ["到2025年将突破300万台。"], "It will exceed 300万台."),
        # 万 read as million, with a currency sign before the digits.
        ("US$1500 million", ["总投资1500万美元"], "1500万美元"),
        # A right conversion stays (the checks accept it).
        ("US$414.14 million", ["实际外资41414万美元"], "US$414.14 million"),
        # The digits written with two multipliers: which one is unknowable.
        ("15 billion", ["产值15亿元", "投资15万元"], "15 billion"),
        # A figure already in its Chinese form, and a year, stay.
        ("In 2022: 43.5亿元", ["2022年产值43.5亿元"], "In 2022: 43.5亿元"),
        # Digits no sentence writes with a multiplier stay (and are refused later).
        ("2000000000 USD", ["营业额可达2亿元"], "2000000000 USD"),
    ],
)
def test_an_english_amount_gets_the_multiplier_its_sentence_writes(
    answer: str, sentences: list[str], expected: str
) -> None:
    assert restore_figures(answer, sentences) == expected


@pytest.mark.parametrize(
    ("answer", "sentence", "printed", "expected"),
    [
        ("2024-01-03", "昨天下午，陈利众来平湖走访政协委员。", "2024-01-03", "昨天下午"),
        ("于2022年5月10日召开", "3月上旬，平湖召开推进会。", "2022-05-10", "于3月上旬召开"),
        ("2023年3月20日", "3月25日，德库威勒项目签约落户。", "2023-03-20", "3月25日"),
        # Not the printing date: the model's own reading, left to the checks.
        ("2022年3月", "3月上旬，平湖召开推进会。", "2022-05-10", None),
        # The sentence writes no date, or two: nothing to put instead.
        ("2022-05-10", "平湖召开推进会。", "2022-05-10", None),
        ("2022-05-10", "3月签约，5月开工。", "2022-05-10", None),
        ("2022-05-10", "3月上旬召开推进会。", None, None),
    ],
)
def test_a_date_answer_that_is_the_printing_date(answer: str, sentence: str, printed: str | None, expected: str | None) -> None:
    assert printed_date_answer(answer, sentence, printed) == expected


def test_a_restored_figure_must_measure_what_the_answer_names() -> None:
    # 1500万美元 is money; "1500 million mu" asks for land, so nothing is restored (and the checks refuse).
    assert restore_figures("It occupies 1500 million mu.", ["总投资1500万美元"]) == "It occupies 1500 million mu."
    assert restore_figures("about 153 thousand mu", ["占地153亩"]) == "about 153 thousand mu"
