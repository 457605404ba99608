"""Collections: named sets of documents, each with its own folder and index.

    infos = list_collections(settings)                 # names, documents, chunks
    docs = list_documents(settings, "t")               # type, pages, chunks, status
    report = add_files(pipeline, [Path("a.pdf")])      # copy in, read, index
    report = remove_files(pipeline, ["a.pdf"])
    report = sync_folder(pipeline, Path("~/papers"))   # added, changed, deleted

`pipeline.settings.collection` names the collection that changes; the
pipeline's index is refreshed incrementally afterwards (only new chunk
texts are embedded). The default collection, `seeds`, is the project's
seeds/ folder: it can be listed and asked, but add/remove/sync refuse to
change it.

A file is checked (exists, not empty, under the size limit, a format we
read) and read (OCR included, through the extraction cache, with per-page
progress) *before* it is stored, so an unreadable upload never enters the
collection, and every refusal names the file and the reason. The previous
index stays live until the new build is complete.

Left out: deleting whole collections (remove the folder), renaming them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rag.collections.files import member, remove_empty_parents, safe_name, store_file
from rag.config import DEFAULT_COLLECTION, Settings
from rag.errors import DocumentError, InputError
from rag.index.build import BuildReport
from rag.index.layout import MANIFEST, live_build
from rag.ingest import list_sources
from rag.ingest.extract import cached, extract, file_sha256
from rag.ingest.readers import reader_for

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

Action = Literal["added", "replaced", "unchanged", "removed", "rejected"]


@dataclass(frozen=True)
class Progress:
    """One file's progress while it is checked, read and indexed."""

    name: str
    stage: str  # "reading", "indexing", "done", "rejected"
    fraction: float  # 0..1
    detail: str = ""


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class FileResult:
    """What happened to one file of an add, remove or sync."""

    name: str  # the name in the collection (or as given, when rejected)
    action: Action
    reason: str | None = None  # why it was rejected
    given: str | None = None  # the name it was given, when it was changed
    kind: str | None = None
    pages: int | None = None
    notes: tuple[str, ...] = ()


@dataclass
class ChangeReport:
    collection: str
    files: list[FileResult] = field(default_factory=list)
    build: BuildReport | None = None

    @property
    def rejected(self) -> list[FileResult]:
        return [f for f in self.files if f.action == "rejected"]


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    docs_dir: Path
    documents: int  # files in the folder with a format we read
    chunks: int | None  # None: no index yet
    read_only: bool


@dataclass(frozen=True)
class DocumentInfo:
    name: str
    kind: str
    size: int
    pages: int | None
    chunks: int | None
    status: str  # "indexed", "skipped", "not indexed yet"
    reason: str | None = None
    notes: tuple[str, ...] = ()


