"""Read a folder of .txt/.md files and clean them into `Document`s.

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

Every character of the cleaned text keeps the offset it came from in the
original file (`Document.origin`), so citations point at the original.

Files are split into articles by `metadata.toml` next to the documents (a
human-edited file with titles and publication dates), else at Markdown
`## ` headings. Unreadable files are reported, not fatal.

Left out: PDF/HTML input, encodings other than UTF-8 (reported, not guessed).
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
METADATA_FILE = "metadata.toml"

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef\u2014\u2026\u201c\u201d\u2018\u2019"
_IS_CJK = re.compile(f"[{_CJK}{_CJK_PUNCT}]")
_SENTENCE_END = set("。！？；：…”’」』）)!?;")
# A doubled unit is at most this long: bold runs in the seeds are short
# phrases, and the cap keeps the line parse O(n * cap^2).
_MAX_UNIT = 40


@dataclass(frozen=True)
class Problem:
    """A file that could not be indexed, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class ArticleMeta:
    title: str | None
    date: str | None
    starts_at: str | None


# ---------------------------------------------------------------- metadata
def read_metadata(docs_dir: Path) -> tuple[dict[str, list[ArticleMeta]], tuple[str, ...]]:
    """Per-file article metadata and the furniture lines, from metadata.toml."""
    path = docs_dir / METADATA_FILE
    if not path.exists():
        return {}, ()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: invalid metadata file: {e}") from e
    files: dict[str, list[ArticleMeta]] = {}
    for entry in data.get("file", []):
        name = entry.get("name")
        if not name:
            raise InputError(f"{path}: a [[file]] entry has no name")
        arts = [
            ArticleMeta(a.get("title"), _date(a.get("date", entry.get("date")), path), a.get("starts_at"))
            for a in entry.get("articles", [])
        ]
        if not arts:
            arts = [ArticleMeta(entry.get("title"), _date(entry.get("date"), path), None)]
        files[name] = arts
    return files, tuple(data.get("furniture", ()))


def _date(value: Any, path: Path) -> str | None:
    if value is None:
        return None
    s = str(value)
    if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", s):
        raise InputError(f"{path}: date {s!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    return s


# ------------------------------------------------------------------ files
def list_sources(docs_dir: Path) -> list[Path]:
    """The .txt/.md files under docs_dir, sorted, hidden files skipped."""
    if not docs_dir.is_dir():
        raise InputError(f"documents folder {docs_dir} does not exist")
    out = []
    for p in sorted(docs_dir.rglob("*")):
        rel = p.relative_to(docs_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and p.suffix.lower() in SUFFIXES:
            out.append(p)
    return out


def read_source(path: Path) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        return None, f"cannot be read: {e.strerror or e}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"is not UTF-8 (byte {e.start}); convert it to UTF-8"
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return None, "is empty"
    return text, None


def load_corpus(docs_dir: Path) -> tuple[list[Document], list[Problem]]:
    """Clean every readable file of docs_dir; report the others."""
    meta, furniture = read_metadata(docs_dir)
    docs: list[Document] = []
    problems: list[Problem] = []
    for path in list_sources(docs_dir):
        name = path.relative_to(docs_dir).as_posix()
        text, reason = read_source(path)
        if text is None:
            problems.append(Problem(name, reason or "unreadable"))
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        file_docs = documents_from_text(name, text, meta.get(name), furniture, digest)
        if not file_docs:
            problems.append(Problem(name, "has no text left after cleaning"))
        docs.extend(file_docs)
    return docs, problems


def documents_from_text(
    name: str,
    text: str,
    articles: list[ArticleMeta] | None,
    furniture: tuple[str, ...] = (),
    digest: str = "",
) -> list[Document]:
    spans = split_articles(text, articles)
    docs: list[Document] = []
    for i, (start, end, title, date) in enumerate(spans):
        clean, origin = clean_text(text[start:end], start, furniture)
        if not clean:
            continue
        docs.append(
            Document(
                source=name,
                article=len(docs),
                title=title or _first_line(clean) or Path(name).stem,
                date=date,
                text=clean,
                origin=tuple(origin),
                file_sha256=digest,
            )
        )
        del i
    return docs


def _first_line(text: str) -> str:
    line = text.split("\n", 1)[0].strip()
    return line[:40]


_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*$", re.M)


def split_articles(
    text: str, articles: list[ArticleMeta] | None
) -> list[tuple[int, int, str | None, str | None]]:
    """(start, end, title, date) of each article in the raw text."""
    if articles and (len(articles) > 1 or articles[0].starts_at):
        starts: list[tuple[int, ArticleMeta]] = []
        for i, a in enumerate(articles):
            if i == 0 and not a.starts_at:
                starts.append((0, a))
                continue
            pos = text.find(a.starts_at or "")
            if not a.starts_at or pos < 0:
                # The file changed under its metadata: keep its text in the
                # previous article rather than fail the whole build.
                log.warning("metadata: article start %r not found; merged into the previous article", a.starts_at)
                continue
            starts.append((pos, a))
        starts.sort(key=lambda x: x[0])
        if starts[0][0] != 0:
            starts[0] = (0, starts[0][1])
        return [
            (pos, starts[j + 1][0] if j + 1 < len(starts) else len(text), a.title, a.date)
            for j, (pos, a) in enumerate(starts)
        ]
    date = articles[0].date if articles else None
    title = articles[0].title if articles else None
    heads = list(_HEADING.finditer(text))
    if not heads or title:
        return [(0, len(text), title, date)]
    out: list[tuple[int, int, str | None, str | None]] = []
    # Text before the first heading (mastheads, page labels) goes with the first article.
    for j, m in enumerate(heads):
        start = 0 if j == 0 else m.start()
        end = heads[j + 1].start() if j + 1 < len(heads) else len(text)
        out.append((start, end, m.group(1).strip(), date))
    return out


# --------------------------------------------------------------- cleaning
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
        if i:
            out_text.append("\n")
            out_origin.append(out_origin[-1] + 1 if out_origin else base)
        out_text.append(text)
        out_origin.extend(offs)
    return "".join(out_text), out_origin


def _join(a: str, ao: list[int], b: str, bo: list[int]) -> tuple[str, list[int]]:
    """Join two wrapped lines: a space only between two Latin words."""
    if a and b and a[-1].isascii() and a[-1].isalpha() and b[0].isascii() and b[0].isalpha():
        return a + " " + b, ao + [ao[-1] + 1] + bo
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
            if not prev or not nxt or _IS_CJK.match(prev) or _IS_CJK.match(nxt) or nxt in " \t\u3000":
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
    return bool(_IS_CJK.match(first)) or first.isalnum()
