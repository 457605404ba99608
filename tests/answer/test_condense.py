"""Follow-up rewriting: the rules, and the chat-model rewriter with fakes."""

from __future__ import annotations

import pytest
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel

from rag.answer.condense import condense_rule_based, condense_with_llm, is_fragment
from rag.types import Turn

pytestmark = pytest.mark.unit


def turns(*questions: str) -> list[Turn]:
    return [Turn(q, "…") for q in questions]


@pytest.mark.parametrize(
    ("question", "history", "expected"),
    [
        # A new year replaces the old one.
        ("那2021年呢？", ["2022年平湖实际外资是多少？"], "2021年平湖实际外资是多少？"),
        ("2021年呢？", ["平湖有多少家日资企业？"], "2021年平湖有多少家日资企业？"),
        # Chains: the previous question is condensed first.
        ("2020年呢？", ["2022年平湖实际外资是多少？", "那2021年呢？"], "2020年平湖实际外资是多少？"),
        # Head-final: the phrase sharing the last characters is replaced.
        ("那合同外资呢？", ["2022年平湖实际外资是多少？"], "2022年平湖合同外资是多少？"),
        ("日资企业呢？", ["平湖有多少家外资企业？"], "平湖有多少家日资企业？"),
        # Places by suffix; attributes after 的.
        ("那嘉善县呢？", ["平湖市有多少家外资企业？"], "嘉善县有多少家外资企业？"),
        ("利润总额呢", ["外资规上工业企业的营业收入是多少？"], "外资规上工业企业的利润总额是多少？"),
        # English.
        ("What about 2021?", ["How much actual FDI was there in 2022?"], "How much actual FDI was there in 2021?"),
        ("What about Jiashan?", ["How much FDI did Pinghu attract in 2022?"], "How much FDI did Jiashan attract in 2022?"),
        ("And in 2019?", ["How many foreign companies are in Pinghu?"], "How many foreign companies are in Pinghu in 2019?"),
    ],
)
def test_rule_based(question, history, expected):
    assert condense_rule_based(question, turns(*history)) == expected


def test_standalone_questions_are_left_alone():
    h = turns("2022年平湖实际外资是多少？")
    assert condense_rule_based("平湖有多少家世界500强企业？", h) == "平湖有多少家世界500强企业？"
    assert condense_rule_based("How many Japanese companies are there in Pinghu?", h).startswith("How many")
    assert condense_rule_based("那2021年呢？", []) == "那2021年呢？"
    assert not is_fragment("平湖有多少家世界500强企业？")
    assert is_fragment("那2021年呢？") and is_fragment("What about 2021?")


def test_unknown_fragment_is_appended_so_retrieval_keeps_both():
    assert condense_rule_based("那税收呢？", turns("平湖有多少家外资企业？")) == "平湖有多少家外资企业，税收？"


def test_llm_rewrite_is_used_and_cleaned():
    model = FakeListChatModel(responses=["改写后的问题：2021年平湖实际外资是多少？\n（说明…）"])
    out = condense_with_llm(model, "那2021年呢？", turns("2022年平湖实际外资是多少？"))
    assert out == "2021年平湖实际外资是多少？"


def test_llm_prompt_carries_the_history():
    seen = []

    class Spy(GenericFakeChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            seen.append(messages)
            return super()._generate(messages, stop, run_manager, **kwargs)

    model = Spy(messages=iter(["What was the actual FDI in 2021?"]))
    out = condense_with_llm(model, "What about 2021?", turns("What was the actual FDI in 2022?"))
    assert out == "What was the actual FDI in 2021?"
    human = seen[0][-1].text
    assert "What was the actual FDI in 2022?" in human and "What about 2021?" in human


def test_llm_errors_and_empty_output_fall_back_to_the_rules():
    class Broken(GenericFakeChatModel):
        def _generate(self, *a, **k):
            raise ConnectionError("refused")

    h = turns("2022年平湖实际外资是多少？")
    assert condense_with_llm(Broken(messages=iter([])), "那2021年呢？", h) == "2021年平湖实际外资是多少？"
    assert condense_with_llm(FakeListChatModel(responses=["   "]), "那2021年呢？", h) == "2021年平湖实际外资是多少？"


def test_llm_rewrite_that_drops_the_new_year_is_rejected():
    model = FakeListChatModel(responses=["2022年平湖实际外资是多少？"])
    out = condense_with_llm(model, "那2021年呢？", turns("2022年平湖实际外资是多少？"))
    assert out == "2021年平湖实际外资是多少？"
