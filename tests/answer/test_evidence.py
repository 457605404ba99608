"""rag/answer/evidence.py: the sentences the generative reader is given,
and what a cited one is checked against. Hand-worked chunks of one article."""

from __future__ import annotations

import pytest

from rag.answer.checks import consistency_failures
from rag.answer.evidence import BACK_CHARS, select_evidence
from rag.answer.question import analyse
from rag.text import sentence_spans
from rag.types import Chunk, Hit

pytestmark = pytest.mark.unit

ARTICLE = (
    "今年春节期间，项目也没有摁下暂停键。"  # 0
    "年后，湛新项目工地现场工人增至400多人。"  # 18
    "项目现场负责人尹海涛说，复工之后他们一手抓疫情防控。"  # 38
)


def chunk(text: str, start: int, article: int = 0, source: str = "a.txt") -> Chunk:
    return Chunk(id=f"{source}{article}{start}", source=source, article=article, title="招商战场战鼓擂",
                 date="2022-05-10", start=start, end=start + len(text), text=text,
                 orig_start=start, orig_end=start + len(text))


def ranked_all(hits: list[Hit]) -> list[tuple[int, int, int]]:
    return [(i, s, e) for i, h in enumerate(hits) for s, e in sentence_spans(h.chunk.text)]


def test_a_sentence_is_checked_with_the_article_sentences_shown_just_before_it() -> None:
    # Two chunks: the name is only in the first one.
    first, second = ARTICLE[:38], ARTICLE[38:]
    hits = [Hit(chunk(second, 38), 1, 1.0), Hit(chunk(first, 0), 2, 0.9)]
    ev = select_evidence(hits, ranked_all(hits), budget=400)
    texts = [s.text for s in ev.sentences]
    assert len(texts) == 3 and "春节" in texts[0] and "湛新" in texts[1] and "尹海涛" in texts[2]  # reading order, once each
    leader = ev.sentences[2]
    assert "湛新" not in leader.cited(hits).passage  # its own chunk starts after the name ...
    assert "湛新" in ev.cited(leader).passage  # ... which the model read just before it
    facts = analyse("湛新项目的现场负责人是谁？")
    assert consistency_failures(facts, [leader.cited(hits)]) == ["the sentences do not mention 湛新"]
    assert consistency_failures(facts, [ev.cited(leader)]) == []


def test_only_the_same_article_and_only_just_before_count() -> None:
    early = "湛新项目开工。"
    late = "项目现场负责人尹海涛说，复工了。"
    other = "湛新项目在另一篇文章里。"
    hits = [
        Hit(chunk(late, BACK_CHARS + 50), 1, 1.0),  # the same article, far after the name
        Hit(chunk(early, 0), 2, 0.9),
        Hit(chunk(other, 0, article=1), 3, 0.8),  # another article, shown first
    ]
    ev = select_evidence(hits, ranked_all(hits), budget=400)
    leader = next(s for s in ev.sentences if "尹海涛" in s.text)
    assert any("开工" in s.text for s in ev.sentences) and any("另一篇" in s.text for s in ev.sentences)
    assert "湛新" not in ev.cited(leader).passage
