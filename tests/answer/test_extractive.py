"""The extractive answerer on hand-made hits (no index, no model).

Every case is small enough to work out by hand: which sentence answers,
which passage it comes from, which `[n]` it carries and where the quote
sits in the passage and in the (pretend) original file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from rag.answer.extractive import ExtractiveAnswerer
from rag.config import REFUSAL_EN, REFUSAL_ZH
from rag.types import Chunk, Draft, Hit

pytestmark = pytest.mark.unit

# A pretend original file: the hand-made chunks below are slices of it, so
# `Citation.start/end` (the span in the original file) can be checked too.
FILE_TEXT = (
    "平湖外资报告\n"
    "2022年合同外资达到12亿美元，同比增长5%。合同外资主要来自日本和德国。\n"
    "2022年实际外资（部口径）达到41414万美元，同比增长10%。平湖位于浙江省东北部。\n"
    "今天天气晴朗，气温适宜，市民纷纷外出踏青。公园里游人如织。\n"
)


def chunk_of(snippet: str, *, source: str = "a.txt", article: int = 0, title: str = "平湖外资报告",
             date: str | None = "2023-03-01") -> Chunk:
    """A Chunk whose text is `snippet`, positioned where it is in FILE_TEXT."""
    start = FILE_TEXT.index(snippet)
    end = start + len(snippet)
    return Chunk(
        id=Chunk.make_id(source, article, snippet),
        source=source,
        article=article,
        title=title,
        date=date,
        start=start,
        end=end,
        text=snippet,
        orig_start=start,
        orig_end=end,
    )


CONTRACT = chunk_of("2022年合同外资达到12亿美元，同比增长5%。合同外资主要来自日本和德国。")
ACTUAL = chunk_of("2022年实际外资（部口径）达到41414万美元，同比增长10%。平湖位于浙江省东北部。")
WEATHER = chunk_of("今天天气晴朗，气温适宜，市民纷纷外出踏青。公园里游人如织。")

ACTUAL_SENTENCE = "2022年实际外资（部口径）达到41414万美元，同比增长10%。"
CONTRACT_SENTENCE = "2022年合同外资达到12亿美元，同比增长5%。"


def hits_of(*chunks: Chunk) -> list[Hit]:
    return [Hit(chunk=c, rank=i, score=1.0 / i) for i, c in enumerate(chunks, 1)]


@pytest.fixture
def answerer() -> ExtractiveAnswerer:
    return ExtractiveAnswerer(embedder=None)


def markers(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"\[(\d+)\]", text)]


def check_citations_consistent(ans: Draft, hits: Sequence[Hit]) -> None:
    """Invariants every non-refused answer must satisfy."""
    by_id = {h.chunk.id: h.chunk for h in hits}
    assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    assert sorted(set(markers(ans.text))) == [c.n for c in ans.citations]
    for c in ans.citations:
        chunk = by_id[c.chunk_id]
        assert c.passage == chunk.text
        assert c.quote == chunk.text[c.quote_start : c.quote_end]
        assert (c.start, c.end) == (chunk.orig_start, chunk.orig_end)
        assert FILE_TEXT[c.start : c.end] == c.passage
        assert FILE_TEXT[c.start + c.quote_start : c.start + c.quote_end] == c.quote
        assert (c.source, c.title, c.date) == (chunk.source, chunk.title, chunk.date)
        # The quote is in the answer right before its own marker.
        assert f"{c.quote}[{c.n}]" in ans.text


# ----------------------------------------------------------------- answers
def test_picks_the_sentence_with_the_asked_figure_over_a_distractor(answerer: ExtractiveAnswerer) -> None:
    # The distractor (合同外资, also 2022, also a quantity) is ranked first by retrieval.
    hits = hits_of(CONTRACT, ACTUAL)
    ans = answerer.answer("2022年实际外资是多少？", hits, "zh")

    assert ans.refused is False
    assert answerer.name == "extractive"
    assert ans.text == f"{ACTUAL_SENTENCE}[1]"
    assert len(ans.citations) == 1
    c = ans.citations[0]
    assert c.n == 1
    assert c.chunk_id == ACTUAL.id
    assert c.quote == ACTUAL_SENTENCE
    assert (c.quote_start, c.quote_end) == (0, len(ACTUAL_SENTENCE))
    assert c.start == FILE_TEXT.index(ACTUAL.text)
    assert c.date == "2023-03-01"
    assert ans.verification is not None and ans.verification.ok
    assert ans.verification.citations_checked == 1
    check_citations_consistent(ans, hits)


def test_the_distractor_question_gets_the_distractor(answerer: ExtractiveAnswerer) -> None:
    # Same hits, the other question: the choice follows the question, not the rank.
    hits = hits_of(ACTUAL, CONTRACT)
    ans = answerer.answer("2022年合同外资是多少？", hits, "zh")
    assert ans.refused is False
    assert ans.text == f"{CONTRACT_SENTENCE}[1]"
    assert [c.chunk_id for c in ans.citations] == [CONTRACT.id]
    check_citations_consistent(ans, hits)


def test_quote_offsets_inside_the_passage_when_a_long_sentence_is_trimmed() -> None:
    text = (
        "平湖坚持开放发展，持续优化营商环境，不断深化招商引资工作，"
        "2022年实际外资（部口径）达到41414万美元，同比增长10%，总量位居嘉兴市前列。"
    )
    file_text = "报告\n" + text + "\n"
    start = file_text.index(text)
    chunk = Chunk(id="long", source="b.txt", article=0, title="报告", date=None, start=start,
                  end=start + len(text), text=text, orig_start=start, orig_end=start + len(text))
    hits = hits_of(chunk)
    ans = ExtractiveAnswerer().answer("2022年实际外资是多少？", hits, "zh")

    assert not ans.refused
    (c,) = ans.citations
    assert len(text) > 60  # long enough to be trimmed to its clauses
    assert c.quote_start > 0  # the quote does not start at the sentence start...
    assert c.quote == text[c.quote_start : c.quote_end]  # ...but the offsets still point at it
    assert file_text[c.start + c.quote_start : c.start + c.quote_end] == c.quote
    assert "41414万美元" in c.quote
    assert "营商环境" not in c.quote
    assert ans.text == f"{c.quote}[1]"


def test_two_passages_are_numbered_in_answer_order(answerer: ExtractiveAnswerer) -> None:
    hits = hits_of(WEATHER, ACTUAL, CONTRACT)
    ans = answerer.answer("2022年实际外资和合同外资分别是多少？", hits, "zh")

    assert not ans.refused
    assert [c.n for c in ans.citations] == [1, 2]
    # Numbering follows the order in the answer, not the retrieval rank.
    first, second = ans.citations
    assert ans.text == f"{first.quote}[1]{second.quote}[2]"
    # 实际外资 (retrieval rank 2) answers best, so it comes first and is [1];
    # 合同外资 (rank 3) adds the other half of the question and is [2].
    assert (first.chunk_id, second.chunk_id) == (ACTUAL.id, CONTRACT.id)
    assert (first.quote, second.quote) == (ACTUAL_SENTENCE, CONTRACT_SENTENCE)
    assert markers(ans.text) == [1, 2]
    check_citations_consistent(ans, hits)


def test_two_sentences_of_one_passage_share_one_citation(answerer: ExtractiveAnswerer) -> None:
    text = "2022年实际外资达到41414万美元。2022年合同外资达到12亿美元。"
    chunk = Chunk(id="both", source="c.txt", article=0, title="t", date=None, start=0, end=len(text),
                  text=text, orig_start=0, orig_end=len(text))
    ans = answerer.answer("2022年实际外资和合同外资分别是多少？", hits_of(chunk), "zh")

    assert not ans.refused
    assert len(ans.citations) == 1 and ans.citations[0].n == 1
    assert markers(ans.text) == [1, 1]
    assert ans.text.replace("[1]", "") in (text, "2022年合同外资达到12亿美元。2022年实际外资达到41414万美元。")


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(("question", "lang", "refusal"), [
    ("2022年实际外资是多少？", "zh", REFUSAL_ZH),
    ("How much actual FDI was there in 2022?", "en", REFUSAL_EN),
])
def test_refuses_without_hits(answerer: ExtractiveAnswerer, question: str, lang: str, refusal: str) -> None:
    ans = answerer.answer(question, [], lang)  # type: ignore[arg-type]
    assert ans.refused is True
    assert ans.text == refusal
    assert ans.citations == ()


def test_refuses_when_the_hits_are_unrelated(answerer: ExtractiveAnswerer) -> None:
    hits = hits_of(WEATHER)
    ans = answerer.answer("2022年实际外资是多少？", hits, "zh")
    assert ans.refused is True
    assert ans.text == REFUSAL_ZH
    assert ans.citations == ()


def test_english_refusal_for_unrelated_hits(answerer: ExtractiveAnswerer) -> None:
    ans = answerer.answer("Who is the mayor of Pinghu?", hits_of(WEATHER, CONTRACT), "en")
    assert ans.refused is True
    assert ans.text == REFUSAL_EN
    assert ans.citations == ()


def test_refuses_when_only_a_distractor_was_retrieved(answerer: ExtractiveAnswerer) -> None:
    # 合同外资 is not 实际外资: the figure is there, the asked-for thing is not.
    ans = answerer.answer("2022年实际外资是多少？", hits_of(CONTRACT), "zh")
    assert ans.refused is True
    assert ans.text == REFUSAL_ZH


def test_refusal_threshold_setting_is_applied() -> None:
    q = "2022年实际外资是多少？"
    hits = hits_of(CONTRACT)
    best = ExtractiveAnswerer().rank_sentences(q, hits, "zh")[0]
    assert 0.0 < best.evidence < 0.35  # some support, less than the default threshold

    at = ExtractiveAnswerer(refusal_threshold=best.evidence).answer(q, hits, "zh")
    assert at.refused is False
    assert at.text == f"{CONTRACT_SENTENCE}[1]"
    above = ExtractiveAnswerer(refusal_threshold=best.evidence + 0.01)
    assert above.answer(q, hits, "zh").refused is True

    # A sentence with every question word, the year and a quantity has full evidence.
    strict = ExtractiveAnswerer(refusal_threshold=1.0)
    assert strict.answer(q, hits_of(CONTRACT, ACTUAL), "zh").text == f"{ACTUAL_SENTENCE}[1]"


# ----------------------------------------------------------------- English
def test_english_question_is_answered_with_the_chinese_quote(answerer: ExtractiveAnswerer) -> None:
    # The glossary maps "actual FDI" to 实际外资, so words alone find it.
    hits = hits_of(CONTRACT, ACTUAL)
    ans = answerer.answer("How much actual FDI was there in 2022?", hits, "en")

    assert ans.refused is False
    assert ans.text == f"{ACTUAL_SENTENCE}[1]"  # quoted verbatim, not translated
    assert [c.chunk_id for c in ans.citations] == [ACTUAL.id]
    check_citations_consistent(ans, hits)


class PointingEmbedder:
    """Embeds the question and any sentence holding `target` on one axis,
    everything else on another: a dense model that knows the answer."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.queries: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return [1.0, 0.0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] if self.target in t else [0.0, 1.0] for t in texts]


