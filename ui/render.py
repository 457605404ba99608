"""HTML for the chat page: an `Answer` in, strings of safe HTML out.

Two renderings per answer:

- `answer_message`: the chat bubble. Markdown with a few inline `<span>`
  labels, because the Gradio Chatbot renders Markdown; the answer text
  keeps its `[n]` markers so the built-in copy button copies them.
- `sources_panel`: the side panel. Plain HTML (no Markdown pass): one card
  per citation with file, article title, date, the span in the original
  file and the passage with the quote in `<mark>`; then the other
  retrieved passages in a collapsed `<details>` with fused score and
  dense/BM25 ranks.

Every piece of document or user text goes through `html.escape` before
any markup is added; `<mark>` is inserted between escaped segments cut at
the citation's quote offsets, never by searching the escaped string. In
the chat bubble, characters Markdown would read as syntax (`*`, `_`, a
leading `1.` ...) become numeric character references, which Markdown
shows literally.

Pure functions, no Gradio import: the unit tests call them directly.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

from rag.ingest.scan import Problem
from rag.types import Answer, Citation, Hit, Verification

REFUSED_LABEL = "未回答 · Not answered"
EMPTY_PANEL = (
    '<div class="rag-sources rag-sources-empty">'
    "<p>提问后，这里显示答案的出处。<br>Ask a question: its sources appear here.</p></div>"
)

# Markdown-significant characters that may appear anywhere in a line.
_MD_INLINE = {
    "\\": "&#92;",
    "*": "&#42;",
    "_": "&#95;",
    "`": "&#96;",
    "~": "&#126;",
    "|": "&#124;",
    "$": "&#36;",
    "[": "&#91;",
    "]": "&#93;",
}
_MD_INLINE_RE = re.compile("[" + re.escape("".join(_MD_INLINE)) + "]")
# Line starts Markdown reads as block syntax: headings, lists, rules.
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+(?=[.)]))", re.MULTILINE)
_MARKER = re.compile(r"&#91;(\d{1,3})&#93;(?!\()")

# Timing stages in the order a question flows through them.
_STAGE_ORDER = (
    "condense",
    "embed",
    "embed+dense",
    "dense",
    "bm25",
    "fuse",
    "retrieve",
    "first_token",
    "generate",
    "verify",
    "answer",
    "total",
)


def esc(text: str | None) -> str:
    """HTML-escape, quotes included (safe in text and attribute values)."""
    return html.escape(text or "", quote=True)


def md_text(text: str) -> str:
    """Escape text for a Markdown + HTML renderer so it shows literally.

    HTML is escaped first; then Markdown syntax characters become numeric
    references. `[n]` citation markers are kept as typed.
    """
    out = _MD_INLINE_RE.sub(lambda m: _MD_INLINE[m.group(0)], esc(text))
    out = _MD_LINE_START.sub(
        lambda m: m.group(1) + "".join(f"&#{ord(c)};" for c in m.group(2)), out
    )
    return _MARKER.sub(r"[\1]", out)


def highlight(passage: str, start: int, end: int) -> str:
    """The passage, escaped, with `passage[start:end]` wrapped in `<mark>`.

    Offsets are in characters of the unescaped passage; an empty or
    out-of-range span gives the passage without a highlight.
    """
    if not (0 <= start < end <= len(passage)):
        return esc(passage)
    return (
        esc(passage[:start])
        + '<mark class="rag-quote">'
        + esc(passage[start:end])
        + "</mark>"
        + esc(passage[end:])
    )


def quote_span(c: Citation) -> tuple[int, int]:
    """Where the quote is in the passage: the offsets when they agree with
    the quote, else the first occurrence of the quote, else (0, 0)."""
    s, e = c.quote_start, c.quote_end
    if 0 <= s < e <= len(c.passage) and (not c.quote or c.passage[s:e] == c.quote):
        return s, e
    if c.quote:
        i = c.passage.find(c.quote)
        if i >= 0:
            return i, i + len(c.quote)
    return 0, 0


# -- the chat bubble ----------------------------------------------------------


def answer_message(answer: Answer, *, show_timings: bool = False) -> str:
    """The chat message for an answer (Markdown with inline HTML labels)."""
    parts: list[str] = []
    if answer.refused:
        parts.append(f'<span class="rag-label rag-label-refused">{esc(REFUSED_LABEL)}</span>')
    if answer.rewritten_question:
        parts.append(
            '<span class="rag-interpreted">Interpreted as / 理解为：'
            f"{md_text(answer.rewritten_question)}</span>"
        )
    body = md_text(answer.text.strip()) if answer.text.strip() else "&#8203;"
    if answer.refused:
        body = f'<span class="rag-refusal">{body}</span>'
    parts.append(body)
    if answer.citations:
        parts.append(_citation_list(answer.citations))
    if answer.verification is not None and (
        answer.verification.failures or answer.verification.dropped
    ):
        parts.append(verification_note(answer.verification))
    if answer.notice:
        parts.append(notice(answer.notice))
    parts.append(answerer_label(answer.answerer))
    if show_timings:
        parts.append(timings_note(answer.timings_ms))
    return "\n\n".join(parts)


ANSWERER_LABELS = {
    "extractive": "quoted from the documents · 摘自资料",
    "llm": "written by the language model, checked against the cited sentences · 模型作答，已核对出处",
}


def answerer_label(name: str) -> str:
    """Which answerer answered, in a small label under the answer."""
    return f'<span class="rag-answerer">{esc(ANSWERER_LABELS.get(name, name))}</span>'


def _citation_list(citations: Iterable[Citation]) -> str:
    items = [
        f"[{c.n}] {md_text(c.source)}"
        + (f" · p. {c.page}" if c.page is not None else "")
        + f" · {md_text(c.title)}"
        + (f" · {md_text(c.date)}" if c.date else "")
        for c in citations
    ]
    return '<span class="rag-cite-list">' + "<br>".join(items) + "</span>"


def verification_note(v: Verification) -> str:
    checked = f"checked {v.citations_checked} citation(s) and {v.numbers_checked} number(s)"
    lines = [f"Verification / 校验：{checked}"]
    lines += [f"✗ {md_text(f)}" for f in v.failures]
    lines += [f"dropped / 已删除：{md_text(d)}" for d in v.dropped]
    return '<span class="rag-verification">' + "<br>".join(lines) + "</span>"


def timings_note(timings: Mapping[str, float]) -> str:
    if not timings:
        return '<span class="rag-timings">timings: none recorded</span>'
    known = [k for k in _STAGE_ORDER if k in timings]
    rest = sorted(k for k in timings if k not in _STAGE_ORDER)
    items = [f"{md_text(k)} {timings[k]:.1f} ms" for k in [*rest, *known]]
    return '<span class="rag-timings">timings: ' + " · ".join(items) + "</span>"


def notice(text: str) -> str:
    """A neutral in-chat note (e.g. how to enable the LLM answerer)."""
    return f'<span class="rag-notice">ℹ️ {md_text(text)}</span>'


def status_banner(problems: Sequence[Problem], refreshing: Sequence[str] = (), limit: int = 10) -> str:
    """The page's status line: files not in the index (with the reason) and
    a refresh in progress; "" when there is nothing to say."""
    parts: list[str] = []
    if refreshing:
        parts.append(
            '<p class="rag-status-refresh">文档已更改，正在后台更新索引 · The documents changed; '
            f"the index is being refreshed ({esc('; '.join(refreshing[:3]))}). "
            "Answers come from the previous index until then.</p>"
        )
    if problems:
        items = "".join(f"<li><code>{esc(p.source)}</code>: {esc(p.reason)}</li>" for p in problems[:limit])
        more = f"<li>… and {len(problems) - limit} more</li>" if len(problems) > limit else ""
        parts.append(
            f'<details class="rag-status-skipped" open><summary>⚠️ {len(problems)} file(s) not indexed · '
            f"{len(problems)} 个文件未编入索引</summary><ul>{items}{more}</ul></details>"
        )
    return f'<div class="rag-status">{"".join(parts)}</div>' if parts else ""


def error_message(text: str) -> str:
    """An in-chat error: a problem the user can act on, or a generic one."""
    return f'<span class="rag-error">⚠️ {md_text(text)}</span>'


def user_message(text: str, limit: int = 300) -> str:
    """The user's bubble: escaped, and cut when it is very long."""
    t = text.strip()
    if len(t) > limit:
        return md_text(t[:limit]) + f" … ({len(t)} characters)"
    return md_text(t)


