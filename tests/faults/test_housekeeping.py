"""Issue 14, case 1 (data loss): housekeeping touches only what the product made.

Before: a build deleted every `build-*` folder inside --index-dir, so
`rag --docs D --index-dir P index` removed the user's P/build-scripts/, and
--index-dir equal to the documents folder deleted its build-2023/ folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import ConfigError, IndexNotReadyError
from rag.index import layout
from rag.index.layout import MARKER, MARKER_TEXT, check_index_dir, is_build, remove_other_builds
from rag.index.manifest import FORMAT_VERSION
from tests.faults.support import QUESTION, live, make_docs, one_line_error, run_main

pytestmark = pytest.mark.faults


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return make_docs(tmp_path / "docs")


def args(docs: Path, index: Path) -> list[str]:
    return ["--docs", str(docs), "--index-dir", str(index), "--model", "fake"]


def test_user_folders_named_build_survive_builds_and_rebuilds(tmp_path: Path, docs: Path) -> None:
    index = tmp_path / "P"
    (index / "build-scripts").mkdir(parents=True)
    (index / "build-scripts" / "deploy.sh").write_text("echo deploy\n", encoding="utf-8")
    (index / "build-2023").mkdir()
    (index / "build-2023" / "manifest.json").write_text("{}", encoding="utf-8")  # even with a manifest
    for extra in ([], ["--rebuild"], ["--rebuild"]):
        r = run_main([*args(docs, index), "index", *extra])
        assert r.code == 0, r.output
    assert (index / "build-scripts" / "deploy.sh").read_text(encoding="utf-8") == "echo deploy\n"
    assert (index / "build-2023" / "manifest.json").exists()
    builds = [p for p in index.iterdir() if is_build(p)]
    assert builds == [live(index)]  # the product's old builds are gone, only its own


@pytest.mark.parametrize("where", ["same", "inside"])
def test_index_folder_may_not_be_the_documents_folder_or_inside_it(tmp_path: Path, docs: Path, where: str) -> None:
    (docs / "build-2023").mkdir()
    (docs / "build-2023" / "notes.txt").write_text("二〇二三年的笔记。", encoding="utf-8")
    index = docs if where == "same" else docs / "sub" / "index"
    for command in (["index"], ["index", "--rebuild"], ["ask", QUESTION]):
        r = run_main([*args(docs, index), *command])
        one_line_error(r, "is inside the documents folder", "--index-dir")
    assert (docs / "build-2023" / "notes.txt").exists()
    assert not (docs / "CURRENT").exists() and not (docs / "sub").exists()


def test_index_folder_that_is_a_file(tmp_path: Path, docs: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder", encoding="utf-8")
    r = run_main([*args(docs, afile), "index"])
    one_line_error(r, f"the index folder {afile} is a file")
    r = run_main([*args(docs, afile / "below"), "index"])  # a folder below a file
    one_line_error(r, "cannot create the index folder")
    assert afile.read_text(encoding="utf-8") == "not a folder"


def test_half_written_build_is_cleaned_but_unmarked_folders_are_not(tmp_path: Path, docs: Path) -> None:
    index = tmp_path / "index"
    assert run_main([*args(docs, index), "index"]).code == 0
    crashed = layout.new_build_dir(index)  # what a crash mid-build leaves: a marker, no manifest
    (crashed / "chunks.jsonl").write_text("half", encoding="utf-8")
    fake_marker = index / "build-lookalike"
    fake_marker.mkdir()
    (fake_marker / MARKER).write_text("something else\n", encoding="utf-8")
    (index / "a-file-named-build-x").write_text("x", encoding="utf-8")
    assert run_main([*args(docs, index), "index", "--rebuild"]).code == 0
    assert not crashed.exists()
    assert fake_marker.exists() and (index / "a-file-named-build-x").exists()


def test_a_build_made_before_markers_is_replaced(tmp_path: Path, docs: Path) -> None:
    """An index from before format 3 has no marker: CURRENT named it, so it goes."""
    index = tmp_path / "index"
    old = index / "build-20230101-000000-1-1"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text('{"format_version": 2}', encoding="utf-8")
    (index / "CURRENT").write_text(old.name + "\n", encoding="utf-8")
    r = run_main([*args(docs, index), "index"])
    assert r.code == 0, r.output
    assert f"has format 2; this version reads {FORMAT_VERSION}" in r.stdout
    assert not old.exists()


def test_layout_rules(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    check_index_dir(tmp_path / "index", docs)  # a sibling is fine
    check_index_dir(tmp_path, docs)  # a parent is fine too: only marked folders are touched
    with pytest.raises(ConfigError, match="inside the documents folder"):
        check_index_dir(docs / ".." / "docs" / "x", docs)
    link = tmp_path / "link"
    link.symlink_to(docs)
    with pytest.raises(ConfigError, match="inside the documents folder"):
        check_index_dir(link / "index", docs)

    b = tmp_path / "b"
    b.mkdir()
    (b / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    assert remove_other_builds(tmp_path, keep=keep) == [b]
    with pytest.raises(IndexNotReadyError, match="holds no complete build"):
        (tmp_path / "CURRENT").write_text("keep\n", encoding="utf-8")
        layout.live_build(tmp_path)
