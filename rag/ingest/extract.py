"""One file -> `SourceText`, through a content-addressed cache.

    st = extract(path, cache_dir=Path("~/.cache/rag/extract"), sha256=digest)

The reader is chosen by suffix and content (rag/ingest/readers). Slow
extractions (OCR takes seconds a page) must not run again on every index
refresh, so the `SourceText` of every non-plain-text file is cached as JSON
under the SHA-256 of the file's bytes plus the extraction version and the
OCR engine; a changed file has a new digest and is read again. Writes go
to a temp file and are renamed into place, so a crash never leaves a half
entry; an unreadable entry is ignored and rewritten. Nothing is unpickled.

Left out: pruning entries of files that no longer exist (they are small JSON).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from rag.ingest.readers import PageProgress, SourceText, choose_reader

log = logging.getLogger(__name__)

# Bump when a reader's output changes, so cached extractions are redone.
EXTRACT_VERSION = 1


def _key(sha256: str, kind: str) -> str:
    from rag.ingest.ocr.rapid import RapidOcrEngine

    return f"{sha256}-{kind}-v{EXTRACT_VERSION}-{hashlib.sha256(RapidOcrEngine.name.encode()).hexdigest()[:8]}.json"


def cached(cache_dir: Path | None, sha256: str, kind: str) -> SourceText | None:
    if cache_dir is None or not sha256:
        return None
    path = cache_dir / _key(sha256, kind)
    try:
        return SourceText.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("ignoring unreadable extraction cache entry %s: %s", path, e)
        return None


def _store(cache_dir: Path, sha256: str, st: SourceText) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(st.to_json(), f, ensure_ascii=False)
        os.replace(tmp, cache_dir / _key(sha256, st.kind))
    except OSError as e:  # a cache that cannot be written only costs time
        log.warning("cannot write the extraction cache in %s: %s", cache_dir, e)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def extract(
    path: Path, *, cache_dir: Path | None = None, sha256: str = "", progress: PageProgress | None = None
) -> SourceText:
    """The file's text with provenance; raises DocumentError with the reason."""
    reader = choose_reader(path)
    if reader.kind == "text":  # reading is cheaper than the cache
        return reader.read(path, progress)
    if cache_dir is not None and not sha256:
        sha256 = file_sha256(path)
    hit = cached(cache_dir, sha256, reader.kind)
    if hit is not None:
        if progress and hit.pages:
            progress(hit.pages, hit.pages)
        return hit
    st = reader.read(path, progress)
    if cache_dir is not None:
        _store(cache_dir, sha256, st)
    return st
