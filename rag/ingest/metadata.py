"""Per-file article metadata: `metadata.toml` beside the documents.

A human-edited TOML file gives each file's articles a title and a
publication date (news says 今年/去年; the date tells which year that is)
and lists page furniture to drop. `split_articles` cuts a file's raw text
into articles: at each article's `starts_at` text, else at Markdown `## `
headings.

Left out: metadata inside the documents themselves (PDF info, HTML <title>);
readers may supply a title, this file wins when it names one.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError

log = logging.getLogger(__name__)

METADATA_FILE = "metadata.toml"


@dataclass(frozen=True)
class ArticleMeta:
    title: str | None
    date: str | None
    starts_at: str | None


def read_metadata(docs_dir: Path) -> tuple[dict[str, list[ArticleMeta]], tuple[str, ...]]:
    """Per-file article metadata and the furniture lines, from metadata.toml."""
    path = docs_dir / METADATA_FILE
    if not path.exists():
        return {}, ()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"{path} cannot be read: {e.strerror or e}") from e
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
