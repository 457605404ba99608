"""Have the documents changed since an index was loaded? Cheap enough to
ask before every answer: `stat` every file, hash only the files whose
size, modification time or inode changed.

    snap = Snapshot.take(spec)                       # just before loading/building
    reasons, snap = changes(spec, index, snap, model) # [] = the index still matches

A touched but unchanged file (same bytes) is not a change; an edited,
added or deleted file is, and so is a changed metadata.toml. The new
snapshot's `skipped` says which files are left out now (a .pdf dropped in
the folder is reported, not a reason to rebuild).

Left out: the policy (when to check, rebuilding in the background,
notices), which is the pipeline's (rag/pipeline.py); inotify (a stat walk
is portable and, for thousands of files, a few milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.index.build import Index, IndexSpec
from rag.index.manifest import stale_reasons
from rag.ingest import METADATA_FILE, Problem, Scan

Stamp = tuple[int, int, int]  # size, mtime_ns, inode


@dataclass(frozen=True)
class Snapshot:
    """What the documents folder looked like (stat only)."""

    stamps: dict[str, Stamp] = field(default_factory=dict)
    metadata: Stamp | None = None
    skipped: tuple[Problem, ...] = ()

    @classmethod
    def of(cls, spec: IndexSpec, scan: Scan) -> Snapshot:
        try:
            st = (spec.docs_dir / METADATA_FILE).stat()
            meta: Stamp | None = (st.st_size, st.st_mtime_ns, st.st_ino)
        except OSError:
            meta = None
        return cls({s.name: s.stamp for s in scan.sources}, meta, scan.skipped)

    @classmethod
    def take(cls, spec: IndexSpec) -> Snapshot:
        return cls.of(spec, spec.scan())


def changes(spec: IndexSpec, index: Index, before: Snapshot, model: str) -> tuple[list[str], Snapshot]:
    """Why `index` no longer matches the documents ([] if it does), and the
    snapshot now. Files whose stat is unchanged are not read."""
    scan = spec.scan()
    now = Snapshot.of(spec, scan)
    if now == before:
        return [], now
    recorded = index.manifest["files"]
    known = {
        name: recorded[name]["sha256"]
        for name, stamp in now.stamps.items()
        if name in recorded and before.stamps.get(name) == stamp
    }
    return stale_reasons(index.manifest, spec.state(scan, model, known=known)), now
