"""Collections with the fake embedder: adding (and refusing) files, safe
names, removing, syncing with a folder, listing; nothing written outside
the collection's folder; only new chunks embedded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.collections import (
    Progress,
    add_files,
    list_collections,
    list_documents,
    member,
    remove_files,
    safe_name,
    sync_folder,
)
from rag.config import Settings
from rag.errors import ConfigError, InputError
from rag.ingest.ocr import use_engine
from rag.ingest.ocr.fake import FakeOcr
from rag.models.fake import FakeEmbedder
from rag.pipeline import Pipeline
from tests.docs_fixtures import SEEDS, make_docx, make_html, text_image

pytestmark = pytest.mark.unit

TEXTS = {
    "a.txt": "平湖共有日资企业114家，投资总额31亿美元。",
    "b.txt": "2022年平湖实际外资达到41414万美元。",
    "c.txt": "津上精密2022年实现产值43.5亿元。",
    "d.txt": "截至2022年底，全市共有外资企业512家。",
    "e.txt": "今年一季度，平湖全市完成实际外资1.59亿美元。",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(env={}, docs_dir=SEEDS, index_dir=tmp_path / "seeds-index", data_dir=tmp_path / "data",
                         cache_dir=tmp_path / "cache", collection="t")


@pytest.fixture
def pipeline(settings: Settings) -> Pipeline:
    return Pipeline(settings, embedder=FakeEmbedder())


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for name, text in TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def no_ocr_text() -> Iterator[None]:
    old = use_engine(FakeOcr([]))
    yield
    use_engine(old)


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("given", "stored"), [
    ("报告 2022.pdf", "报告 2022.pdf"),
    ("../../etc/passwd.txt", "passwd.txt"),
    ("C:\\Users\\张三\\年报.docx", "年报.docx"),
    (".hidden.txt", "hidden.txt"),
    ("a<b>:c?.txt", "a_b__c_.txt"),
    ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
])
def test_safe_name(given: str, stored: str) -> None:
    assert safe_name(given) == stored


@pytest.mark.parametrize("bad", ["", "..", "/", "a/..", "..."])
def test_safe_name_refuses_nothing_left(bad: str) -> None:
    with pytest.raises(InputError):
        safe_name(bad)


def test_member_refuses_paths_outside(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (tmp_path / "outside.txt").write_text("x")
    os.symlink(tmp_path / "outside.txt", docs / "link.txt")
    assert member(docs, "a.txt") == (docs / "a.txt").resolve()
    for name in ("../outside.txt", "/etc/passwd", "link.txt", "."):
        with pytest.raises(InputError, match="outside the collection's folder"):
            member(docs, name)


def test_collection_names_are_validated(tmp_path: Path) -> None:
    for bad in ("../x", "a b", ".x", "-x", "a/b", "x" * 65):
        with pytest.raises(ConfigError, match="collection name"):
            Settings.load(env={}, collection=bad)
    assert Settings.load(env={"RAG_COLLECTION": "报告_2023"}).collection == "报告_2023"


def test_add_then_add_one_more_embeds_only_the_new_chunks(pipeline: Pipeline, src: Path, tmp_path: Path) -> None:
    emb = pipeline.embedder
    assert isinstance(emb, FakeEmbedder)
    first = add_files(pipeline, sorted(src.glob("*.txt")))
    assert [f.action for f in first.files] == ["added"] * 5
    assert first.build is not None and first.build.files == 5
    embedded_before = sum(emb.calls)
    new = tmp_path / "f.txt"
    new.write_text("平湖的区域两化融合指数已达114.29。居嘉兴第3位。", encoding="utf-8")
    second = add_files(pipeline, [new])
    assert second.build is not None
    new_chunks = next(d.chunks for d in list_documents(pipeline.settings) if d.name == "f.txt")
    assert new_chunks and second.build.embedded == new_chunks == sum(emb.calls) - embedded_before
    assert second.build.reused == first.build.chunks
    # Adding the same file again changes nothing.
    third = add_files(pipeline, [new])
    assert [f.action for f in third.files] == ["unchanged"] and third.build is not None and third.build.embedded == 0


def test_bad_files_are_refused_by_name_and_nothing_is_lost(
    pipeline: Pipeline, src: Path, tmp_path: Path, no_ocr_text: None
) -> None:
    import pypdf

    add_files(pipeline, [src / "a.txt"])
    before = pipeline.index.chunks
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "zero.txt").write_bytes(b"")
    (bad / "big.txt").write_bytes(b"x" * 2_000_000)
    (bad / "table.xlsx").write_bytes(b"PK\x03\x04")
    (bad / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<")
    w = pypdf.PdfWriter()
    w.add_blank_page(100, 100)
    w.encrypt("pw")
    with (bad / "secret.pdf").open("wb") as f:
        w.write(f)
    text_image("").save(bad / "blank.png")  # type: ignore[attr-defined]
    s = pipeline.settings.with_(max_upload_mb=1.0)
    p = Pipeline(s, embedder=pipeline.embedder)
    paths = [bad / n for n in ("zero.txt", "big.txt", "table.xlsx", "broken.pdf", "secret.pdf", "blank.png")]
    report = add_files(p, [*paths, bad / "missing.txt"])
    reasons = {f.name: f.reason for f in report.rejected}
    assert reasons == {
        "zero.txt": "is empty (0 bytes)",
        "big.txt": "is 1.9 MB; the limit is 1 MB (RAG_MAX_UPLOAD_MB)",
        "table.xlsx": "has an unsupported type (.xlsx)",
        "broken.pdf": reasons["broken.pdf"],
        "secret.pdf": "is encrypted (password-protected); save it without a password and add it again",
        "blank.png": "has no text that OCR could read",
        "missing.txt": "does not exist",
    }
    assert reasons["broken.pdf"].startswith("is damaged or not a valid PDF")
    assert report.build is None  # nothing changed, nothing rebuilt
    docs_dir = s.collection_dirs()[0]
    assert files_under(docs_dir) == {"a.txt"}
    p.ensure_index()
    assert [c.id for c in p.index.chunks] == [c.id for c in before]


def test_odd_names_are_stored_sanitised_inside_the_collection(pipeline: Pipeline, src: Path, tmp_path: Path) -> None:
    outside_before = files_under(tmp_path) - files_under(tmp_path / "data") if (tmp_path / "data").exists() else files_under(tmp_path)
    given = ["报告 2022 年.txt", "../../../escape.txt", "C:\\tmp\\win.txt"]
    seen: list[Progress] = []
    report = add_files(pipeline, [src / "a.txt", src / "b.txt", src / "c.txt"], names=given, progress=seen.append)
    assert [(f.name, f.given) for f in report.files] == [
        ("报告 2022 年.txt", None), ("escape.txt", "../../../escape.txt"), ("win.txt", "C:\\tmp\\win.txt")]
    docs_dir = pipeline.settings.collection_dirs()[0]
    assert files_under(docs_dir) == {"报告 2022 年.txt", "escape.txt", "win.txt"}
    # Nothing was written outside the data folder (and the extraction cache).
    outside_after = {f for f in files_under(tmp_path) if not f.startswith(("data/", "cache/"))}
    assert outside_after == outside_before
    assert not any(p.name.startswith(".upload-") for p in docs_dir.iterdir())  # no temp files left
    done = [e for e in seen if e.stage == "done"]
    assert {e.name for e in done} == {"报告 2022 年.txt", "escape.txt", "win.txt"} and all(e.fraction == 1.0 for e in done)


def test_remove_and_remove_the_last(pipeline: Pipeline, src: Path) -> None:
    add_files(pipeline, [src / "a.txt", src / "b.txt"])
    report = remove_files(pipeline, ["a.txt", "../../x.txt", "nope.txt"])
    assert [(f.name, f.action) for f in report.files] == [
        ("a.txt", "removed"), ("../../x.txt", "rejected"), ("nope.txt", "rejected")]
    assert {c.source for c in pipeline.index.chunks} == {"b.txt"}
    remove_files(pipeline, ["b.txt"])
    assert list_documents(pipeline.settings) == []
    info = {i.name: i for i in list_collections(pipeline.settings)}["t"]
    assert (info.documents, info.chunks) == (0, None)


def test_sync_adds_changes_and_deletes(pipeline: Pipeline, src: Path) -> None:
    (src / "sub").mkdir()
    (src / "sub" / "g.txt").write_text("平湖经济技术开发区外资企业超过300家。", encoding="utf-8")
    first = sync_folder(pipeline, src)
    assert sorted(f.name for f in first.files if f.action == "added") == [*sorted(TEXTS), "sub/g.txt"]
    (src / "a.txt").write_text("平湖共有日资企业115家。", encoding="utf-8")
    (src / "b.txt").unlink()
    (src / "h.txt").write_text("新批外资项目86个。", encoding="utf-8")
    second = sync_folder(pipeline, src)
    actions = {f.name: f.action for f in second.files}
    assert actions == {"a.txt": "replaced", "c.txt": "unchanged", "d.txt": "unchanged", "e.txt": "unchanged",
                       "h.txt": "added", "sub/g.txt": "unchanged", "b.txt": "removed"}
    assert second.build is not None and second.build.embedded == 2  # the changed and the new file
    assert {d.name for d in list_documents(pipeline.settings)} == {"a.txt", "c.txt", "d.txt", "e.txt", "h.txt", "sub/g.txt"}
    assert "115家" in " ".join(c.text for c in pipeline.index.chunks)
    with pytest.raises(InputError, match="is not a folder"):
        sync_folder(pipeline, src / "a.txt")


def test_the_default_collection_is_not_changed(tmp_path: Path, src: Path) -> None:
    s = Settings.load(env={}, docs_dir=SEEDS, index_dir=tmp_path / "index", data_dir=tmp_path / "data")
    p = Pipeline(s, embedder=FakeEmbedder())
    for call in (lambda: add_files(p, [src / "a.txt"]), lambda: remove_files(p, ["000_1456ab72d246df34.txt"]),
                 lambda: sync_folder(p, src)):
        with pytest.raises(InputError, match="default collection 'seeds'"):
            call()


def test_list_documents_and_collections(pipeline: Pipeline, tmp_path: Path) -> None:
    make_docx(tmp_path / "w.docx", ["平湖共有日资企业114家。"], [["国别", "企业数"], ["日本", "114"]])
    make_html(tmp_path / "p.html", "平湖外资", ["截至2022年底，全市共有外资企业512家。"])
    add_files(pipeline, [tmp_path / "w.docx", tmp_path / "p.html"])
    docs = {d.name: d for d in list_documents(pipeline.settings)}
    assert (docs["w.docx"].kind, docs["w.docx"].status) == ("docx", "indexed")
    assert docs["p.html"].chunks and docs["p.html"].chunks >= 1
    names = [i.name for i in list_collections(pipeline.settings)]
    assert names == ["seeds", "t"]


def test_link_makes_a_hard_link_not_a_copy(pipeline: Pipeline, src: Path) -> None:
    (src / "a.txt").chmod(0o600)
    report = add_files(pipeline, [src / "a.txt"], link=True)
    assert [f.action for f in report.files] == ["added"] and report.files[0].notes == ()
    stored = pipeline.settings.collection_dirs()[0] / "a.txt"
    assert stored.stat().st_ino == (src / "a.txt").stat().st_ino and not stored.is_symlink()
    assert (src / "a.txt").stat().st_mode & 0o777 == 0o600  # the original's mode is untouched
