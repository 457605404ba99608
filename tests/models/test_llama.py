"""The real local model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M via llama.cpp,
rag/models/llama.py) as the grounded reader over the real index: seed
questions answered with checked citations, near misses refused, JSON
enforced by the grammar, tokens streamed.

Skipped with a reason when llama-cpp-python or the model parts are missing.
The first run builds the index (about a minute). Each question takes a few
seconds on two idle cores.
"""

from __future__ import annotations

import functools
import importlib.util

import pytest

from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from rag.config import Settings
from rag.models.chat import llm_status, make_chat_model, side_model
from rag.types import Answer

pytestmark = pytest.mark.llm


def _skip_reason() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (bash scripts/setup.sh --llm)"
    ok, message = llm_status(Settings.load(llm_backend="local"))
    return None if ok else message


_REASON = _skip_reason()
if _REASON:
    pytest.skip(_REASON, allow_module_level=True)


@functools.cache
def _model():  # type: ignore[no-untyped-def]
    """One loaded model for the whole test session."""
    return make_chat_model(Settings.load(llm_backend="local"))


def local_answerer() -> GenerativeAnswerer:
    return GenerativeAnswerer(_model(), ExtractiveAnswerer(), is_common=lambda name: name == "平湖")


@pytest.fixture(scope="module")
def pipeline(real_settings: Settings):  # type: ignore[no-untyped-def]
    from rag.pipeline import Pipeline

    p = Pipeline(real_settings.with_(answerer="llm", llm_backend="local"), chat_model=_model())
    p.ensure_index()
    return p


def check_cited(ans: Answer) -> None:
    assert ans.answerer == "llm" and ans.verification is not None and ans.verification.checked
    assert ans.citations, ans.text
    for c in ans.citations:
        assert f"[{c.n}]" in ans.text
        assert c.passage[c.quote_start : c.quote_end] == c.quote


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # The figure the old free-text reader got wrong (63232万, the 2020
        # figure of the same sentence): the grammar, the sentence evidence
        # and the year check make it 41414万美元.
        ("2022年平湖实际外资是多少？", "41414万美元"),
        ("平湖有多少家日资企业？", "114"),
        ("How much actual FDI was there in 2022?", "41414万美元"),
    ],
)
def test_local_model_answers_seed_questions(pipeline, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    ans = pipeline.ask(question)
    assert not ans.refused, (ans.text, ans.verification)
    assert expected in ans.text and "63232" not in ans.text
    check_cited(ans)
    assert any(expected.rstrip("万美元") in c.quote for c in ans.citations)
    if ans.lang == "en":
        assert "US$414.14 million (41414万美元)" in ans.text


@pytest.mark.parametrize("question", ["平湖2022年的GDP增速是多少？", "2021年平湖实际外资是多少？"])
def test_local_model_refuses_near_misses(pipeline, question: str) -> None:  # type: ignore[no-untyped-def]
    ans = pipeline.ask(question)
    assert ans.refused, (ans.text, ans.verification)


def test_local_model_streams_the_answer_field(pipeline) -> None:  # type: ignore[no-untyped-def]
    stream = pipeline.stream("平湖有多少家日资企业？")
    deltas = list(stream)
    ans = stream.answer()
    assert deltas and "114" in "".join(deltas)
    assert "{" not in "".join(deltas)  # the JSON around the answer is not shown
    assert "first_token" in ans.timings_ms


def test_a_side_call_keeps_the_readers_evaluated_prompt() -> None:
    """Translating a question between two answers must not evict the reader's
    evaluated prompt (several seconds to evaluate again), and what is put
    back must be the real state: the same prompt then gives the same answer.
    The side calls keep their own prefix the same way."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from rag.answer.reader_prompt import SYSTEM, TRANSLATE_SYSTEM

    reader = _model()
    side = side_model(reader)
    assert side is not reader and side.side and not reader.side  # type: ignore[attr-defined]
    llama = reader.llama
    assert side.llama is llama  # one model in memory
    prompt = [SystemMessage(SYSTEM), HumanMessage("句子：\n[1] 平湖有日资企业114家。\n\n问题：平湖有多少家日资企业？")]
    first = reader.invoke(prompt, max_tokens=40).text
    n, ids = llama.n_tokens, llama.input_ids[: llama.n_tokens].copy()
    translate = [SystemMessage(TRANSLATE_SYSTEM), HumanMessage("问题：How many Japanese firms are there in Pinghu?")]
    translated = side.invoke(translate, max_tokens=30).text
    assert translated.strip()
    assert llama.n_tokens == n and (llama.input_ids[:n] == ids).all()
    assert reader.invoke(prompt, max_tokens=40).text == first
    assert side.invoke(translate, max_tokens=30).text == translated  # from its own restored prefix
    assert llama.n_tokens == n and (llama.input_ids[:n] == ids).all()


@pytest.mark.parametrize(
    ("user", "schema"),
    [
        # The reader's own schema: the model's best token is nearly always allowed.
        ("句子：\n[1] 2022年，平湖实际使用外资41414万美元。\n[2] 平湖有日资企业114家。\n\n问题：平湖有多少家日资企业？", None),
        # A schema the model would not write unprompted: its best token is
        # refused at almost every step, so the whole vocabulary is masked.
        ("Say hello.", {"type": "object", "properties": {"pick": {"enum": ["甲乙", "丙"]}, "n": {"type": "integer"}},
                        "required": ["pick", "n"]}),
    ],
)
def test_the_greedy_grammar_sampler_picks_the_stock_samplers_tokens(monkeypatch, user: str, schema) -> None:  # type: ignore[no-untyped-def]
    """The best-token-first check (rag/models/llama.py) must give the very
    tokens of llama.cpp's stock chain (mask with the grammar, then greedy)."""
    import json

    import llama_cpp
    from langchain_core.messages import HumanMessage, SystemMessage

    from rag.answer.reader_prompt import RESPONSE_FORMAT, SYSTEM
    from rag.models.llama import _GreedyGrammarSampler

    reader = _model()
    llama = reader.llama
    fmt = RESPONSE_FORMAT if schema is None else {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
    prompt = [SystemMessage(SYSTEM), HumanMessage(user)]
    # Both from an empty context: a prompt evaluated in other batches (a
    # cached prefix) gives logits that differ in the last bits, which can
    # flip a near tie such as the digits of an unconstrained integer.
    llama.reset()
    fast = reader.invoke(prompt, response_format=fmt, max_tokens=60).text
    assert isinstance(llama._sampler, _GreedyGrammarSampler)
    masked = llama._sampler._all is not None  # the whole-vocabulary path ran
    monkeypatch.setattr(llama, "_init_sampler", lambda **kw: llama_cpp.Llama._init_sampler(llama, **kw))
    llama.reset()
    stock = reader.invoke(prompt, response_format=fmt, max_tokens=60).text
    assert not isinstance(llama._sampler, _GreedyGrammarSampler)
    assert fast == stock
    out = json.loads(fast)
    if schema is not None:
        assert out["pick"] in ("甲乙", "丙") and isinstance(out["n"], int)
        assert masked
    else:
        assert "114" in out["answer"]
