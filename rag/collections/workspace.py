"""One warm `Pipeline` per collection, sharing the models: what a long-running
front end (the chat page, an API server) holds.

    ws = Workspace(pipeline)                    # the default collection's pipeline
    ws.pipeline("reports").ask("…")             # made on first use, same embedder
    ws.page_image("reports", citation)          # JPEG of the cited page, highlighted

Left out: evicting pipelines of collections nobody asks any more.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rag.collections.files import member
from rag.errors import InputError
from rag.ingest.extract import cached, file_sha256
from rag.ingest.pageview import page_image
from rag.ingest.readers import reader_for
from rag.types import Citation

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.pipeline import Pipeline


class Workspace:
    def __init__(self, base: Pipeline) -> None:
        self.base = base
        self._lock = threading.Lock()
        self._pipelines: dict[str, Pipeline] = {base.settings.collection: base}

    @property
    def settings(self) -> Settings:
        return self.base.settings

    def pipeline(self, name: str | None = None) -> Pipeline:
        """The pipeline of collection `name` (default: the base one's)."""
        name = name or self.base.settings.collection
        with self._lock:
            if name not in self._pipelines:
                self._pipelines[name] = self.base.for_collection(name)
            return self._pipelines[name]

    def loaded(self, name: str) -> Pipeline | None:
        """The pipeline of `name` if one was made (a status check makes none)."""
        with self._lock:
            return self._pipelines.get(name)

    def page_image(self, name: str, citation: Citation, width: int = 900) -> bytes | None:
        """The cited page of a PDF or image drawn with the quote highlighted,
        or None (a text file, a file gone since)."""
        if citation.page is None:
            return None
        docs_dir, _ = self.settings.collection_dirs(name)
        try:
            path = member(docs_dir, citation.source)
        except InputError:
            return None
        reader = reader_for(path)
        if reader is None or reader.kind not in ("pdf", "image") or not path.is_file():
            return None
        st = cached(self.settings.extract_cache_dir, file_sha256(path), reader.kind)
        return page_image(path, citation.page, citation.quote, source=st, width=width)
