"""Column-aware reading order on synthetic layouts (hand-made boxes)."""

from __future__ import annotations

import pytest

from rag.ingest.ocr.reading_order import quad_to_box, reading_order

pytestmark = pytest.mark.unit

LH, PITCH = 30, 40  # line box height, line pitch (px)
Item = tuple[tuple[float, float, float, float], str]


def column(x0: float, x1: float, y0: float, n: int, tag: str, lh: int = LH, pitch: int = PITCH) -> list[Item]:
    out = []
    for k in range(n):
        right = x1 - (x1 - x0) * 0.6 if k == n - 1 else x1  # ragged last line
        left = x0 + 40 if k == 0 else x0  # paragraph indent
        out.append(((left, y0 + k * pitch, right, y0 + k * pitch + lh), f"{tag}{k:02d}"))
    return out


def order(items: list[Item]) -> list[str]:
    return [items[i][1] for i in reading_order([b for b, _ in items])]


def tags(items: list[Item]) -> list[str]:
    return [t for _, t in items]


def test_single_column_read_top_to_bottom() -> None:
    c = column(100, 900, 100, 12, "a")
    assert order(c[::-1]) == tags(c)


def test_three_columns_with_headline_and_byline() -> None:
    head: list[Item] = [((100, 20, 1400, 80), "H")]
    by: list[Item] = [((600, 100, 900, 125), "BY")]
    cols = column(100, 500, 170, 20, "a") + column(550, 950, 170, 20, "b") + column(1000, 1400, 170, 14, "c")
    assert order((head + by + cols)[::-1]) == ["H", "BY", *tags(cols)]


def test_two_columns_then_subhead_then_three_columns() -> None:
    s1 = column(100, 700, 100, 10, "a") + column(760, 1400, 100, 10, "b")
    sub: list[Item] = [((100, 520, 1400, 560), "SUB")]
    s2 = column(100, 500, 600, 8, "c") + column(550, 950, 600, 8, "d") + column(1000, 1400, 600, 6, "e")
    assert order(s2 + sub + s1) == [*tags(s1), "SUB", *tags(s2)]


def test_a_line_split_in_two_boxes_is_no_gutter() -> None:
    c = column(100, 900, 100, 10, "a")
    y = 100 + 10 * PITCH
    split: list[Item] = [((100, y, 400, y + LH), "s0"), ((440, y, 900, y + LH), "s1")]
    assert order(split + c) == [*tags(c), "s0", "s1"]


def test_short_last_column() -> None:
    head: list[Item] = [((100, 20, 1400, 80), "H")]
    cols = column(100, 500, 100, 20, "a") + column(550, 950, 100, 20, "b") + column(1000, 1400, 100, 3, "c")
    assert order(head + cols) == ["H", *tags(cols)]


def test_byline_close_above_the_middle_column_is_read_first() -> None:
    cols = (column(100, 500, 150, 20, "a", lh=38, pitch=42) + column(550, 950, 150, 20, "b", lh=38, pitch=42)
            + column(1000, 1400, 150, 9, "c", lh=38, pitch=42))
    by: list[Item] = [((600, 87, 900, 125), "BY")]
    head: list[Item] = [((100, 20, 1400, 80), "H")]
    assert order(cols + by + head) == ["H", "BY", *tags(cols)]


def test_no_boxes_and_one_box() -> None:
    assert reading_order([]) == []
    assert reading_order([(0, 0, 10, 10)]) == [0]
    assert quad_to_box([[3, 4], [10, 4], [10, 9], [3, 9]]) == (3, 4, 10, 9)
