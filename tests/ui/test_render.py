"""ui.render: answers and sources as HTML, from hand-made Answer objects."""

from __future__ import annotations

import html
import re

import pytest

from rag.types import Answer, Chunk, Citation, Hit, Verification
from ui import render

pytestmark = pytest.mark.unit

PASSAGE = (
    "截至2022年底，共有外资企业512家。<script>alert(1)</script>2022年实际外资达到41414万美元。"
)
QUOTE = "2022年实际外资达到41414万美元。"


def chunk(text: str, cid: str = "c1", source: str = "000_x.txt", start: int = 100) -> Chunk:
    return Chunk(
        id=cid,
        source=source,
        article=0,
        title="新时代<b>外资</b>",
        date="2023-03-01",
        start=0,
        end=len(text),
        text=text,
        orig_start=start,
        orig_end=start + len(text) + 7,
    )


def citation(passage: str = PASSAGE, quote: str = QUOTE, n: int = 1, cid: str = "c1") -> Citation:
    qs = passage.index(quote)
    return Citation(
        n=n,
        source="000_x.txt",
        article=0,
        title="新时代<b>外资</b>",
        date="2023-03-01",
        start=100,
        end=100 + len(passage) + 7,
        passage=passage,
        quote=quote,
        quote_start=qs,
        quote_end=qs + len(quote),
        chunk_id=cid,
    )


def answer(**kw: object) -> Answer:
    base: dict[str, object] = dict(
        question="2022年实际外资是多少？",
        text=f"{QUOTE}[1]",
        refused=False,
        citations=(citation(),),
        hits=(
            Hit(chunk=chunk(PASSAGE), rank=1, score=0.0328, dense_rank=1, bm25_rank=2),
            Hit(
                chunk=chunk("其他段落<i>x</i>", cid="c2", source="001_y.txt"),
                rank=2,
                score=0.0161,
                dense_rank=None,
                bm25_rank=1,
            ),
        ),
        lang="zh",
        answerer="extractive",
        mode="hybrid",
        timings_ms={"embed+dense": 12.5, "bm25": 1.0, "answer": 0.5, "total": 14.0},
    )
    base.update(kw)
    return Answer(**base)  # type: ignore[arg-type]


def test_highlight_wraps_exactly_the_offsets_and_escapes_around_them():
    p = "a<b>c&d" + "QUOTE" + "<i>"
    s = p.index("QUOTE")
    out = render.highlight(p, s, s + 5)
    assert out == 'a&lt;b&gt;c&amp;d<mark class="rag-quote">QUOTE</mark>&lt;i&gt;'


def test_highlight_escapes_inside_the_mark_and_ignores_bad_spans():
    assert render.highlight("x<s>y", 1, 4) == 'x<mark class="rag-quote">&lt;s&gt;</mark>y'
    assert render.highlight("abc", 2, 2) == "abc"
    assert render.highlight("a<b", -1, 9) == "a&lt;b"


def test_sources_escape_script_and_mark_the_quote():
    out = render.sources_panel(answer())
    assert "<script" not in out and "<b>" not in out and "<i>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    marked = re.findall(r'<mark class="rag-quote">(.*?)</mark>', out)
    assert marked == [html.escape(QUOTE)]
    # file, title, date and the span in the original file
    assert "000_x.txt" in out and "新时代&lt;b&gt;外资&lt;/b&gt;" in out and "2023-03-01" in out
    assert f"characters 100–{100 + len(PASSAGE) + 7}" in out


def test_other_passages_are_collapsed_with_scores_and_ranks():
    out = render.sources_panel(answer())
    details = out[out.index("<details") : out.index("</details>")]
    assert "<details open" not in out
    assert "001_y.txt" in details and "其他段落&lt;i&gt;x&lt;/i&gt;" in details
    assert "fused score 0.0161" in details and "dense —" in details and "BM25 #1" in details
    # the cited passage is not repeated among the others, but its ranks are shown
    assert "000_x.txt" not in details
    assert "fused score 0.0328 · dense #1 · BM25 #2" in out


def test_offsets_disagreeing_with_the_quote_fall_back_to_finding_it():
    c = citation()
    bad = Citation(**{**c.to_dict(), "quote_start": 0, "quote_end": 3})
    out = render.sources_panel(answer(citations=(bad,)))
    assert re.findall(r'<mark class="rag-quote">(.*?)</mark>', out) == [html.escape(QUOTE)]


def test_answer_message_keeps_markers_and_lists_sources():
    msg = render.answer_message(answer())
    assert msg.startswith(html.escape(QUOTE) + "[1]")
    assert "[1] 000&#95;x.txt · 新时代&lt;b&gt;外资&lt;/b&gt; · 2023-03-01" in msg
    assert "timings" not in msg
    assert "refused" not in msg


def test_answer_text_from_documents_is_escaped_for_markdown_and_html():
    text = "<script>alert(1)</script> **bold** _x_ `code` $x$ [1](http://e.x) [2]\n# head\n1. item"
    msg = render.answer_message(answer(text=text))
    assert "<script" not in msg and "**" not in msg and "`" not in msg and "$" not in msg
    assert "&lt;script&gt;" in msg
    assert "[1](" not in msg  # not a Markdown link
    assert "[2]" in msg  # markers stay readable
    assert "\n&#35; head" in msg and "\n&#49;. item" in msg


def test_refusal_is_labelled_not_empty():
    a = answer(text="资料中未找到相关信息。", refused=True, citations=())
    msg = render.answer_message(a)
    assert 'class="rag-label rag-label-refused"' in msg and render.REFUSED_LABEL in msg
    assert "资料中未找到相关信息。" in msg
    panel = render.sources_panel(a)
    assert "rag-label-refused" in panel and "<mark" not in panel
    assert "检索到的段落 · Retrieved passages (2)" in panel


def test_refusal_with_empty_text_still_shows_something():
    msg = render.answer_message(answer(text="", refused=True, citations=()))
    assert render.REFUSED_LABEL in msg


def test_interpreted_as_verification_notice_and_timings():
    v = Verification(
        checked=True,
        citations_checked=2,
        numbers_checked=3,
        failures=("number 999 not in [2]",),
        dropped=("它增长了<b>999</b>。",),
    )
    a = answer(rewritten_question="2023年<i>呢</i>？", verification=v, notice="used extractive")
    msg = render.answer_message(a, show_timings=True)
    assert "Interpreted as / 理解为：2023年&lt;i&gt;呢&lt;/i&gt;？" in msg
    assert "checked 2 citation(s) and 3 number(s)" in msg
    assert "number 999 not in [2]" in msg and "它增长了&lt;b&gt;999&lt;/b&gt;。" in msg
    assert "used extractive" in msg
    assert "timings: embed+dense 12.5 ms · bm25 1.0 ms · answer 0.5 ms · total 14.0 ms" in msg


def test_passing_verification_is_not_shown():
    ok = Verification(checked=True, citations_checked=1, numbers_checked=1)
    assert "Verification" not in render.answer_message(answer(verification=ok))


def test_user_message_is_escaped_and_cut():
    assert (
        render.user_message("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    )
    long = render.user_message("长" * 1000)
    assert long.endswith("… (1000 characters)") and len(long) < 400
