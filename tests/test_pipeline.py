"""The pipeline's policies with the real index code and fakes for the
models: answer assembly, streaming, the llm fallback, questions refused at
the door, forced rebuilds, and the reranker seam."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from rag.config import Settings
from rag.errors import ConfigError, InputError
from rag.models.fake import FakeEmbedder
from rag.pipeline import Pipeline
from rag.types import AnswerStream, Hit

pytestmark = pytest.mark.unit

Q = "2022年平湖实际外资是多少？"


def test_ask_assembles_the_answer_from_the_draft(fake_pipeline: Pipeline) -> None:
    ans = fake_pipeline.ask(Q, k=3)
    assert ans.question == Q and ans.lang == "zh" and ans.answerer == "extractive" and ans.mode == "hybrid"
    assert len(ans.hits) == 3 and [h.rank for h in ans.hits] == [1, 2, 3]
    assert {"bm25", "answer", "total"} <= ans.timings_ms.keys()
    assert ans.notice is None
    if not ans.refused:
        assert {c.chunk_id for c in ans.citations} <= {h.chunk.id for h in ans.hits}


def test_stream_yields_generated_text_then_the_answer(fake_settings: Settings) -> None:
    # The reader answers in JSON; the fake streams it word by word, and
    # cites every sentence it was given (the pipeline keeps the supporting one).
    reply = '{"found": true, "answer": "2022年 实际外资（部口径） 达到 41414万美元", "sentences": [1, 2, 3, 4, 5, 6, 7, 8]}'
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    p = Pipeline(fake_settings, embedder=FakeEmbedder(), chat_model=model)
    p.ensure_index()
    stream = p.stream("2022年实际外资（部口径）达到多少？", answerer="llm")
    assert isinstance(stream, AnswerStream)
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == "2022年 实际外资（部口径） 达到 41414万美元"
    ans = stream.answer()
    assert ans.answerer == "llm" and not ans.refused, ans
    assert ans.text.startswith("2022年 实际外资（部口径） 达到 41414万美元[1]")
    assert all("41414万美元" in c.quote for c in ans.citations)


def test_llm_unavailable_falls_back_with_a_notice(fake_pipeline: Pipeline) -> None:
    p = Pipeline(fake_pipeline.settings.with_(llm_backend="openai"), embedder=FakeEmbedder())
    available, why = p.llm_status()
    assert not available and "RAG_OPENAI_BASE_URL" in why
    ans = p.ask(Q, answerer="llm")
    assert ans.answerer == "extractive"
    assert ans.notice and "LLM answerer cannot be used" in ans.notice and "RAG_OPENAI_BASE_URL" in ans.notice


@pytest.mark.parametrize(("question", "why"), [("  ", "empty"), ("问" * 600, "limit is 500")])
def test_bad_questions_are_refused_before_any_work(fake_settings: Settings, question: str, why: str) -> None:
    emb = FakeEmbedder()
    p = Pipeline(fake_settings, embedder=emb)
    with pytest.raises(InputError, match=why):
        p.stream(question)  # raises at the call, not on iteration
    assert emb.calls == [] and p._index is None


def test_unknown_answerer_and_mode_are_config_errors(fake_pipeline: Pipeline) -> None:
    with pytest.raises(ConfigError, match="answerer must be one of"):
        fake_pipeline.ask(Q, answerer="oracle")
    with pytest.raises(ConfigError, match="mode must be one of"):
        fake_pipeline.ask(Q, mode="psychic")


def test_force_rebuilds_even_when_fresh(fake_pipeline: Pipeline) -> None:
    first = fake_pipeline.last_build
    assert first is not None
    again = fake_pipeline.ensure_index()
    assert not again.built
    forced = fake_pipeline.ensure_index(force=True)
    assert forced.built and forced.reasons == ["rebuild requested"] and forced.path != first.path


def test_answer_hits_uses_the_given_hits(fake_pipeline: Pipeline) -> None:
    hits = fake_pipeline.search("日资企业", k=2)
    ans = fake_pipeline.answer_hits("平湖有多少家日资企业？", hits)
    assert ans.hits == tuple(hits) and ans.mode == "external"


class _Reverse:
    name = "reverse"

    def rerank(self, question: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        from dataclasses import replace

        return [replace(h, rank=r) for r, h in enumerate(list(hits)[::-1][:k], start=1)]


def test_the_reranker_seam_reorders_hits(fake_settings: Settings) -> None:
    plain = Pipeline(fake_settings, embedder=FakeEmbedder())
    plain.ensure_index()
    reranked = Pipeline(fake_settings, embedder=FakeEmbedder(), reranker=_Reverse())
    a, b = plain.search(Q, k=5), reranked.search(Q, k=5)
    assert [h.chunk.id for h in b] == [h.chunk.id for h in a][::-1]


@pytest.mark.parametrize(("question", "script"), [("平湖の日系企業はいくつありますか？", "Japanese"), ("평호의 인구는 얼마입니까?", "Korean")])
def test_japanese_and_korean_get_a_zh_or_en_only_message(fake_pipeline: Pipeline, question: str, script: str) -> None:
    with pytest.raises(InputError, match=f"Chinese or English only; this one looks {script}"):
        fake_pipeline.ask(question)


def test_an_english_question_naming_a_chinese_company_is_answered_in_english(fake_pipeline: Pipeline) -> None:
    ans = fake_pipeline.ask("How much tax did 津上精密 pay in 2022?")
    assert ans.lang == "en"
    if ans.refused:
        assert ans.text == "The documents do not contain this information."
