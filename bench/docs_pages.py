"""Pages made from seed text for the document benchmarks (not a benchmark).

- `newspaper_page(out_png)`: an A4 page in three serif columns with rules,
  kicker, headline and byline, drawn by headless Chromium at 2x (about
  192 dpi), holding as many paragraphs of seed article 004 as fit; returns
  the text drawn (the OCR reference).
- `text_pdf(out_pdf, pages)`: a text-layer PDF of `pages` A4 pages of seed
  text, printed by Chromium; returns the paragraphs on each page.

Both use Playwright with Debian's Chromium (ui/harness.py).
"""

from __future__ import annotations

import html
from pathlib import Path

from ui.harness import open_browser

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def seed_paragraphs(source_prefix: str = "") -> list[str]:
    from rag.ingest import load_corpus

    docs, _ = load_corpus(SEEDS)
    return [p for d in docs if d.source.startswith(source_prefix) for p in d.text.split("\n") if len(p) >= 40]


_PAGE_CSS = """
html,body{margin:0;padding:0;background:#fff}
.page{width:794px;height:1123px;box-sizing:border-box;padding:34px 40px;color:#111;font-family:"Noto Serif CJK SC",serif}
.kicker{font:500 17px "Noto Sans CJK SC";text-align:center;letter-spacing:4px}
h1{font:700 31px "Noto Sans CJK SC";text-align:center;margin:4px 0 6px}
.byline{font-size:12px;text-align:center;margin:0 0 8px}
hr{border:0;border-top:2px solid #333;margin:0 0 12px}
.cols{column-count:3;column-gap:24px;column-rule:1px solid #bbb;column-fill:auto;height:930px;
  font-size:13px;line-height:1.6;text-align:justify;overflow:hidden}
p{margin:0 0 2px;text-indent:2em}
"""


def newspaper_page(out_png: Path) -> str:
    """Draw the page; the reference text (headline, byline, paragraphs) drawn on it."""
    paras = seed_paragraphs("004")
    kicker, headline, byline = "经济观察", "外资持续加码平湖 高端制造业受青睐", "记者 平湖发布"
    with open_browser() as browser:
        page = browser.new_page(viewport={"width": 794, "height": 1123}, device_scale_factor=2)
        while True:
            body = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
            page.set_content(
                f'<html><head><meta charset="utf-8"><style>{_PAGE_CSS}</style></head><body><div class="page">'
                f'<div class="kicker">{kicker}</div><h1>{headline}</h1><div class="byline">{byline}</div><hr>'
                f'<div class="cols" id="cols">{body}</div></div></body></html>'
            )
            over = page.evaluate("() => { const c = document.getElementById('cols');"
                                 " return c.scrollWidth > c.clientWidth + 1 || c.scrollHeight > c.clientHeight + 1; }")
            if not over:
                break
            paras = paras[:-1]
        page.screenshot(path=str(out_png))
    return "\n".join([kicker, headline, byline, *paras])


def text_pdf(out_pdf: Path, pages: int, fact: str = "", fact_page: int = 0) -> list[list[str]]:
    """A text-layer PDF with `pages` pages of seed paragraphs (about 900
    characters a page); the paragraph holding `fact` only on page `fact_page`."""
    paras = seed_paragraphs()
    held = [p for p in paras if fact and fact in p]
    paras = [p for p in paras if p not in held]
    per_page: list[list[str]] = []
    k = 0
    for _ in range(pages):
        page: list[str] = []
        while sum(map(len, page)) < 900:
            page.append(paras[k % len(paras)])
            k += 1
        per_page.append(page)
    if held and 1 <= fact_page <= pages:
        per_page[fact_page - 1].insert(1, held[0])
    body = "".join(
        f'<section style="{"page-break-before: always" if i else ""}">'
        + "".join(f"<p>{html.escape(p)}</p>" for p in ps) + "</section>" for i, ps in enumerate(per_page)
    )
    with open_browser() as browser:
        page_ = browser.new_page()
        page_.set_content(f'<html><head><meta charset="utf-8"><title>平湖资料</title></head>'
                          f'<body style="font-size:13px">{body}</body></html>')
        page_.pdf(path=str(out_pdf), format="A4")
    return per_page
