"""ChunkTable: chunks.jsonl rows found with numpy, parsed on demand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.index.chunktable import ChunkTable
from rag.types import Chunk

pytestmark = pytest.mark.unit


def _chunk(i: int, text: str) -> Chunk:
    return Chunk(source=f"f{i}.txt", article=0, title="题", date=None, id=f"{i:016x}", start=0, end=len(text),
                 text=text, orig_start=3, orig_end=3 + len(text))


def _line(c: Chunk) -> str:
    return json.dumps(c.to_dict(), ensure_ascii=False)


def test_rows_are_the_lines_in_order(tmp_path: Path) -> None:
    chunks = [_chunk(0, "平湖实际外资41414万美元。"), _chunk(1, "日资企业114家"), _chunk(2, "x\ny")]
    path = tmp_path / "chunks.jsonl"
    path.write_text("".join(_line(c) + "\n" for c in chunks), encoding="utf-8")
    table = ChunkTable.open(path)
    assert len(table) == 3
    assert table[0] == chunks[0] and table[2].text == "x\ny"  # a newline inside JSON is escaped
    assert table[-1] == chunks[2]
    assert table[1:] == chunks[1:]
    assert list(table) == chunks
    assert table.index(chunks[1]) == 1  # Sequence's mixins work


def test_blank_lines_and_a_missing_final_newline() -> None:
    # Worked example: b'{..a..}\n\n   \n{..b..}' has 4 lines, 2 of them rows.
    a, b = _chunk(0, "a"), _chunk(1, "b")
    table = ChunkTable.from_bytes(f"{_line(a)}\n\n   \n{_line(b)}".encode())
    assert len(table) == 2
    assert [c.text for c in table] == ["a", "b"]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "chunks.jsonl"
    path.write_bytes(b"")
    table = ChunkTable.open(path)
    assert len(table) == 0 and list(table) == []
    with pytest.raises(IndexError):
        table[0]


def test_out_of_range_and_malformed_rows() -> None:
    table = ChunkTable.from_bytes(f'{_line(_chunk(0, "a"))}\n{{"source": 1\n'.encode())
    with pytest.raises(IndexError, match="row 5 out of range"):
        table[5]
    with pytest.raises(ValueError, match="chunk row 1 is malformed"):
        table[1]


def test_repeated_rows_come_from_the_cache() -> None:
    table = ChunkTable.from_bytes(f'{_line(_chunk(0, "a"))}\n'.encode())
    assert table[0] is table[0]


def test_line_ends_found_across_scan_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The newline scan runs in blocks; rows that straddle a block edge
    (7 bytes here) come out whole."""
    import rag.index.chunktable as ct

    monkeypatch.setattr(ct, "_BLOCK", 7)
    chunks = [_chunk(i, "外资" * i) for i in range(5)]
    table = ChunkTable.from_bytes("".join(_line(c) + "\n" for c in chunks).encode())
    assert list(table) == chunks
