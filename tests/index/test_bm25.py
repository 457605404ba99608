"""BM25 on bm25s gives the same scores as the textbook formula: a worked
example by hand, then the seeds' chunks against a small reference
implementation (the hand-written BM25 this replaced, reduced to a function)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.index.bm25 import BM25
from rag.index.build import IndexSpec, build_index
from rag.index.lexicon import default_tokenizer
from rag.models.fake import FakeEmbedder

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def reference_scores(docs: Sequence[Sequence[str]], query: Sequence[str], k1: float = 1.2, b: float = 0.75
                     ) -> dict[int, float]:
    """Okapi BM25 with the Lucene idf, term by term, as rag/index/bm25.py documents it."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    tfs = [Counter(d) for d in docs]
    out: dict[int, float] = {}
    for t in query:
        df = sum(1 for tf in tfs if t in tf)
        if df == 0:
            continue
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        for i, tf in enumerate(tfs):
            if t in tf:
                norm = tf[t] + k1 * (1 - b + b * len(docs[i]) / avgdl)
                out[i] = out.get(i, 0.0) + idf * tf[t] * (k1 + 1) / norm
    return out


DOCS = [["外资", "增长"], ["外资", "外资", "企业"], ["企业"]]


def test_worked_example() -> None:
    # N = 3, lengths 2, 3, 1, avgdl = 2; df(外资) = 2, so
    # idf = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6 = 0.4700036...
    # d0: tf 1, |d| = avgdl      -> idf * 1 * 2.2 / (1 + 1.2 * 1)              = idf
    # d1: tf 2, |d| = 1.5 avgdl  -> idf * 2 * 2.2 / (2 + 1.2 * (0.25 + 1.125)) = idf * 4.4 / 3.65
    bm = BM25.build(DOCS)
    idf = math.log(1.6)
    got = bm.scores(["外资"])
    assert got.keys() == {0, 1}
    assert got[0] == pytest.approx(idf, abs=1e-12)
    assert got[1] == pytest.approx(idf * 4.4 / 3.65, abs=1e-12)
    assert bm.top(["外资"], 5) == [(1, got[1]), (0, got[0])]
    # a repeated query word counts twice; unknown words and no words find nothing
    assert bm.scores(["外资", "外资"])[0] == pytest.approx(2 * idf, abs=1e-12)
    assert bm.top(["没有"], 5) == [] and bm.top([], 5) == []
    # idf for the answerer: df 2 of 3; an unseen word has df 0
    assert bm.idf("外资") == pytest.approx(idf, abs=1e-12)
    assert bm.idf("没有") == pytest.approx(math.log(1 + 3.5 / 0.5), abs=1e-12)


def test_ties_keep_row_order_and_k_cuts() -> None:
    bm = BM25.build([["a"], ["b"], ["a"], ["a"]])
    assert [i for i, _ in bm.top(["a"], 2)] == [0, 2]
    assert [i for i, _ in bm.top(["a"], 9)] == [0, 2, 3]


def test_no_words_at_all() -> None:
    bm = BM25.build([[], []])
    assert bm.n_docs == 2 and bm.top(["a"], 3) == [] and bm.top([""], 3) == []


def test_saved_without_pickle_and_memory_mapped(tmp_path: Path) -> None:
    bm = BM25.build(DOCS)
    assert bm.save(tmp_path) == ["bm25"]
    for p in (tmp_path / "bm25").glob("*.npy"):
        np.load(p, allow_pickle=False)
    loaded = BM25.load(tmp_path)
    assert isinstance(loaded._model.scores["data"], np.memmap)
    assert loaded.n_docs == 3 and loaded.top(["外资"], 5) == bm.top(["外资"], 5)
    with pytest.raises(ValueError, match="holds no BM25 index"):
        BM25.load(tmp_path / "nowhere")


def test_seeds_match_the_reference(tmp_path: Path) -> None:
    """Every chunk of the seeds, the dev questions' words: same scores to 1e-6."""
    index, _ = build_index(IndexSpec(ROOT / "seeds", tmp_path / "index"), FakeEmbedder(), model="fake")
    with (index.path / "tokens.jsonl").open(encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    tok = default_tokenizer()
    questions = [json.loads(line)["question"] for line in (ROOT / "evals" / "dev.jsonl").open(encoding="utf-8")]
    assert len(docs) > 100 and len(questions) > 10
    for q in questions:
        words = tok.query_words(q)
        ref = reference_scores(docs, words)
        got = index.bm25.scores(words)
        assert got.keys() == ref.keys(), q
        assert max((abs(got[i] - ref[i]) for i in ref), default=0.0) < 1e-6, q
        top = index.bm25.top(words, 10)
        assert [i for i, _ in top] == [i for i, _ in sorted(ref.items(), key=lambda x: (-x[1], x[0]))[:10]]
