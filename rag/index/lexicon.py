"""Words for BM25 (jieba + a domain dictionary) and the English glossary:
the only module that imports jieba.

`Tokenizer.words(text)` returns the BM25 terms of a text: jieba's search
mode (whole words plus their sub-words, so 实际外资 also matches 外资),
with a domain dictionary (rag/data/userdict.txt: 实际外资, 部口径,
company and park names...) and stop words (rag/data/stopwords.txt)
removed. Latin words are lower-cased, full-width characters folded to
half-width, and punctuation dropped; numbers are kept whole ("41414").

jieba keeps a process-wide dictionary and caches it with marshal in the
temp folder; we use a private `jieba.Tokenizer` built straight from its
dictionary file, so nothing is loaded from a cache file on disk.

Left out: synonyms and English stemming (dense retrieval covers English
questions over Chinese text).
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from functools import cache
from importlib import resources
from typing import Any

from rag.text import CJK

_WORD = re.compile(rf"[\w{CJK}]")
_PROPER = frozenset({"nr", "ns", "nt", "nz"})


def _data(name: str) -> str:
    return resources.files("rag").joinpath("data", name).read_text(encoding="utf-8")


@cache
def resources_digest() -> str:
    """Digest of the dictionary and stop words: part of the index manifest."""
    h = hashlib.sha256()
    for name in ("userdict.txt", "stopwords.txt", "glossary_en_zh.tsv"):
        h.update(_data(name).encode())
    return h.hexdigest()[:16]


class Tokenizer:
    def __init__(self) -> None:
        self._jieba: Any = None
        self._posseg: Any = None
        self._lock = threading.RLock()
        self.stopwords = frozenset(w.strip() for w in _data("stopwords.txt").splitlines() if w.strip())

    def _tk(self) -> Any:
        with self._lock:
            if self._jieba is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tk = jieba.Tokenizer()
                # Build the prefix dictionary directly; skips jieba's marshal cache.
                with tk.get_dict_file() as f:
                    tk.FREQ, tk.total = tk.gen_pfdict(f)
                tk.initialized = True
                for line in _data("userdict.txt").splitlines():
                    parts = line.split()
                    if parts:
                        tk.add_word(
                            parts[0], int(parts[1]) if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None
                        )
                self._jieba = tk
            return self._jieba

    def words(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).lower()
        out = []
        for w in self._tk().cut_for_search(text):
            w = w.strip()
            if not w or not _WORD.search(w) or w in self.stopwords:
                continue
            out.append(w)
        return out

    def proper_nouns(self, text: str) -> list[str]:
        """Names in `text`: people, places, organisations and other proper
        nouns (jieba's nr/ns/nt/nz tags, the domain dictionary's nz) and
        Latin words written with capitals ("THOMAS", "Novares"), in order."""
        out: list[str] = []
        for i, pair in enumerate(self._pos().cut(unicodedata.normalize("NFKC", text))):
            w, flag = pair.word.strip(), pair.flag
            # A capitalised Latin word is a name unless it opens the question
            # ("How") or is a short acronym (FDI, GDP: terms, not names).
            latin_name = flag == "eng" and w[:1].isupper() and i > 0 and not (w.isupper() and len(w) <= 4)
            if (flag in _PROPER or latin_name) and len(w) > 1 and w not in out:
                out.append(w)
        return out

    def _pos(self) -> Any:
        """jieba's part-of-speech tagger over our dictionary, made once: it
        takes the user dictionary's tags only the first time it runs."""
        with self._lock:
            if self._posseg is None:
                import jieba.posseg

                self._posseg = jieba.posseg.POSTokenizer(self._tk())
            return self._posseg

    def query_words(self, text: str) -> list[str]:
        """Words of a question: its own words plus, for English phrases,
        the Chinese terms of the glossary (segmented like documents)."""
        rest, terms = default_glossary().translate(text)
        words = self.words(rest)
        for term in terms:
            words.extend(w for w in self.words(term) if w not in words)
        return words


class Glossary:
    """English phrases -> Chinese domain terms (rag/data/glossary_en_zh.tsv).

    A lexical bridge for English questions over Chinese text: "actual FDI"
    yields 实际外资, so BM25 and the answerer's word scoring work for
    English too. Longest match first; each phrase consumes its words.
    """

    def __init__(self, text: str | None = None) -> None:
        rows: list[tuple[str, list[str]]] = []
        for line in (text if text is not None else _data("glossary_en_zh.tsv")).splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            en, _, zh = line.partition("\t")
            if zh.strip():
                rows.append((en.strip().lower(), zh.split()))
        rows.sort(key=lambda r: -len(r[0]))
        self._rows = [(en, re.compile(r"(?<![\w-])" + re.escape(en) + r"(?![\w-])"), zh) for en, zh in rows]

    def translate(self, text: str) -> tuple[str, list[str]]:
        """(text with the matched phrases removed, their Chinese terms)."""
        rest, matches = self._match(text)
        return rest, list(dict.fromkeys(z for _, zh in matches for z in zh))

    def pairs(self, text: str) -> list[tuple[str, str]]:
        """(English phrase, its first Chinese term) for each phrase `text` uses."""
        return [(en, zh[0]) for en, zh in self._match(text)[1]]

    def _match(self, text: str) -> tuple[str, list[tuple[str, list[str]]]]:
        s = unicodedata.normalize("NFKC", text).lower()
        found: list[tuple[str, list[str]]] = []
        for en, pat, zh in self._rows:
            if pat.search(s):
                found.append((en, zh))
                s = pat.sub(" ", s)
        return s, found


@cache
def default_glossary() -> Glossary:
    return Glossary()


@cache
def default_tokenizer() -> Tokenizer:
    return Tokenizer()
