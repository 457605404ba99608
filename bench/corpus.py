"""Generated Chinese documents of a chosen size, for bench/bench_reliability.py
and the fault suite (tests/faults): distinct sentences, one per short line."""

from __future__ import annotations

from pathlib import Path

_PLACES = ("平湖", "嘉兴", "乍浦", "独山港", "当湖", "钟埭", "新埭", "林埭", "广陈", "曹桥")
_THINGS = ("产值", "外资", "税收", "出口额", "研发投入", "合同外资", "营业收入", "利润")


def sentence(i: int) -> str:
    """A distinct Chinese sentence for every i (about 30 characters)."""
    place, thing = _PLACES[i % len(_PLACES)], _THINGS[(i // len(_PLACES)) % len(_THINGS)]
    return f"{place}第{i}号测试企业在{2000 + i % 24}年实现{thing}{i * 7 % 9973}万元。"


def write_corpus(folder: Path, chunks: int, *, files: int = 20, chunk_size: int = 200) -> int:
    """Write about `chunks` chunks' worth of text into `files` files; return the sentence count."""
    folder.mkdir(parents=True, exist_ok=True)
    # Chunks of 200 characters overlap by whole sentences (<= 50 chars), so
    # each chunk adds about 150-170 new characters: ~5.5 sentences.
    n = int(chunks * (chunk_size - 40) / 30)
    per_file = -(-n // files)
    for f in range(files):
        # One sentence per line (short lines, like OCR output), 20 per paragraph.
        lines = [sentence(i) for i in range(f * per_file, min(n, (f + 1) * per_file))]
        paras = ["\n".join(lines[j : j + 20]) for j in range(0, len(lines), 20)]
        (folder / f"gen_{f:03d}.txt").write_text("\n\n".join(paras) + "\n", encoding="utf-8")
    return n
