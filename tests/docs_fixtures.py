"""Document fixtures made from seed text, for the reader and collection
tests (not a test module).

Each format gets a different seed paragraph, so a question about it can
only be answered from that file:

    FIXTURES[name] = Fixture(file, question, answer, page)

`make_all(folder)` writes all of them (a text-layer PDF printed by
Chromium, a DOCX, an HTML page, GBK and UTF-16 text, a PNG of a paragraph
and an image-only PDF); `make(kind, path)` one. Images use the installed
WenQuanYi CJK font.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
CHROMIUM = Path("/usr/bin/chromium")
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


@cache
def seed_paragraph(needle: str) -> str:
    """The cleaned seed paragraph that contains `needle`."""
    from rag.ingest import load_corpus

    docs, _ = load_corpus(SEEDS)
    for d in docs:
        for para in d.text.split("\n"):
            if needle in para:
                return para
    raise KeyError(needle)


@dataclass(frozen=True)
class Fixture:
    file: str
    question: str
    answer: str  # a string the answer must contain
    needle: str  # picks the seed paragraph
    page: int | None = None  # the page the answer is on


FIXTURES: dict[str, Fixture] = {
    "pdf": Fixture("报告 2022.pdf", "2022年平湖实际外资（部口径）是多少？", "41414", "41414", page=2),
    "docx": Fixture("日资企业.docx", "平湖有多少家日资企业？", "114", "114家"),
    "html": Fixture("news.html", "截至2022年底，平湖全市共有外资企业多少家？", "512", "512家"),
    "gbk": Fixture("gbk.txt", "津上精密2022年实现产值多少？", "43.5", "43.5"),
    "utf16": Fixture("utf16.txt", "2022年平湖的区域两化融合指数是多少？", "114.29", "114.29"),
    "png": Fixture("scan.png", "今年一季度平湖全市完成实际外资多少？", "1.59", "今年一季度", page=1),
    "scanpdf": Fixture("scan.pdf", "5月9日产业链高质量发展签约大会集中签约项目多少个？", "28", "集中签约项目28个", page=1),
}
# Page 1 of the text PDF: a paragraph that is not the answer.
PDF_PAGE1 = "如何加强楼宇党建工作"


def make_pdf(path: Path, pages: list[list[str]], title: str = "平湖外资报告") -> Path:
    """A text-layer PDF printed by Chromium, one list of paragraphs per page."""
    from playwright.sync_api import sync_playwright

    body = "".join(
        f'<section style="{"page-break-before: always" if i else ""}">'
        + "".join(f"<p>{html.escape(p)}</p>" for p in paras) + "</section>"
        for i, paras in enumerate(pages)
    )
    doc = (f'<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
           f'<body style="font-family: \'WenQuanYi Micro Hei\'; font-size: 14px">{body}</body></html>')
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_content(doc)
            page.pdf(path=str(path), format="A4", margin={"top": "2cm", "bottom": "2cm", "left": "2cm", "right": "2cm"})
        finally:
            browser.close()
    return path


def make_docx(path: Path, paragraphs: list[str], rows: list[list[str]]) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "日资企业概况"
    d.add_heading("日资企业概况", 1)
    for p in paragraphs:
        d.add_paragraph(p)
    table = d.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            table.cell(r, c).text = cell
    d.save(str(path))
    return path


def make_html(path: Path, title: str, paragraphs: list[str]) -> Path:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    path.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        "<script>var secret = 'SCRIPT_TEXT_MUST_NOT_BE_INDEXED';</script></head><body>"
        '<nav><a href="/">首页</a> | <a href="/news">新闻中心</a> | <a href="/about">关于我们</a></nav>'
        f"<article><h1>{html.escape(title)}</h1>{paras}</article>"
        "<footer>版权所有 © 平湖市融媒体中心 FOOTER_TEXT</footer></body></html>",
        encoding="utf-8",
    )
    return path


def text_image(text: str, width: int = 1240, size: int = 30) -> object:
    """A white image with `text` wrapped in lines of the CJK font."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), size)
    margin, line_h = 60, int(size * 1.6)
    lines: list[str] = []
    cur = ""
    for ch in text:
        if font.getlength(cur + ch) > width - 2 * margin:
            lines.append(cur)
            cur = ch
        else:
            cur += ch
    lines.append(cur)
    img = Image.new("RGB", (width, 2 * margin + line_h * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * line_h), line, font=font, fill=(20, 20, 20))
    return img


def make(kind: str, folder: Path) -> Path:
    f = FIXTURES[kind]
    path = folder / f.file
    para = seed_paragraph(f.needle)
    if kind == "pdf":
        return make_pdf(path, [[seed_paragraph(PDF_PAGE1)], [para]])
    if kind == "docx":
        return make_docx(path, [para], [["国别", "企业数", "投资总额"], ["日本", "114家", "31亿美元"]])
    if kind == "html":
        return make_html(path, "平湖外资企业概况", [para, "平湖是浙江的外资大市。"])
    if kind == "gbk":
        path.write_bytes(("津上精密\n\n" + para + "\n").encode("gbk"))
        return path
    if kind == "utf16":
        path.write_bytes(("平湖产业数字化\n\n" + para + "\n").encode("utf-16"))
        return path
    img = text_image(para)
    img.save(str(path))  # type: ignore[attr-defined]  # .png, or .pdf: an image-only PDF
    return path


def make_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {kind: make(kind, folder) for kind in FIXTURES}