def _manifest(index_dir: Path) -> dict[str, Any] | None:
    build = live_build(index_dir)
    if build is None:
        return None
    try:
        data = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def collection_names(settings: Settings) -> list[str]:
    root = settings.data_dir / "collections"
    names = [p.name for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")] if root.is_dir() else []
    return [DEFAULT_COLLECTION, *[n for n in names if n != DEFAULT_COLLECTION]]


def list_collections(settings: Settings) -> list[CollectionInfo]:
    """Every collection with its document and chunk counts (no model is loaded)."""
    out = []
    for name in collection_names(settings):
        docs_dir, index_dir = settings.collection_dirs(name)
        n = len(list_sources(docs_dir)) if docs_dir.is_dir() else 0
        m = _manifest(index_dir)
        chunks = m.get("counts", {}).get("chunks") if m else None
        out.append(CollectionInfo(name, docs_dir, n, chunks, name == DEFAULT_COLLECTION))
    return out


def create_collection(settings: Settings, name: str) -> Path:
    """Make the folders of a new (or existing) collection; its documents folder."""
    docs_dir, index_dir = settings.collection_dirs(name)
    docs_dir.mkdir(parents=True, exist_ok=True)
    index_dir.mkdir(parents=True, exist_ok=True)
    return docs_dir


def list_documents(settings: Settings, name: str | None = None) -> list[DocumentInfo]:
    """The documents of a collection with type, pages, chunks and status."""
    docs_dir, index_dir = settings.collection_dirs(name)
    if not docs_dir.is_dir():
        return []
    files = (_manifest(index_dir) or {}).get("files", {})
    out = []
    for path in list_sources(docs_dir):
        rel = path.relative_to(docs_dir).as_posix()
        reader = reader_for(path)
        kind = reader.kind if reader else "?"
        entry = files.get(rel) if isinstance(files, dict) else None
        st = cached(settings.extract_cache_dir, entry["sha256"], kind) if entry and kind != "text" else None
        if entry is None:
            status, reason, chunks = "not indexed yet", None, None
        elif entry.get("skipped"):
            status, reason, chunks = "skipped", str(entry["skipped"]), 0
        else:
            status, reason, chunks = "indexed", None, int(entry.get("chunks", 0))
        out.append(DocumentInfo(
            rel, kind, path.stat().st_size, st.pages if st else None, chunks, status, reason,
            st.notes if st else (),
        ))
    return out


def _writable(pipeline: Pipeline) -> tuple[Settings, Path]:
    s = pipeline.settings
    if s.collection == DEFAULT_COLLECTION:
        raise InputError(
            f"the default collection '{DEFAULT_COLLECTION}' is the project's {s.docs_dir} folder and is not "
            "changed by add, remove or sync; choose another with --collection NAME (or RAG_COLLECTION)"
        )
    return s, create_collection(s, s.collection)


def check_file(path: Path, limit_mb: float) -> str | None:
    """Why this file cannot be added, or None."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes)"
    if size > limit_mb * 1024 * 1024:
        return f"is {size / 1024 / 1024:.1f} MB; the limit is {limit_mb:g} MB (RAG_MAX_UPLOAD_MB)"
    return None


def _read_then_store(
    s: Settings, src: Path, name: str, docs_dir: Path, link: bool, progress: ProgressFn | None, given: str | None
) -> FileResult:
    """Check and read one file, then store it; a FileResult either way."""
    def report(stage: str, fraction: float, detail: str = "") -> None:
        if progress:
            progress(Progress(name, stage, fraction, detail))

    why = check_file(src, s.max_upload_mb)
    if why is None and reader_for(Path(name)) is None:
        why = f"has an unsupported type ({Path(name).suffix or 'no suffix'})"
    if why is not None:
        report("rejected", 1.0, why)
        return FileResult(name, "rejected", why, given=given)
    report("reading", 0.0)
    sha = file_sha256(src)
    try:
        st = extract(src, cache_dir=s.extract_cache_dir, sha256=sha,
                     progress=lambda d, t: report("reading", 0.5 * d / max(t, 1), f"page {d}/{t}"))
    except DocumentError as e:
        report("rejected", 1.0, str(e))
        return FileResult(name, "rejected", str(e), given=given)
    dest = member(docs_dir, name)
    if dest.exists() and dest.is_file() and file_sha256(dest) == sha:
        action: Action = "unchanged"
    else:
        action = "replaced" if dest.exists() else "added"
        note = store_file(src, docs_dir, name, link=link)
        st = st if note is None else replace(st, notes=(*st.notes, note))
    report("indexing", 0.5)
    return FileResult(name, action, given=given, kind=st.kind, pages=st.pages, notes=st.notes)


def _refresh(pipeline: Pipeline, report: ChangeReport, names: Sequence[str], progress: ProgressFn | None) -> None:
    """Rebuild the index incrementally; progress of embedding goes to every named file."""
    def on_build(stage: str, done: int, total: int) -> None:
        if progress and stage == "embed":
            for n in names:
                progress(Progress(n, "indexing", 0.5 + 0.5 * (done / total if total else 1.0), f"embedding {done}/{total}"))

    report.build = pipeline.ensure_index(progress=on_build, allow_build=True)
    if progress:
        chunks = _chunk_counts(report.build)
        for n in names:
            progress(Progress(n, "done", 1.0, f"{chunks.get(n, 0)} chunks"))


def _chunk_counts(build: BuildReport) -> dict[str, int]:
    m = _manifest(build.path.parent) or {}
    return {k: int(v.get("chunks", 0)) for k, v in m.get("files", {}).items()}


def add_files(
    pipeline: Pipeline, paths: Sequence[Path], *, names: Sequence[str] | None = None, link: bool = False,
    progress: ProgressFn | None = None,
) -> ChangeReport:
    """Copy (or link) files into the pipeline's collection and index them.

    `names` are the names to store them under (default: each file's name;
    uploads pass the browser's file name), sanitised either way."""
    s, docs_dir = _writable(pipeline)
    report = ChangeReport(s.collection)
    changed: list[str] = []
    for i, src in enumerate(paths):
        given = names[i] if names else src.name
        try:
            name = safe_name(given)
        except InputError as e:
            report.files.append(FileResult(given, "rejected", str(e)))
            continue
        result = _read_then_store(s, src, name, docs_dir, link, progress, given if given != name else None)
        report.files.append(result)
        if result.action in ("added", "replaced", "unchanged"):
            changed.append(name)
    if changed:
        _refresh(pipeline, report, changed, progress)
    return report


def remove_files(pipeline: Pipeline, names: Sequence[str]) -> ChangeReport:
    """Delete documents from the pipeline's collection and re-index."""
    s, docs_dir = _writable(pipeline)
    report = ChangeReport(s.collection)
    for name in names:
        try:
            path = member(docs_dir, name)
        except InputError:
            report.files.append(FileResult(name, "rejected", f"is not in collection {s.collection} (the path leads outside its folder)"))
            continue
        if not path.is_file():
            report.files.append(FileResult(name, "rejected", f"is not a document of collection {s.collection}"))
            continue
        path.unlink()
        remove_empty_parents(path, docs_dir.resolve())
        report.files.append(FileResult(name, "removed"))
    if any(f.action == "removed" for f in report.files):
        _refresh_or_empty(pipeline, report)
    return report


def _refresh_or_empty(pipeline: Pipeline, report: ChangeReport) -> None:
    """Re-index; a collection left without documents has its index removed
    (an empty index cannot be built), so questions find nothing."""
    docs_dir, index_dir = pipeline.settings.collection_dirs()
    if list_sources(docs_dir):
        _refresh(pipeline, report, [], None)
        return
    from rag.index.layout import CURRENT

    (index_dir / CURRENT).unlink(missing_ok=True)
    pipeline.reset_index()


def sync_folder(pipeline: Pipeline, folder: Path, *, delete: bool = True, progress: ProgressFn | None = None) -> ChangeReport:
    """Bring the collection in line with `folder`: copy new and changed
    files (by SHA-256, against the index manifest), delete the ones the
    folder no longer has (unless `delete=False`), then re-index."""
    s, docs_dir = _writable(pipeline)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    if folder.resolve() == docs_dir.resolve() or docs_dir.resolve() in folder.resolve().parents:
        raise InputError(f"{folder} is the collection's own folder")
    report = ChangeReport(s.collection)
    known = {k: v.get("sha256") for k, v in ((_manifest(s.collection_dirs()[1]) or {}).get("files", {})).items()}
    wanted: set[str] = set()
    changed: list[str] = []
    for src in list_sources(folder):
        rel = src.relative_to(folder).as_posix()
        try:
            name = "/".join(safe_name(part) for part in rel.split("/"))
        except InputError as e:
            report.files.append(FileResult(rel, "rejected", str(e)))
            continue
        wanted.add(name)
        dest = docs_dir / name
        if dest.is_file() and known.get(name) == file_sha256(src) == file_sha256(dest):
            report.files.append(FileResult(name, "unchanged"))
            continue
        result = _read_then_store(s, src, name, docs_dir, False, progress, rel if rel != name else None)
        report.files.append(result)
        if result.action in ("added", "replaced"):
            changed.append(name)
    if delete:
        for path in list_sources(docs_dir):
            rel = path.relative_to(docs_dir).as_posix()
            if rel not in wanted:
                path.unlink()
                remove_empty_parents(path, docs_dir)
                report.files.append(FileResult(rel, "removed"))
    if any(f.action in ("added", "replaced", "removed") for f in report.files) or not known:
        _refresh_or_empty(pipeline, report)
    return report
