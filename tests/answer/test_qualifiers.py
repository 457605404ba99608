"""The qualifier check in the grounded reader: a model answer that quotes
the figure of another kind of firm (外资企业 for a question about 日资企业)
is retried and then withheld, and an answer about the asked kind passes."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from tests.answer.test_generative_http import make_hits

pytestmark = pytest.mark.unit

FIRMS = ("平湖外资概况", "2023-03-01", "截至2022年底，全市共有外资企业512家，投资总额131.6亿美元。")
JAPANESE = ("平湖外资概况", "2023-03-01", "截至2022年底，全市共有日资企业114家，投资总额31亿美元。")
QUESTION = "截至2022年底，平湖有多少家日资企业？"


def reader(*replies: str) -> GenerativeAnswerer:
    model = GenericFakeChatModel(messages=iter(AIMessage(r) for r in replies))
    return GenerativeAnswerer(
        model, ExtractiveAnswerer(), is_common=lambda name: name == "平湖", is_rare={"日资企业", "日资"}.__contains__
    )


def answer(text: str) -> str:
    return json.dumps({"found": True, "answer": text, "sentences": [1]}, ensure_ascii=False)


def test_the_figure_of_another_kind_of_firm_is_withheld() -> None:
    d = reader(answer("512家"), answer("512家")).run(QUESTION, make_hits([FIRMS]), "zh").draft()
    assert d.refused and "512" not in d.text
    assert d.verification is not None
    assert any("日资企业" in f for f in d.verification.failures)


def test_the_asked_kind_of_firm_passes() -> None:
    d = reader(answer("114家")).run(QUESTION, make_hits([JAPANESE]), "zh").draft()
    assert not d.refused and "114家" in d.text
