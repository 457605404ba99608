"""rag.text: languages, sentences, numbers and relative years, worked by hand."""

from __future__ import annotations

import pytest

from rag.text import (
    detect_lang,
    elapsed_ms,
    extract_numbers,
    has_cjk,
    is_cjk,
    number_tokens,
    relative_year_note,
    relative_years,
    sentence_spans,
)

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


def test_relative_years_in_english_text() -> None:
    assert relative_years("Last year the zone grew", "2024-01-03") == {"2023"}
    # English words never appear in the note given to the model.
    assert relative_year_note("last year", "2024-01-03", "en") == ""


def test_cjk_classes() -> None:
    assert has_cjk("FDI 2022年") and not has_cjk("FDI in 2022")
    assert is_cjk("外") and is_cjk("，") and is_cjk("“") and not is_cjk("a") and not is_cjk("")


def test_language_of_a_question() -> None:
    assert detect_lang("平湖有多少家日资企业？") == "zh"
    assert detect_lang("How much actual FDI was there in 2022?") == "en"


def test_sentence_spans_keep_closing_quotes_and_split_paragraphs() -> None:
    t = "外资增长。“很好！”他说\n新段"
    assert [t[s:e] for s, e in sentence_spans(t)] == ["外资增长。", "“很好！”", "他说", "新段"]
    assert sentence_spans("  \n ") == []


def test_number_tokens_drop_thousands_commas() -> None:
    assert number_tokens("共有1,512家，增长4.55%") == ["1512", "4.55"]


def test_elapsed_ms_is_non_negative_milliseconds() -> None:
    import time

    assert 0.0 <= elapsed_ms(time.perf_counter()) < 1000.0


def values(text: str) -> list[float]:
    return [round(n.value, 4) for n in extract_numbers(text)]


def test_numbers_are_normalised_to_values() -> None:
    # 4.14亿 = 4.14 x 10^8; 41414万 = 41414 x 10^4; 414.14 million = 414.14 x 10^6.
    assert values("4.14亿美元") == [414_000_000]
    assert values("41414万美元") == [414_140_000]
    assert values("414.14 million dollars") == [414_140_000]
    assert values("1.5 billion") == [1_500_000_000]
    assert values("３千万") == [30_000_000]
    assert values("４１，４１４万") == [414_140_000]  # full-width digits and comma
    assert values("41,414 ten thousand") == [414_140_000]
    assert values("40.7\n亿美元") == [4_070_000_000]  # hard wrap between number and unit
    assert values("45.6%，57.5%") == [45.6, 57.5]  # a Chinese comma is not a thousands separator
    assert values("Qwen2.5 and x3") == []  # digits inside words are not numbers


def test_rounding_is_allowed_only_to_the_written_precision() -> None:
    (passage,) = extract_numbers("41414万")
    assert extract_numbers("4.14亿")[0].supported_by(passage)  # 4.1414 -> 4.14
    assert extract_numbers("414.14 million")[0].supported_by(passage)
    assert extract_numbers("4亿")[0].supported_by(passage)  # 4.1414 -> 4
    assert not extract_numbers("4.2亿")[0].supported_by(passage)
    assert not extract_numbers("41400万")[0].supported_by(passage)
    assert not extract_numbers("41414")[0].supported_by(passage)  # the unit matters
    # A percentage matches only a percentage.
    assert not extract_numbers("26.6")[0].supported_by(extract_numbers("26.6%")[0])
