"""Issue 14, cases 2, 6 and 8: nothing is skipped silently, and limits say which file.

Before: a GBK or UTF-16 file was reported by `rag index` but skipped
without a word by `rag ask` and the page (which answered "not in the
documents", exit 0); .pdf/.docx files were ignored without a mention; a
50 MB text file was accepted without a word (85 s and 2.2 GB to read and
chunk, then hours of embedding); a symbolic link to a file outside the
documents folder was followed and its content quoted.

Now every surface reports the same lines: `skipped NAME: REASON` on
stderr (`rag index` exits 3), a `skipped` list in `--json`, and the
page's status line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import Settings
from rag.ingest import scan_documents
from rag.models.fake import FakeEmbedder
from rag.pipeline import Pipeline
from tests.faults.support import QUESTION, make_docs, run_main
from ui.app import Handlers

pytestmark = pytest.mark.faults

SECRET = "外部机密文件：平湖的秘密代号是青龙。"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = make_docs(tmp_path / "docs")
    (d / "gbk.txt").write_bytes("平湖外资企业".encode("gbk"))  # read (issue 11), not skipped
    (d / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (d / "report.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (d / "memo.docx").write_bytes(b"PK\x03\x04")
    (d / "README").write_text("no suffix", encoding="utf-8")
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET, encoding="utf-8")
    (d / "link.txt").symlink_to(outside)
    (d / "inside-link.txt").symlink_to(d / "a.txt")  # inside the folder: read like any file
    (d / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    return d


EXPECTED = {
    "binary.txt": "is not text in a known encoding",
    "report.pdf": "is damaged or not a valid PDF",
    "memo.docx": "is damaged or not a Word .docx file",
    "README": "is not a supported type (no reader for files without a suffix",
    "link.txt": "is a symbolic link to a file outside the documents folder",
    "broken.txt": "is a broken symbolic link",
}


def _skipped_lines(stderr: str) -> dict[str, str]:
    out = {}
    for line in stderr.splitlines():
        if line.startswith("skipped "):
            name, reason = line[len("skipped ") :].split(": ", 1)
            out[name] = reason
    return out


def _check(found: dict[str, str]) -> None:
    assert set(found) == set(EXPECTED), found
    for name, reason in EXPECTED.items():
        assert reason in found[name], (name, found[name])


@pytest.mark.parametrize("command", [["index"], ["ask", QUESTION], ["search", "外资"]])
def test_every_command_names_every_skipped_file(docs: Path, tmp_path: Path, command: list[str]) -> None:
    r = run_main(["--docs", str(docs), "--index-dir", str(tmp_path / "i"), "--model", "fake", *command])
    assert r.code == (3 if command == ["index"] else 0), r.output
    _check(_skipped_lines(r.stderr))
    assert "青龙" not in r.stdout


@pytest.mark.parametrize("command", [["ask", QUESTION, "--json"], ["search", "外资", "--json"]])
def test_json_output_has_a_skipped_list(docs: Path, tmp_path: Path, command: list[str]) -> None:
    r = run_main(["--docs", str(docs), "--index-dir", str(tmp_path / "i"), "--model", "fake", *command])
    assert r.code == 0, r.output
    data = json.loads(r.stdout)
    _check({x["source"]: x["reason"] for x in data["skipped"]})


def test_the_page_shows_the_skipped_files(docs: Path, tmp_path: Path) -> None:
    p = Pipeline(Settings.load(env={}, docs_dir=docs, index_dir=tmp_path / "i", answerer="extractive"), embedder=FakeEmbedder())
    p.ensure_index()
    html = Handlers(p).status()
    assert "6 file(s) not indexed" in html
    for name, reason in EXPECTED.items():
        assert f"<code>{name}</code>" in html and reason.split(" (")[0] in html
    (docs / "<img src=x onerror=alert(1)>.pdf").write_bytes(b"%PDF")  # a file name is text too
    p.ensure_index()
    html = Handlers(p).status()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;.pdf" in html


def test_the_link_outside_is_followed_only_when_allowed(docs: Path, tmp_path: Path) -> None:
    base = ["--docs", str(docs), "--index-dir", str(tmp_path / "i"), "--model", "fake"]
    r = run_main([*base, "search", "秘密代号", "--json"])
    assert "青龙" not in r.stdout
    r = run_main([*base, "search", "秘密代号", "--json"], env={"RAG_FOLLOW_LINKS": "1"})
    assert r.code == 0, r.output
    assert "青龙" in json.loads(r.stdout)["hits"][0]["chunk"]["text"]
    assert "link.txt" not in _skipped_lines(r.stderr)


def test_a_linked_folder_outside_is_reported(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.txt").write_text(SECRET, encoding="utf-8")
    (docs / "linked").symlink_to(tmp_path / "elsewhere")
    (docs / "loop").symlink_to(docs)  # a link back inside: not walked twice
    scan = scan_documents(docs)
    assert [s.name for s in scan.sources] == ["a.txt", "b.txt"]
    assert [(p.source, p.reason.split(";")[0]) for p in scan.skipped] == [
        ("linked/", f"is a symbolic link to a folder outside the documents folder ({tmp_path / 'elsewhere'})")
    ]
    followed = scan_documents(docs, follow_links=True)
    assert [s.name for s in followed.sources] == ["a.txt", "b.txt", "linked/x.txt"]


def test_file_size_limit(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    (docs / "big.txt").write_text("平湖外资企业。" * 200_000, encoding="utf-8")  # 4.2 MB
    r = run_main(["--docs", str(docs), "--index-dir", str(tmp_path / "i"), "--model", "fake", "index"],
                 env={"RAG_MAX_FILE_MB": "1"})
    assert r.code == 3, r.output
    assert "skipped big.txt: is 4.0 MB, over the 1 MB limit (RAG_MAX_FILE_MB)" in r.stderr
    assert "2 files" in r.stdout


def test_chunks_per_file_limit(tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "docs")
    # Long enough for many chunks, short of the character pre-check: counted after chunking.
    (docs / "long.txt").write_text("".join(f"平湖第{i}家企业今年投产。\n" for i in range(400)), encoding="utf-8")
    base = ["--docs", str(docs), "--index-dir", str(tmp_path / "i"), "--model", "fake", "index"]
    r = run_main(base, env={"RAG_MAX_CHUNKS_PER_FILE": "20"})
    assert r.code == 3, r.output
    lines = _skipped_lines(r.stderr)
    assert lines["long.txt"].startswith("makes ") and "over the limit of 20 per file (RAG_MAX_CHUNKS_PER_FILE)" in lines["long.txt"]
    assert "2 files" in r.stdout
    # Far over the limit: refused before cleaning (the expensive part).
    r = run_main(base, env={"RAG_MAX_CHUNKS_PER_FILE": "2"})
    assert "characters, too many to index (RAG_MAX_CHUNKS_PER_FILE)" in _skipped_lines(r.stderr)["long.txt"]
    # Raising the limit is a settings change: the file is indexed.
    r = run_main(base)
    assert r.code == 0, r.output
    assert "limits changed" in r.stdout and "3 files" in r.stdout
