"""Readers of each format, on files made here: encodings, PDF (text layer,
scans through a fake OCR engine, encrypted, damaged), Word, HTML, images;
the choice of reader by suffix and content; the extraction cache; pages in
chunks; OCR lines laid out as paragraphs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingest import documents_from_text
from rag.ingest.chunk import chunk_document
from rag.ingest.corpus import load_corpus
from rag.ingest.extract import extract
from rag.ingest.ocr import OcrLine, lines_to_text, use_engine
from rag.ingest.ocr.fake import FakeOcr
from rag.ingest.readers import choose_reader
from rag.ingest.readers.docx import DocxReader
from rag.ingest.readers.html import HtmlReader
from rag.ingest.readers.image import ImageReader
from rag.ingest.readers.pdf import PdfReader
from rag.ingest.readers.text import TextReader, decode_text
from tests.docs_fixtures import CHROMIUM, make_docx, make_html, make_pdf, text_image

pytestmark = pytest.mark.unit
FACT = "津上精密2022年实现产值43.5亿元，实现税收4.55亿元。"


@pytest.fixture
def fake_ocr() -> Iterator[FakeOcr]:
    eng = FakeOcr([OcrLine("第一行文字，平湖外资", 0.99, (10, 10, 500, 40)),
                   OcrLine("企业512家。", 0.99, (10, 50, 200, 80))])
    old = use_engine(eng)
    yield eng
    use_engine(old)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be"])
def test_text_in_every_common_encoding(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes(FACT.encode(encoding))
    st = TextReader().read(p)
    assert st.text == FACT and st.offsets_in_file


def test_short_gbk_text_is_read_as_gb18030_not_big5() -> None:
    assert decode_text("平湖".encode("gbk")) == ("平湖", "gb18030")


def test_choose_reader_by_suffix_and_content(tmp_path: Path) -> None:
    png = tmp_path / "photo.jpg"
    text_image("平湖").save(png, format="PNG")  # type: ignore[attr-defined]
    assert isinstance(choose_reader(png), ImageReader)
    fake_pdf = tmp_path / "a.txt"
    fake_pdf.write_bytes(b"%PDF-1.4 not really")
    assert isinstance(choose_reader(fake_pdf), PdfReader)  # content wins
    for name, content, reason in [
        ("x.png", "平湖".encode(), "is not a PNG/JPEG image"),
        ("x.docx", b"hello", "is not a Word .docx file"),
        ("x.pdf", b"hello", "is not a PDF file"),
        ("x.docx", b"\xd0\xcf\x11\xe0" + b"\0" * 60, "encrypted or old-format (.doc)"),
        ("zero.pdf", b"", "is empty (0 bytes)"),
        ("x.xlsx", b"PK\x03\x04", "unsupported type (.xlsx)"),
    ]:
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(DocumentError, match=reason.replace("(", r"\(").replace(")", r"\)")):
            extract(p)


def test_docx_paragraphs_and_table_rows(tmp_path: Path) -> None:
    p = make_docx(tmp_path / "a.docx", ["第一段。", "第二段。"], [["年份", "金额"], ["2022", "41414万美元"]])
    st = DocxReader().read(p)
    assert st.text.split("\n\n") == ["日资企业概况", "第一段。", "第二段。", "年份 | 金额", "2022 | 41414万美元"]
    assert st.title == "日资企业概况"
    assert [r.label for r in st.regions] == ["¶ 1", "¶ 2", "¶ 3", "¶ 4", "¶ 5"]
    assert all(st.text[r.start : r.end] == b for r, b in zip(st.regions, st.text.split("\n\n"), strict=True))


def test_docx_damaged(tmp_path: Path) -> None:
    p = tmp_path / "bad.docx"
    p.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(DocumentError, match="is damaged or not a Word .docx file"):
        DocxReader().read(p)


def test_html_main_text_without_scripts_or_footer(tmp_path: Path) -> None:
    body = "截至2022年底，全市共有外资企业512家，投资总额131.6亿美元，注册资本65.8亿美元。" * 3
    st = HtmlReader().read(make_html(tmp_path / "a.html", "平湖外资", [body, "第二段文字。"]))
    assert body in st.text and "第二段文字。" in st.text
    assert "SCRIPT_TEXT" not in st.text and "FOOTER_TEXT" not in st.text
    assert st.title == "平湖外资"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium to print a PDF")
def test_pdf_text_layer_page_by_page(tmp_path: Path) -> None:
    p = make_pdf(tmp_path / "a.pdf", [["第一页的内容，平湖外资。"], ["第二页：" + FACT]])
    st = PdfReader().read(p)
    assert (st.pages, st.ocr_pages, st.title) == (2, (), "平湖外资报告")
    assert [(r.page, r.label) for r in st.regions] == [(1, "p. 1"), (2, "p. 2")]
    assert st.text[st.regions[1].start : st.regions[1].end] == "第二页：" + FACT
    assert st.page_at(st.text.index("43.5")) == 2
    # Chunks never cross a page and carry it.
    docs = documents_from_text("a.pdf", st.text, None, pages=((0, 1), (st.regions[1].start, 2)))
    chunks = [c for d in docs for c in chunk_document(d, 200, 50)]
    assert [c.page for c in chunks] == [1, 2]
    assert "43.5" in chunks[1].text and st.text[chunks[1].orig_start : chunks[1].orig_end] == chunks[1].text


def test_pdf_encrypted_and_damaged(tmp_path: Path) -> None:
    import pypdf

    w = pypdf.PdfWriter()
    w.add_blank_page(200, 200)
    w.encrypt("secret")
    enc = tmp_path / "enc.pdf"
    with enc.open("wb") as f:
        w.write(f)
    with pytest.raises(DocumentError, match="is encrypted"):
        PdfReader().read(enc)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj\n<<")
    with pytest.raises(DocumentError, match="is damaged or not a valid PDF"):
        PdfReader().read(broken)
    blank = tmp_path / "blank.pdf"
    w = pypdf.PdfWriter()
    w.add_blank_page(200, 200)
    with blank.open("wb") as f:
        w.write(f)
    with pytest.raises(DocumentError, match="has no text"):
        PdfReader().read(blank)


def test_image_only_pdf_goes_through_ocr_and_is_cached(tmp_path: Path, fake_ocr: FakeOcr) -> None:
    p = tmp_path / "scan.pdf"
    text_image("平湖外资").save(p)  # type: ignore[attr-defined]  # Pillow writes an image-only PDF
    st = extract(p, cache_dir=tmp_path / "cache")
    assert st.text == "第一行文字，平湖外资\n企业512家。"
    assert (st.kind, st.pages, st.ocr_pages) == ("pdf", 1, (1,))
    assert [(b.start, b.end, b.page) for b in st.boxes] == [(0, 10, 1), (11, 18, 1)]
    again = extract(p, cache_dir=tmp_path / "cache")
    assert again == st and fake_ocr.calls == 1  # the second read came from the cache


def test_image_without_text_and_ocr_missing(tmp_path: Path) -> None:
    from rag.errors import MissingExtraError

    p = tmp_path / "blank.png"
    text_image("").save(p)  # type: ignore[attr-defined]
    old = use_engine(FakeOcr([]))
    try:
        with pytest.raises(DocumentError, match="has no text that OCR could read"):
            ImageReader().read(p)

        class NoOcr(FakeOcr):
            def recognize(self, image: object) -> list[OcrLine]:
                raise MissingExtraError("rapidocr-onnxruntime", "pip install 'rag-zh[ocr]'")

        use_engine(NoOcr())
        with pytest.raises(DocumentError, match=r"needs OCR, which is not installed; install it with: pip install 'rag-zh\[ocr\]'"):
            ImageReader().read(p)
    finally:
        use_engine(old)


def test_unreadable_image(tmp_path: Path) -> None:
    p = tmp_path / "x.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage")
    with pytest.raises(DocumentError, match="is not a readable image"):
        ImageReader().read(p)


def test_ocr_lines_become_paragraphs() -> None:
    # Hand-worked: a line cut in two on one row, a wrapped line, a short
    # last line, then an indented new paragraph; character height 30.
    lines = [
        OcrLine("平湖向来是", 0.9, (100, 100, 250, 130)),
        OcrLine("外资优等生，", 0.9, (255, 100, 900, 130)),
        OcrLine("利用外资连续23年", 0.9, (100, 140, 900, 170)),
        OcrLine("位列十强。", 0.9, (100, 180, 400, 210)),
        OcrLine("今年一季度，完成", 0.9, (160, 220, 900, 250)),
        OcrLine("实际外资1.59亿美元。", 0.9, (100, 260, 700, 290)),
    ]
    text, boxes = lines_to_text(lines, (1000, 1000), page=3, base=5)
    assert text == "平湖向来是外资优等生，\n利用外资连续23年\n位列十强。\n\n今年一季度，完成\n实际外资1.59亿美元。"
    assert [(b.start - 5, b.end - 5) for b in boxes][:2] == [(0, 5), (5, 11)]
    assert all(text[b.start - 5 : b.end - 5] == ln.text for b, ln in zip(boxes, lines, strict=True))
    assert boxes[0].page == 3 and boxes[0].x0 == pytest.approx(0.1) and boxes[0].y1 == pytest.approx(0.13)


def test_load_corpus_reads_every_format_and_names_bad_files(tmp_path: Path, fake_ocr: FakeOcr) -> None:
    make_docx(tmp_path / "a.docx", ["平湖共有日资企业114家。"], [["国别", "企业数"]])
    (tmp_path / "b.txt").write_bytes("平湖外资企业512家。".encode("gbk"))
    (tmp_path / "empty.pdf").write_bytes(b"")
    buf = io.BytesIO()
    text_image("x").save(buf, format="PNG")  # type: ignore[attr-defined]
    (tmp_path / "c.png").write_bytes(buf.getvalue())
    docs, problems = load_corpus(tmp_path)
    assert sorted({d.source for d in docs}) == ["a.docx", "b.txt", "c.png"]
    assert [(p.source, p.reason) for p in problems] == [("empty.pdf", "is empty (0 bytes)")]
    png = next(d for d in docs if d.source == "c.png")
    assert png.pages == ((0, 1),) and chunk_document(png)[0].page == 1
