"""The real local model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M via llama.cpp, rag/models/llama.py)
answering seed questions over the real index, with verified citations.

Skipped with a reason when llama-cpp-python or the model parts are missing.
The first run builds the index (about a minute).
"""

from __future__ import annotations

import functools
import importlib.util

import pytest

from rag.answer.generative import MAX_PASSAGES, GenerativeAnswerer
from rag.config import Settings
from rag.models.chat import llm_status, make_chat_model
from rag.types import Draft, Hit

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
def local_answerer() -> GenerativeAnswerer:
    """One answerer (one loaded model) for the whole test session."""
    return GenerativeAnswerer(make_chat_model(Settings.load(llm_backend="local")))


@pytest.fixture(scope="module")
def pipeline():
    from rag.pipeline import Pipeline

    return Pipeline(Settings.load(llm_backend="local"), chat_model=local_answerer().chat_model)


def check_verified(ans: Draft) -> None:
    assert ans.verification is not None and ans.verification.checked
    assert ans.citations, ans.text
    for c in ans.citations:
        assert f"[{c.n}]" in ans.text
        assert c.passage[c.quote_start:c.quote_end] == c.quote


@pytest.mark.parametrize(
    ("question", "lang", "expected"),
    [
        # "2022年平湖实际外资是多少？" is left out: the 1.5B model answers it
        # with 4.8亿 (a 2023 figure, caught by verification) or 63232万 (the
        # 2020 figure from the same sentence, which number checks cannot
        # catch); see docs/measurements.md.
        ("商务窗口2021年一共办理了多少件业务？", "zh", ("510",)),
        ("平湖有多少家日资企业？", "zh", ("114",)),
        ("How much actual FDI was there in 2022?", "en", ("41414", "41,414", "4.14", "414.1")),
    ],
)
def test_local_model_answers_seed_questions(pipeline, question, lang, expected):
    hits = pipeline.search(question)
    given = " ".join(h.chunk.text for h in hits[:MAX_PASSAGES])
    assert any(e in given for e in expected if e.isdigit()), (
        f"retrieval miss: no passage among the top {MAX_PASSAGES} for {question!r} holds {expected[0]} "
        f"(the answerer cannot be right; see the retriever)"
    )
    ans = local_answerer().run(question, hits, lang).draft()  # type: ignore[arg-type]
    assert not ans.refused, ans
    assert any(e in ans.text for e in expected), ans.text
    check_verified(ans)


def test_local_model_answers_from_the_right_passage(pipeline):
    """Independent of retrieval: the passage with the answer among distractors."""
    question = "平湖一共有多少家日资企业？"
    chunks = pipeline.index.chunks
    gold = next(c for c in chunks if "日资企业114家" in c.text)
    others = [h.chunk for h in pipeline.search(question) if "114" not in h.chunk.text][:3]
    hits = [Hit(chunk=c, rank=i + 1, score=1.0) for i, c in enumerate([others[0], gold, *others[1:]])]
    ans = local_answerer().run(question, hits, "zh").draft()
    assert not ans.refused and "114" in ans.text, ans.text
    check_verified(ans)
    assert any("114" in c.quote for c in ans.citations)


def test_local_model_refuses_unanswerable(pipeline):
    question = "平湖2022年的GDP增速是多少？"
    ans = local_answerer().run(question, pipeline.search(question), "zh").draft()
    assert ans.refused, ans.text


def test_local_model_streams(pipeline):
    question = "平湖有多少家日资企业？"
    stream = local_answerer().run(question, pipeline.search(question), "zh")
    assert len(list(stream)) > 3
    assert "first_token" in stream.draft().timings_ms
