"""Issue 14, cases 4 and 5: a damaged index is detected on load and recovered.

Before: a manifest holding `[]` or nulls, or a non-UTF-8 `CURRENT`, raised
AttributeError/TypeError/UnicodeDecodeError even under `rag index
--rebuild` (the only way out was deleting the index by hand); one digit
changed in chunks.jsonl (114 -> 914) was answered as 914家 with a
"checked" citation; zeroed vectors degraded answers silently.

Now each damage below is "no usable index": `--no-build` names it in one
line, a plain `rag index` rebuilds, `rag index --rebuild` always recovers,
and the answer is the document's 114.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexNotReadyError
from rag.index.build import load_index
from rag.index.integrity import manifest_problem
from tests.faults.support import live, make_docs, one_line_error, run_main

pytestmark = pytest.mark.faults
QUESTION_114 = "平湖有多少家日资企业？"
BM25_FILES = {f"bm25/{n}" for n in ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy",
                                    "params.index.json", "vocab.index.json")}


def _manifest_value(value: object) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (live(index) / "manifest.json").write_text(json.dumps(value), encoding="utf-8")
    return damage


def _manifest_field(key: str, value: object) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        p = live(index) / "manifest.json"
        m = json.loads(p.read_text(encoding="utf-8"))
        m[key] = value
        p.write_text(json.dumps(m), encoding="utf-8")
    return damage


def _file_entries_null(index: Path) -> None:
    p = live(index) / "manifest.json"
    m = json.loads(p.read_text(encoding="utf-8"))
    m["files"] = {name: None for name in m["files"]}
    p.write_text(json.dumps(m), encoding="utf-8")


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (live(index) / name).write_bytes(data)
    return damage


def _current(data: bytes) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (index / "CURRENT").write_bytes(data)
    return damage


def _digit(index: Path) -> None:
    p = live(index) / "chunks.jsonl"
    text = p.read_text(encoding="utf-8")
    assert "日资企业114家" in text
    p.write_text(text.replace("日资企业114家", "日资企业914家"), encoding="utf-8")


def _zero_vectors(index: Path) -> None:
    import faiss

    path = live(index) / "vectors.faiss"
    old = faiss.read_index(str(path))
    zero = faiss.IndexFlatIP(old.d)
    zero.add(np.zeros((old.ntotal, old.d), dtype=np.float32))
    faiss.write_index(zero, str(path))


def _delete(name: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (live(index) / name).unlink()
    return damage


def _truncate(name: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        p = live(index) / name
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return damage


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "manifest []": (_manifest_value([]), "manifest.json is malformed (it holds a JSON list"),
    "manifest null": (_manifest_value(None), "manifest.json is malformed (it holds a JSON NoneType"),
    "manifest {}": (_manifest_value({}), "has format None"),
    "manifest files null": (_manifest_field("files", None), "manifest.json is malformed (files is missing"),
    "manifest counts null": (_manifest_field("counts", None), "manifest.json is malformed (counts is missing"),
    "manifest file entries null": (_file_entries_null, "the entry for 'a.txt' is malformed"),
    "manifest index_files null": (_manifest_field("index_files", None), "index_files is missing"),
    "manifest not JSON": (_write("manifest.json", b'{"format_version": 3,'), "manifest.json is malformed (not JSON"),
    "manifest not UTF-8": (_write("manifest.json", b"\xff\xfe{}"), "manifest.json is malformed (not JSON"),
    "CURRENT not UTF-8": (_current(b"\xff\xfebuild\n"), "CURRENT is malformed (not UTF-8)"),
    "CURRENT empty": (_current(b""), "CURRENT is malformed"),
    "CURRENT escapes": (_current(b"../../etc\n"), "CURRENT is malformed"),
    "CURRENT names nothing": (_current(b"build-gone\n"), "names build-gone, which holds no complete build"),
    "one digit in chunks.jsonl": (_digit, "chunks.jsonl has changed since it was built (SHA-256)"),
    "zeroed vectors": (_zero_vectors, "vectors.faiss has changed since it was built"),
    "bm25 scores truncated": (
        _truncate("bm25/data.csc.index.npy"), "bm25/data.csc.index.npy has changed since it was built (size)"
    ),
    "tokens.jsonl deleted": (_delete("tokens.jsonl"), "tokens.jsonl is missing"),
    "vectors deleted": (_delete("vectors.faiss"), "vectors.faiss is missing"),
}


@pytest.fixture
def base(tmp_path: Path) -> list[str]:
    docs = make_docs(tmp_path / "docs")
    return ["--docs", str(docs), "--index-dir", str(tmp_path / "index"), "--model", "fake"]


def _answer_is_114(base: list[str], *pre: str) -> None:
    r = run_main([*pre, *base, "ask", QUESTION_114, "--json"])
    assert r.code == 0, r.output
    data = json.loads(r.stdout)
    assert "114家" in data["answer"] and "914" not in data["answer"], data["answer"]


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_named_then_rebuilt(base: list[str], tmp_path: Path, case: str) -> None:
    damage, needle = DAMAGE[case]
    assert run_main([*base, "index"]).code == 0
    damage(tmp_path / "index")

    r = run_main(["--no-build", *base, "ask", QUESTION_114])  # detected on load, named in one line
    one_line_error(r, "the index needs building", needle, "run: rag index")

    r = run_main([*base, "index"])  # a plain build recovers
    assert r.code == 0, r.output
    assert needle in r.stdout
    _answer_is_114(base, "--no-build")


@pytest.mark.parametrize("case", list(DAMAGE))
def test_rebuild_always_recovers(base: list[str], tmp_path: Path, case: str) -> None:
    damage, _ = DAMAGE[case]
    assert run_main([*base, "index"]).code == 0
    damage(tmp_path / "index")
    r = run_main([*base, "index", "--rebuild"])
    assert r.code == 0, r.output
    assert "rebuild requested" in r.stdout
    _answer_is_114(base, "--no-build")


def test_every_index_file_is_checked(base: list[str], tmp_path: Path) -> None:
    """Flip one byte of each file the manifest lists: each is caught on load."""
    assert run_main([*base, "index"]).code == 0
    build = live(tmp_path / "index")
    names = list(json.loads((build / "manifest.json").read_text(encoding="utf-8"))["index_files"])
    assert set(names) == {"chunks.jsonl", "tokens.jsonl", "vectors.faiss", *BM25_FILES}
    for name in names:
        p = build / name
        original = p.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        p.write_bytes(bytes(flipped))
        with pytest.raises(IndexNotReadyError, match=f"{name} has changed since it was built"):
            load_index(build)
        p.write_bytes(original)
    load_index(build)


@pytest.mark.parametrize("obj", [[], None, 3, "x", {"format_version": 3}, {"format_version": 3, "files": []}])
def test_manifest_shapes(obj: object) -> None:
    assert manifest_problem(obj) is not None
