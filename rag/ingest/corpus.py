"""A folder of documents -> cleaned `Document`s, one per article.

    docs, skipped = load_corpus(Path("seeds"))

Every file whose suffix has a reader (rag/ingest/readers) is read, split
into articles (rag/ingest/metadata.py) and cleaned (rag/ingest/clean.py).
A file that cannot be read is not fatal: it comes back as a `Problem` with
the reason, for every surface to report.

Left out: sub-document metadata from the files themselves (PDF info).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocumentError, InputError
from rag.ingest.clean import clean_text
from rag.ingest.metadata import ArticleMeta, read_metadata, split_articles
from rag.ingest.readers import reader_for
from rag.types import Document


@dataclass(frozen=True)
class Problem:
    """A file that could not be indexed, and why."""

    source: str
    reason: str


def list_sources(docs_dir: Path) -> list[Path]:
    """The readable files under docs_dir, sorted, hidden files skipped."""
    if not docs_dir.is_dir():
        raise InputError(f"documents folder {docs_dir} does not exist")
    out = []
    for p in sorted(docs_dir.rglob("*")):
        rel = p.relative_to(docs_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and reader_for(p) is not None:
            out.append(p)
    return out


def read_source(path: Path) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason)."""
    reader = reader_for(path)
    if reader is None:
        return None, f"has an unsupported type ({path.suffix or 'no suffix'})"
    try:
        return reader.read(path).text, None
    except DocumentError as e:
        return None, str(e)


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
    """Split one file's text into articles and clean each into a Document."""
    docs: list[Document] = []
    for start, end, title, date in split_articles(text, articles):
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
    return docs


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0].strip()[:40]
