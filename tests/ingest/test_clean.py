"""Cleaning: hand-made OCR cases, the seeds' own cases, unreadable files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest import documents_from_text, load_corpus
from rag.ingest.clean import clean_text, undouble_line
from rag.ingest.metadata import read_metadata

pytestmark = pytest.mark.unit
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("为为 124124家企业家企业，，11001100余人次余人次", "为 124家企业，1100余人次"),
        ("““一把手一把手””带头招商带头招商", "“一把手”带头招商"),
        ("THOMASTHOMAS到我们公司到我们公司", "THOMAS到我们公司"),
        ("20222022年年", "2022年"),
    ],
)
def test_undouble_collapses_doubled_lines(line: str, expected: str) -> None:
    out = undouble_line(line)
    assert out is not None
    text, kept = out
    assert text == expected
    assert "".join(line[k] for k in kept) == text  # offsets point at the kept copy


@pytest.mark.parametrize(
    "line",
    ["2022年实际外资达到41414万美元", "人人都说好，谢谢大家的支持和帮助", "1100", "11001100余人次外籍高管专家申请"],
)
def test_undouble_leaves_normal_lines(line: str) -> None:
    assert undouble_line(line) is None


def test_wrapped_lines_join_without_space_and_keep_paragraphs() -> None:
    raw = "连续 22年进入全省利用外\n资前十强。\n\n第二段 ABB\nGroup 在此。\n"
    text, origin = clean_text(raw)
    assert text == "连续22年进入全省利用外资前十强。\n第二段ABB Group在此。"
    for ch, o in zip(text, origin, strict=True):
        if ch not in "\n ":
            assert raw[o] == ch


def test_page_break_inside_sentence_is_rejoined_but_headings_stay() -> None:
    raw = "经过近40年发展，集聚了日本电产、津上精密等制造业龙头企业，共有日资企业114家，投资总\n\n额31亿美元。\n\n一、基本情况\n\n正文。"
    text, _ = clean_text(raw)
    assert "投资总额31亿美元。" in text
    assert "\n一、基本情况\n" in text


def test_furniture_lines_are_dropped() -> None:
    text, _ = clean_text("平湖发布\n\n正文第一句。\n平湖发布\n", furniture=("平湖发布",))
    assert text == "正文第一句。"


def test_seed_doubled_lines_are_collapsed_and_years_intact() -> None:
    docs, problems = load_corpus(SEEDS)
    assert problems == []
    full = {d.source: "".join(x.text for x in docs if x.source == d.source) for d in docs}
    assert "为124家企业，1100余人次外籍高管" in full["002_5c6ec3527af5ea8a.txt"]
    assert "“一把手”带头招商，掀起招商热潮" in full["001_053c5eb8fb896fe2.txt"]
    assert "2022年实际外资（部口径）达到41414万美元" in full["000_1456ab72d246df34.txt"]
    assert "一把手一把手" not in "".join(full.values())


def test_every_cleaned_char_maps_to_the_same_char_in_the_original() -> None:
    docs, _ = load_corpus(SEEDS)
    for d in docs:
        raw = (SEEDS / d.source).read_text(encoding="utf-8")
        for ch, o in zip(d.text, d.origin, strict=True):
            if ch not in "\n ":
                assert raw[o] == ch, (d.source, o)


def test_articles_titles_and_dates_come_from_metadata() -> None:
    docs, _ = load_corpus(SEEDS)
    by = {(d.source, d.article): d for d in docs}
    assert by[("000_1456ab72d246df34.txt", 0)].date == "2023-03-01"
    assert by[("000_1456ab72d246df34.txt", 1)].title == "南市商务区楼宇党建生态圈建设的探索和启示"
    assert len([d for d in docs if d.source.startswith("003")]) == 5  # split at its ## headings
    assert all(d.date for d in docs)


def test_unreadable_files_are_reported_and_others_indexed(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("平湖是高质量外资集聚地。", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "empty.md").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "ignored.csv").write_text("a,b", encoding="utf-8")
    docs, problems = load_corpus(tmp_path)
    assert [d.source for d in docs] == ["good.txt"]
    reasons = {p.source: p.reason for p in problems}
    assert "not UTF-8 from byte 128" in reasons["binary.txt"]
    assert reasons["empty.md"] == "is empty"


def test_markdown_headings_split_articles_without_metadata() -> None:
    text = "# 总标题\n\n## 第一篇\n内容一。\n\n## 第二篇\n内容二。\n"
    docs = documents_from_text("a.md", text, None)
    assert [d.title for d in docs] == ["第一篇", "第二篇"]
    assert docs[1].text.endswith("内容二。")


def test_metadata_reads_furniture_and_articles() -> None:
    files, furniture = read_metadata(SEEDS)
    assert "平湖发布" in furniture
    assert len(files["002_5c6ec3527af5ea8a.txt"]) == 3