def test_english_question_without_shared_words_uses_the_dense_scores() -> None:
    hits = hits_of(WEATHER, CONTRACT, ACTUAL)
    q = "Tell me about the percentage by which the ministry's figure grew."
    emb = PointingEmbedder("41414")
    ans = ExtractiveAnswerer(embedder=emb).answer(q, hits, "en")

    assert emb.queries == [q]
    assert ans.refused is False
    assert ans.text == f"{ACTUAL_SENTENCE}[1]"
    assert [c.chunk_id for c in ans.citations] == [ACTUAL.id]

    # The same question without a dense model has nothing to go on.
    no_dense = ExtractiveAnswerer().answer(q, hits, "en")
    assert no_dense.refused is True and no_dense.text == REFUSAL_EN


def test_chinese_questions_do_not_consult_the_dense_model() -> None:
    emb = PointingEmbedder("天气")  # would point at the weather sentence
    ans = ExtractiveAnswerer(embedder=emb).answer(
        "2022年实际外资是多少？", hits_of(WEATHER, ACTUAL), "zh")
    assert emb.queries == []
    assert ans.text == f"{ACTUAL_SENTENCE}[1]"


def test_a_relative_year_in_a_later_article_does_not_answer_an_explicit_year(
    answerer: ExtractiveAnswerer,
) -> None:
    """去年 in a January 2024 article means 2023: ranked first, it still
    loses to the passage that states 2022, and only one sentence comes back."""
    text = "去年1至11月，全市完成实际外资4.8亿美元，同比增长16%。"
    last_year = Chunk(
        id=Chunk.make_id("b.txt", 0, text), source="b.txt", article=0, title="回望", date="2024-01-03",
        start=0, end=len(text), text=text, orig_start=0, orig_end=len(text),
    )
    hits = hits_of(last_year, ACTUAL)
    ans = answerer.answer("2022年实际外资是多少？", hits, "zh")
    assert "41414" in ans.text and "4.8亿" not in ans.text, ans.text
    assert [c.source for c in ans.citations] == ["a.txt"]
    # Asked about 2023, the same passage answers.
    ans = answerer.answer("2023年实际外资是多少？", hits, "zh")
    assert "4.8亿" in ans.text, ans.text


def test_an_asked_unit_must_be_in_the_answer(answerer: ExtractiveAnswerer) -> None:
    """多少美元 asks for an amount in dollars: 同比增长10% is no answer."""
    ans = answerer.answer("2022年实际外资（部口径）达到多少美元？", hits_of(ACTUAL), "zh")
    assert "41414万美元" in ans.text
