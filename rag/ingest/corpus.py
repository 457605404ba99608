"""A folder of documents -> cleaned `Document`s, one per article.

    docs, skipped = load_corpus(Path("seeds"))

Every file the scan accepts (rag/ingest/scan.py: a reader for its suffix,
within the size limit, not a link leading outside) is read (through the
extraction cache, rag/ingest/extract.py, when one is given), split into
articles (rag/ingest/metadata.py) and cleaned (rag/ingest/clean.py). Pages
travel: each `Document` keeps where each page starts in the extracted
text, so chunks can name their page. A file that cannot be read, or whose
text is too long to index, is not fatal: it comes back as a `Problem` with
the reason, for every surface to report, like the files the scan left out.

Left out: sub-document metadata from the files themselves beyond a title.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from rag.errors import DocumentError
from rag.ingest.clean import clean_text
from rag.ingest.extract import extract
from rag.ingest.metadata import ArticleMeta, read_metadata, split_articles
from rag.ingest.readers import PageProgress, SourceText
from rag.ingest.scan import Problem, Scan, scan_documents
from rag.types import Document

FileProgress = Callable[[str, int, int], None]  # (file name, pages done, pages)


def list_sources(docs_dir: Path) -> list[Path]:
    """The files under docs_dir a reader can read, sorted (see scan_documents)."""
    return [s.path for s in scan_documents(docs_dir).sources]


def read_source(path: Path) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason)."""
    try:
        return extract(path).text, None
    except DocumentError as e:
        return None, str(e)


def load_corpus(
    docs_dir: Path,
    scan: Scan | None = None,
    *,
    max_chars: int | None = None,
    extract_cache: Path | None = None,
    progress: FileProgress | None = None,
) -> tuple[list[Document], list[Problem]]:
    """Clean every readable file of docs_dir; report the others (the scan's
    skipped files first). A file whose text is over `max_chars` characters
    is reported before it is cleaned: cleaning and chunking are the
    expensive part of reading a huge file."""
    scan = scan or scan_documents(docs_dir)
    meta, furniture = read_metadata(docs_dir)
    docs: list[Document] = []
    problems: list[Problem] = list(scan.skipped)
    for src in scan.sources:
        name, path = src.name, src.path
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as e:  # gone or unreadable since the scan
            problems.append(Problem(name, f"cannot be read: {e.strerror or e}"))
            continue
        on_page: PageProgress | None = None
        if progress is not None:
            on_page = lambda done, total, name=name: progress(name, done, total)  # noqa: E731
        try:
            st = extract(path, cache_dir=extract_cache, sha256=digest, progress=on_page)
        except DocumentError as e:
            problems.append(Problem(name, str(e)))
            continue
        if max_chars is not None and len(st.text) > max_chars:
            problems.append(Problem(name, f"has {len(st.text):,} characters, too many to index (RAG_MAX_CHUNKS_PER_FILE)"))
            continue
        file_docs = documents_from_text(
            name, st.text, meta.get(name), furniture, digest, title=st.title, pages=page_starts(st)
        )
        if not file_docs:
            problems.append(Problem(name, "has no text left after cleaning"))
        docs.extend(file_docs)
    return docs, problems


def page_starts(st: SourceText) -> tuple[tuple[int, int], ...]:
    """(offset in the extracted text, page number) where each page starts."""
    return tuple((r.start, r.page) for r in st.regions if r.page is not None)


def documents_from_text(
    name: str,
    text: str,
    articles: list[ArticleMeta] | None,
    furniture: tuple[str, ...] = (),
    digest: str = "",
    *,
    title: str | None = None,
    pages: tuple[tuple[int, int], ...] = (),
) -> list[Document]:
    """Split one file's text into articles and clean each into a Document.

    Title: metadata.toml's, else the file's own (`title`, from a PDF or
    HTML page), else the article's first line, else the file name."""
    docs: list[Document] = []
    for start, end, art_title, date in split_articles(text, articles):
        clean, origin = clean_text(text[start:end], start, furniture)
        if not clean:
            continue
        docs.append(
            Document(
                source=name,
                article=len(docs),
                title=art_title or (title if not docs else None) or _first_line(clean) or Path(name).stem,
                date=date,
                text=clean,
                origin=tuple(origin),
                file_sha256=digest,
                pages=pages,
            )
        )
    return docs


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0].strip()[:40]
