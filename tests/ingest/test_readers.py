"""The reader seam: the reader for a suffix, and the plain-text reader's
answers for good and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingest import list_sources, read_source
from rag.ingest.readers import SUFFIXES, reader_for
from rag.ingest.readers.text import TextReader

pytestmark = pytest.mark.unit


def test_readers_by_suffix() -> None:
    assert isinstance(reader_for(Path("a.TXT")), TextReader)
    assert isinstance(reader_for(Path("notes.md")), TextReader)
    assert reader_for(Path("image.bmp")) is None
    assert {".txt", ".md"} <= set(SUFFIXES)


def test_text_reader_utf8_with_bom(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes("\ufeff平湖外资".encode())
    assert TextReader().read(p).text == "平湖外资"


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "is empty"), (b"  \n", "is empty"), (bytes(range(256)) * 4, "is not text in a known encoding (not UTF-8 from byte 128")],
)
def test_text_reader_says_why_it_cannot_read(tmp_path: Path, content: bytes, reason: str) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes(content)
    with pytest.raises(DocumentError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        TextReader().read(p)
    text, why = read_source(p)
    assert text is None and why is not None and reason in why


def test_list_sources_skips_hidden_and_unreadable_types(tmp_path: Path) -> None:
    for name in ("a.txt", "b.md", ".hidden.txt", "c.bin", "sub/d.txt", ".git/e.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.relative_to(tmp_path).as_posix() for p in list_sources(tmp_path)] == ["a.txt", "b.md", "sub/d.txt"]
