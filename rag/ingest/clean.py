"""OCR repair with an offset map: raw article text -> cleaned text.

The seeds are OCR'd newspaper pages, and cleaning undoes what OCR did:

1. Hard-wrapped lines are joined. Between two CJK characters (or a CJK
   character and a digit) no space is inserted; between two Latin words one
   space is.
2. Bold runs extracted twice ("为为 124124家企业家企业") are collapsed, but
   only on lines that are detectably doubled as a whole (see
   `undouble_line`), because a blanket rule breaks real text ("2022").
3. A paragraph broken by a column or page break (a blank line in the middle
   of a sentence) is re-joined; short lines (headings) stay separate.
4. Page furniture listed in the metadata file is dropped; OCR spaces next to
   CJK characters ("连续 22年") are removed.

`clean_text` returns the cleaned text and, for every character, the offset
it came from, so citations point at the original. The same cleaning applies
to any reader's output (OCR of scans included).

Left out: spelling correction and anything that needs a dictionary.
"""

from __future__ import annotations

import re

from rag.text import is_cjk

_SENTENCE_END = set("。！？；：…”’」』）)!?;")
# A doubled unit is at most this long: bold runs in the seeds are short
# phrases, and the cap keeps the line parse O(n * cap^2).
_MAX_UNIT = 40


def undouble_line(line: str) -> tuple[str, list[int]] | None:
    """Collapse a line whose text was extracted twice, run by run.

    Returns (collapsed, kept) where kept[i] is the index in `line` of the
    i-th kept character, or None when the line is not detectably doubled.

    The line is parsed into units: a doubled run XX (cost ~0), a space
    (free), or a single character (cost 1). Among parses with the fewest
    single characters, the one with the fewest (so longest) runs wins, so
    "11001100" is one run "1100", not "11"+"00"+"11"+"00". The line counts
    as doubled when at most 1 in 10 non-space characters is single.

    >>> undouble_line("为为 124124家企业家企业，，")[0]
    '为 124家企业，'
    >>> undouble_line("2022年实际外资") is None
    True
    """
    n = len(line)
    content = sum(1 for ch in line if not ch.isspace())
    if content < 6:  # too short to tell "1100" from a doubled "10"
        return None
    inf = (10**9, 10**9)
    best: list[tuple[int, int]] = [inf] * (n + 1)  # (singles, runs)
    back: list[tuple[int, str]] = [(0, "")] * (n + 1)
    best[0] = (0, 0)
    for i in range(n):
        if best[i] == inf:
            continue
        s, r = best[i]
        ch = line[i]
        cand = (s, r) if ch.isspace() else (s + 1, r)
        if cand < best[i + 1]:
            best[i + 1] = cand
            back[i + 1] = (i, "space" if ch.isspace() else "single")
        for u in range(1, min(_MAX_UNIT, (n - i) // 2) + 1):
            if line[i : i + u] == line[i + u : i + 2 * u]:
                c2 = (s, r + 1)
                if c2 < best[i + 2 * u]:
                    best[i + 2 * u] = c2
                    back[i + 2 * u] = (i, "run")
    singles, runs = best[n]
    if runs == 0 or singles * 10 > content:
        return None
    kept: list[int] = []
    j = n
    pieces: list[list[int]] = []
    while j > 0:
        i, kind = back[j]
        if kind == "run":
            u = (j - i) // 2
            pieces.append(list(range(i, i + u)))
        else:
            pieces.append([i])
        j = i
    for p in reversed(pieces):
        kept.extend(p)
    return "".join(line[k] for k in kept), kept


def clean_text(raw: str, base: int = 0, furniture: tuple[str, ...] = ()) -> tuple[str, list[int]]:
    """Clean one article's raw text; return (text, origin offsets).

    `base` is the offset of `raw` in its file, so origins are file offsets.
    """
    furniture_set = {f.strip() for f in furniture}
    # Paragraphs: lists of (line_text, origin_offsets) split by blank lines.
    paragraphs: list[list[tuple[str, list[int]]]] = [[]]
    pos = 0
    for line in raw.splitlines(keepends=True):
        start = pos
        pos += len(line)
        body = line.rstrip("\r\n")
        stripped = body.strip()
        if not stripped:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        if stripped in furniture_set:
            continue
        lead = len(body) - len(body.lstrip())
        offs = list(range(base + start + lead, base + start + lead + len(stripped)))
        m = re.match(r"#{1,6}[ \t]+", stripped)
        if m:  # a Markdown heading: keep its text as its own paragraph
            stripped, offs = stripped[m.end() :], offs[m.end() :]
            if paragraphs[-1]:
                paragraphs.append([])
        und = undouble_line(stripped)
        if und is not None:
            stripped = und[0]
            offs = [offs[k] for k in und[1]]
        paragraphs[-1].append((stripped, offs))
        if m:
            paragraphs.append([])

    joined: list[tuple[str, list[int]]] = []
    for para in paragraphs:
        if not para:
            continue
        text, offs = para[0]
        text, offs = text, list(offs)
        for nxt, noffs in para[1:]:
            text, offs = _join(text, offs, nxt, noffs)
        text, offs = _drop_cjk_spaces(text, offs)
        if not text:
            continue
        if joined and _continues(joined[-1][0], text):
            # A column or page break inside a sentence: re-join.
            pt, po = joined[-1]
            joined[-1] = _join(pt, po, text, offs)
        else:
            joined.append((text, offs))

    out_text: list[str] = []
    out_origin: list[int] = []
    for i, (text, offs) in enumerate(joined):
        if i:  # the separator maps to the line break just before the paragraph
            out_text.append("\n")
            out_origin.append(offs[0] - 1)
        out_text.append(text)
        out_origin.extend(offs)
    return "".join(out_text), out_origin


def _join(a: str, ao: list[int], b: str, bo: list[int]) -> tuple[str, list[int]]:
    """Join two wrapped lines: a space only between two Latin words. The
    space maps to the line break (or indentation) just before `b`: the last
    character before a line's text is always one of those."""
    if a and b and a[-1].isascii() and a[-1].isalpha() and b[0].isascii() and b[0].isalpha():
        return a + " " + b, ao + [bo[0] - 1] + bo
    return a + b, ao + bo


def _drop_cjk_spaces(text: str, offs: list[int]) -> tuple[str, list[int]]:
    """Remove OCR spaces that touch a CJK character ("连续 22年" -> "连续22年")."""
    keep_t: list[str] = []
    keep_o: list[int] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch in " \t\u3000":
            prev = text[i - 1] if i else ""
            nxt = text[i + 1] if i + 1 < n else ""
            if not prev or not nxt or is_cjk(prev) or is_cjk(nxt) or nxt in " \t\u3000":
                continue
        keep_t.append(ch)
        keep_o.append(offs[i])
    return "".join(keep_t), keep_o


def _continues(prev: str, nxt: str) -> bool:
    """Does paragraph `nxt` continue the sentence `prev` broke off?"""
    if len(prev) < 24 or prev[-1] in _SENTENCE_END:
        return False
    first = nxt[0]
    # A new paragraph that opens a quote, a numbered item or a bullet is new.
    if first in "“「《（(■●·" or re.match(r"[一二三四五六七八九十\d]+[、.．)]", nxt):
        return False
    return is_cjk(first) or first.isalnum()
