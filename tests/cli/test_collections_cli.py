"""`rag collections`, `rag add`, `rag remove`, `rag sync` and `--collection`:
exit codes and output, with the fake embedder (fast)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rag.cli import EXIT_SKIPPED
from tests.cli.test_cli import invoke, run_main
from tests.docs_fixtures import CHROMIUM, make_docx, make_pdf

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RAG_SERVER_URL", "off")  # `rag ask` answers in-process, never via a server
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_ANSWERER", "extractive")  # `auto` would pick the local model where installed
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAG_EMBED_MODEL", "fake")
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "seeds-index"))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.txt").write_bytes("平湖共有日资企业114家，投资总额31亿美元。".encode("gbk"))
    make_docx(d / "b.docx", ["津上精密2022年实现产值43.5亿元。"], [["年份", "产值"], ["2022", "43.5亿元"]])
    return d


def test_add_list_ask_remove(files: Path, tmp_path: Path) -> None:
    r = invoke(["--collection", "t", "add", str(files / "a.txt"), str(files / "b.docx")])
    assert r.exit_code == 0, r.output
    assert "added a.txt (text)" in r.stdout and "added b.docx (docx)" in r.stdout
    assert "collection t: 2 documents" in r.stdout and "embedded" in r.stdout
    assert (tmp_path / "data" / "collections" / "t" / "docs" / "b.docx").is_file()

    r = invoke(["collections", "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["t"]["documents"] == 2 and rows["t"]["chunks"] >= 2 and rows["seeds"]["read_only"]
    r = invoke(["--collection", "t", "collections"])
    assert "* t " in r.stdout and "  seeds " in r.stdout

    r = invoke(["--collection", "t", "ask", "平湖有多少家日资企业？", "--json"])
    assert r.exit_code == 0, r.output
    cit = json.loads(r.stdout)["citations"][0]
    assert cit["source"] == "a.txt" and "114" in cit["quote"] and cit["page"] is None

    r = invoke(["remove", "--collection", "t", "a.txt"])
    assert r.exit_code == 0, r.output
    assert "removed a.txt" in r.stdout and "collection t: 1 documents" in r.stdout


def test_add_names_each_refused_file_and_exits_3(files: Path, tmp_path: Path) -> None:
    (files / "zero.pdf").write_bytes(b"")
    r = invoke(["--collection", "t", "add", str(files / "a.txt"), str(files / "zero.pdf"), str(tmp_path / "nope.docx")])
    assert r.exit_code == EXIT_SKIPPED, r.output
    assert "rejected zero.pdf: is empty (0 bytes)" in r.stderr
    assert "rejected nope.docx: does not exist" in r.stderr
    assert "added a.txt" in r.stdout


def test_remove_outside_and_seeds_and_bad_names(files: Path) -> None:
    invoke(["--collection", "t", "add", str(files / "a.txt")])
    r = invoke(["--collection", "t", "remove", "../../../etc/passwd"])
    assert r.exit_code == EXIT_SKIPPED
    assert "rejected ../../../etc/passwd: is not in collection t" in r.stderr
    r = run_main(["add", str(files / "a.txt")])
    assert r.code == 1 and r.stderr.startswith("error: the default collection 'seeds'")
    r = run_main(["--collection", "../x", "ask", "q"])
    assert r.code == 1 and "collection name '../x' is not valid" in r.stderr and "Traceback" not in r.stderr


def test_sync_a_folder(files: Path) -> None:
    r = invoke(["--collection", "s", "sync", str(files)])
    assert r.exit_code == 0, r.output
    assert "added a.txt" in r.stdout and "added b.docx" in r.stdout
    (files / "a.txt").unlink()
    r = invoke(["sync", "--collection", "s", str(files)])
    assert r.exit_code == 0, r.output
    assert "removed a.txt" in r.stdout and "unchanged b.docx" in r.stdout and "0 embedded" in r.stdout


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium to print a PDF")
def test_pdf_citation_names_the_page(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "r.pdf", [["第一页：平湖是浙江的外资大市。"], ["第二页：2022年平湖实际外资达到41414万美元。"]])
    assert invoke(["--collection", "p", "add", str(pdf)]).exit_code == 0
    r = invoke(["--collection", "p", "ask", "2022年平湖实际外资是多少？"])
    assert r.exit_code == 0, r.output
    assert "r.pdf · p. 2 ·" in r.stdout
    r = invoke(["--collection", "p", "search", "41414"])
    assert "r.pdf p. 2 [" in r.stdout
