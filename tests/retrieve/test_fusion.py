"""BM25, fusion and tokenisation on small hand-worked cases."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rag.index.bm25 import BM25
from rag.index.lexicon import default_tokenizer
from rag.retrieve.fusion import rrf

pytestmark = pytest.mark.unit


def test_bm25_hand_worked(tmp_path: Path) -> None:
    # N=2, avgdl=2.5. Term "b": df=1, idf=ln(1 + (2-1+0.5)/(1+0.5)) = ln 2.
    # doc0 = [a, b] (len 2, tf 1): norm = 1 + 1.2*(1 - .75 + .75*2/2.5) = 2.02
    #   score = ln2 * 1 * 2.2 / 2.02
    bm = BM25.build([["a", "b"], ["a", "c", "c"]])
    s = bm.scores(["b"])
    assert s.keys() == {0}
    assert s[0] == pytest.approx(math.log(2) * 2.2 / 2.02)
    # "a" is in both documents: idf = ln(1 + 0.5/2.5) = ln 1.2, still positive.
    assert bm.idf("a") == pytest.approx(math.log(1.2))
    assert bm.top(["c"], 5)[0][0] == 1
    bm.save(tmp_path)
    assert BM25.load(tmp_path).scores(["a", "c"]) == pytest.approx(bm.scores(["a", "c"]))


def test_rrf_hand_worked() -> None:
    fused = rrf([["a", "b", "c"], ["c", "a"]], k=60)
    assert [x for x, _ in fused] == ["a", "c", "b"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2][1] == pytest.approx(1 / 62)


def test_rrf_weights_and_ties() -> None:
    assert [x for x, _ in rrf([["a"], ["b"]], k=60)] == ["a", "b"]  # tie: first seen
    assert [x for x, _ in rrf([["a"], ["b"]], k=60, weights=[1.0, 2.0])] == ["b", "a"]
    with pytest.raises(ValueError):
        rrf([["a"]], k=0)


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("2022年实际外资（部口径）达到41414万美元", "实际外资"),
        ("2022年实际外资（部口径）达到41414万美元", "部口径"),
        ("累计引进世界500强企业45家", "世界500强"),
        ("全市共有外资规上工业企业207家", "规上工业企业"),
        ("聚焦八大重点产业链开展产业链招商", "产业链"),
        ("平湖中日产业合作园连续两年排名第一", "中日产业合作园"),
        ("集聚了日本电产、津上精密等制造业龙头企业", "津上精密"),
    ],
)
def test_domain_terms_are_bm25_words(text: str, term: str) -> None:
    assert term in default_tokenizer().words(text)


def test_stop_words_and_punctuation_are_dropped_numbers_kept() -> None:
    words = default_tokenizer().words("平湖的实际外资是多少？ＡＢＢ 41414")
    assert "的" not in words and "多少" not in words and "？" not in words
    assert "abb" in words and "41414" in words


# ------------------------------------------------------ relative score fusion
def test_relative_score_fusion_worked_example() -> None:
    from rag.retrieve.fusion import relative_score_fusion

    dense = [("a", 0.90), ("b", 0.85), ("c", 0.80)]
    bm25 = [("c", 12.0), ("a", 3.0)]
    fused = relative_score_fusion([dense, bm25])
    assert [x for x, _ in fused] == ["a", "c", "b"]
    assert [round(s, 6) for _, s in fused] == [0.5, 0.5, 0.25]


def test_relative_score_fusion_keeps_a_clear_single_side_winner() -> None:
    """The case RRF loses: BM25 ranks x first by a wide margin, dense ranks
    it 4th; y is second on both sides."""
    from rag.retrieve.fusion import relative_score_fusion, rrf

    dense = [("z", 0.86), ("y", 0.84), ("w", 0.80), ("x", 0.75), ("v", 0.70)]
    bm25 = [("x", 16.8), ("y", 7.4), ("w", 7.2)]
    # RRF: y = 2/62 = 0.032258 beats x = 1/61 + 1/64 = 0.032018.
    assert rrf([[i for i, _ in dense], [i for i, _ in bm25]])[0][0] == "y"
    fused = dict(relative_score_fusion([dense, bm25]))
    # x: 0.5 * 0.05/0.16 + 0.5 * 1 = 0.65625; z: 0.5; y: 0.4375 + 0.5 * 0.2/9.6
    assert round(fused["x"], 5) == 0.65625
    assert round(fused["y"], 5) == 0.44792
    assert [k for k, _ in relative_score_fusion([dense, bm25])][:3] == ["x", "z", "y"]