def pending_message(partial: str = "") -> str:
    """The assistant bubble while an answer is on its way."""
    if partial:
        return md_text(partial) + " ▌"
    return '<span class="rag-pending">正在检索… Searching the documents…</span>'


# -- the sources panel -------------------------------------------------------


def sources_panel(answer: Answer, page_images: Mapping[int, str] | None = None) -> str:
    """HTML for the side panel: citations with highlighted quotes, then the
    other retrieved passages (collapsed) with their scores and ranks.

    `page_images` maps a citation number to a data: URI of its page drawn
    with the quote highlighted (PDFs and scans), shown under the passage."""
    by_chunk = {h.chunk.id: h for h in answer.hits}
    cited_ids = {c.chunk_id for c in answer.citations}
    out = ['<div class="rag-sources">']
    out.append(
        f'<div class="rag-sources-q">来源 · Sources for: <q>{esc(answer.question)}</q></div>'
    )
    if answer.refused:
        out.append(
            '<div class="rag-label rag-label-refused">'
            f"{esc(REFUSED_LABEL)}: no retrieved passage supports an answer.</div>"
        )
    for c in answer.citations:
        out.append(_citation_card(c, by_chunk.get(c.chunk_id), (page_images or {}).get(c.n)))
    others = [h for h in answer.hits if h.chunk.id not in cited_ids]
    if others:
        label = (
            "检索到的其他段落 · Other retrieved passages"
            if answer.citations
            else ("检索到的段落 · Retrieved passages")
        )
        out.append(f'<details class="rag-other"><summary>{label} ({len(others)})</summary>')
        out.extend(_hit_card(h) for h in others)
        out.append("</details>")
    elif not answer.citations:
        out.append('<p class="rag-meta">No passages were retrieved.</p>')
    meta = f"mode {esc(answer.mode)} · answerer {esc(answer.answerer)}"
    out.append(f'<div class="rag-meta rag-footer">{meta}</div>')
    out.append("</div>")
    return "".join(out)


