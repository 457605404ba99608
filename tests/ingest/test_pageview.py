"""Pages drawn with the cited passage highlighted: a text-layer PDF (pdfium
character boxes) and an OCR'd image (line boxes, cut within a line)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rag.ingest.pageview import find_compact, page_image
from rag.ingest.readers.base import Region, SourceText, TextBox
from tests.docs_fixtures import CHROMIUM, make_pdf, text_image

pytestmark = pytest.mark.unit


def yellow_rows(jpeg: bytes) -> list[int]:
    """Rows of the image that hold highlighted (yellow) pixels."""
    from PIL import Image

    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = img.size
    px = img.load()
    assert px is not None
    return [y for y in range(0, h, 2) if any(
        (p := px[x, y])[0] > 200 and p[1] > 170 and p[2] < 150 for x in range(0, w, 3))]


def test_find_compact_ignores_whitespace() -> None:
    text = "第一行\n平湖 实际外资\n达到41414万美元。"
    assert find_compact(text, "实际外资达到41414") == (7, 19)
    assert find_compact(text, "不存在") is None and find_compact(text, "  ") is None
    assert find_compact("ab ab", "ab", start=2) == (3, 5)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium to print a PDF")
def test_pdf_page_highlight_is_on_the_quote(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", [["第一页。"], ["第二页开头的一句话。", "2022年平湖实际外资达到41414万美元。"]])
    plain = page_image(pdf, 2, "不在这一页的句子")
    marked = page_image(pdf, 2, "2022年平湖实际外资达到41414万美元。")
    assert plain is not None and marked is not None
    assert yellow_rows(plain) == []
    rows = yellow_rows(marked)
    assert rows and max(rows) - min(rows) < 60  # one line, near the top of page 2
    assert page_image(pdf, 3, "x") is None  # no such page


def test_ocr_boxes_are_highlighted_within_the_line(tmp_path: Path) -> None:
    img = tmp_path / "a.png"
    text_image("第一行文字内容\n").save(img)  # type: ignore[attr-defined]
    text = "第一行文字内容"
    st = SourceText(text=text, kind="image", regions=(Region(0, 7, 1),), offsets_in_file=False, pages=1,
                    ocr_pages=(1,), boxes=(TextBox(0, 7, 1, 0.0, 0.4, 1.0, 0.6),))
    jpeg = page_image(img, 1, "文字", source=st, width=700)
    assert jpeg is not None
    from PIL import Image

    h = Image.open(io.BytesIO(jpeg)).height
    rows = yellow_rows(jpeg)
    assert rows and all(0.35 * h <= y <= 0.65 * h for y in rows)  # the box's rows only
    assert page_image(tmp_path / "x.txt", 1, "x") is None
