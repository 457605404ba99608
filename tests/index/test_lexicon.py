"""rag/index/lexicon.py: the glossary file parses, matches longest phrase
first, and its corpus sections name only what the default corpus writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.index.lexicon import Glossary, default_glossary

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "rag" / "data" / "glossary_en_zh.tsv"


def test_every_line_parses_into_a_phrase_and_chinese_terms() -> None:
    rows = [line for line in GLOSSARY.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    for line in rows:
        en, _, zh = line.partition("\t")
        assert en.strip() and zh.strip(), line
        assert not re.search(r"[\u4e00-\u9fff]", en), line  # English side
    phrases = [line.partition("\t")[0].strip().lower() for line in rows]
    assert len(phrases) == len(set(phrases)), "a phrase is listed twice"


def test_the_corpus_sections_only_name_what_the_seeds_write() -> None:
    """The names, people and extra terms were added for the default corpus:
    each Chinese term must occur in it (line breaks and OCR spaces removed),
    so the translator is never told a rendering the documents do not use."""
    seeds = "".join("".join(p.read_text(encoding="utf-8").split()) for p in sorted((ROOT / "seeds").glob("*.txt")))
    text = GLOSSARY.read_text(encoding="utf-8")
    corpus_part = text[text.index("# Names in the default corpus") :]
    missing = [
        term
        for line in corpus_part.splitlines()
        if line.strip() and not line.startswith("#")
        for term in line.partition("\t")[2].split()
        if term not in seeds
    ]
    assert missing == []


def test_longest_phrase_wins_and_names_translate() -> None:
    g = Glossary(
        "economic development zone\t经济技术开发区 经开\ndevelopment zone\t开发区\ntsugami precision\t津上精密\ntsugami\t津上\n"
    )
    assert sorted(g.pairs("Tsugami Precision in the Economic Development Zone")) == [
        ("economic development zone", "经济技术开发区"), ("tsugami precision", "津上精密"),
    ]
    assert ("nidec", "日本电产") in default_glossary().pairs("What does Nidec make in Pinghu?")