def _where(source: str, title: str, date: str | None, start: int, end: int, page: int | None = None) -> str:
    bits = [f'<span class="rag-file">{esc(source)}</span>']
    if page is not None:
        bits.append(f'<span class="rag-page">第 {page} 页 · p. {page}</span>')
    if title:
        bits.append(f'<span class="rag-title">{esc(title)}</span>')
    if date:
        bits.append(f'<span class="rag-date">{esc(date)}</span>')
    bits.append(f'<span class="rag-pos">characters {start}–{end}</span>')
    return " · ".join(bits)


def _ranks(h: Hit | None) -> str:
    if h is None:
        return ""

    def r(x: int | None) -> str:
        return f"#{x}" if x is not None else "—"

    return (
        f'<span class="rag-ranks">rank #{h.rank} · fused score {h.score:.4f} · '
        f"dense {r(h.dense_rank)} · BM25 {r(h.bm25_rank)}</span>"
    )


def _citation_card(c: Citation, hit: Hit | None, page_image: str | None = None) -> str:
    s, e = quote_span(c)
    image = ""
    if page_image and page_image.startswith("data:image/"):
        image = (
            f'<details class="rag-page-view"><summary>查看原页 · Show page {c.page}</summary>'
            f'<img class="rag-page-img" src="{esc(page_image)}" alt="{esc(c.source)} p. {c.page}"></details>'
        )
    return (
        f'<div class="rag-citation" data-n="{c.n}">'
        f'<div class="rag-cite-head"><span class="rag-n">[{c.n}]</span> '
        f"{_where(c.source, c.title, c.date, c.start, c.end, c.page)}</div>"
        f'<div class="rag-meta">{_ranks(hit)}</div>'
        f'<div class="rag-passage">{highlight(c.passage, s, e)}</div>'
        f"{image}</div>"
    )


def _hit_card(h: Hit) -> str:
    ch = h.chunk
    return (
        '<div class="rag-hit">'
        f'<div class="rag-cite-head">{_where(ch.source, ch.title, ch.date, ch.orig_start, ch.orig_end, ch.page)}</div>'
        f'<div class="rag-meta">{_ranks(h)}</div>'
        f'<div class="rag-passage">{esc(ch.text)}</div>'
        "</div>"
    )


CSS = """
.rag-sources { font-size: 0.92em; line-height: 1.6; }
.rag-sources-q { font-weight: 600; margin-bottom: 0.6em; }
.rag-citation, .rag-hit { border: 1px solid var(--border-color-primary, #ddd);
  border-radius: 8px; padding: 0.5em 0.7em; margin: 0.5em 0; }
.rag-cite-head { font-weight: 600; }
.rag-n { color: var(--color-accent, #e67e22); }
.rag-file { font-family: var(--font-mono, monospace); }
.rag-meta, .rag-ranks, .rag-timings, .rag-cite-list, .rag-interpreted, .rag-verification {
  color: var(--body-text-color-subdued, #666); font-size: 0.9em; }
.rag-passage { white-space: pre-wrap; margin-top: 0.3em; }
mark.rag-quote { background: #fde68a; color: #111; padding: 0 1px; border-radius: 2px; }
.rag-other > summary { cursor: pointer; margin-top: 0.6em; }
.rag-label { display: inline-block; font-size: 0.85em; font-weight: 600; padding: 0 0.5em;
  border-radius: 4px; }
.rag-label-refused { background: #fee2e2; color: #991b1b; }
.rag-refusal { font-style: italic; }
.rag-error { color: #b91c1c; }
.rag-notice { color: var(--body-text-color-subdued, #555); }
.rag-answerer { color: var(--body-text-color-subdued, #777); font-size: 0.8em; }
.rag-pending { color: var(--body-text-color-subdued, #888); }
.rag-footer { margin-top: 0.6em; }
.rag-status { font-size: 0.9em; border-left: 3px solid #f59e0b; padding: 0.2em 0.8em; margin: 0.3em 0; }
.rag-status ul { margin: 0.2em 0 0.2em 1.2em; }
.rag-page { font-weight: 600; }
.rag-page-view > summary { cursor: pointer; margin-top: 0.4em; }
.rag-page-img { max-width: 100%; border: 1px solid var(--border-color-primary, #ddd); margin-top: 0.3em; }
.rag-docs-table { width: 100%; font-size: 0.9em; border-collapse: collapse; }
.rag-docs-table td, .rag-docs-table th { padding: 2px 6px; text-align: left;
  border-bottom: 1px solid var(--border-color-primary, #eee); }
.rag-status-skipped { color: #b91c1c; }
.rag-upload-row { margin: 2px 0; font-size: 0.9em; }
.rag-upload-row progress { width: 40%; vertical-align: middle; margin: 0 0.5em; }
"""
