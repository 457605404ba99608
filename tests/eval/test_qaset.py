"""The QA file validator: good files pass, each kind of broken line fails clearly,
and the team's set in evals/ is valid against the cleaned seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT
from rag.errors import InputError
from rag.eval.qaset import (
    QAItem,
    check_against_corpus,
    check_coverage,
    corpus_texts,
    load_qa,
    normalize,
    parse_qa,
)

pytestmark = pytest.mark.unit

DEV = PROJECT_ROOT / "evals" / "dev.jsonl"
TEST = PROJECT_ROOT / "evals" / "test.jsonl"
SEEDS = PROJECT_ROOT / "seeds"

GOOD = [
    {"id": "a", "question": "2022年实际外资是多少？", "lang": "zh", "type": "numeric",
     "answers": ["41414万美元", "41414"], "source": "x.txt",
     "evidence": "2022年实际外资（部口径）达到41414万美元"},
    {"id": "b", "question": "Which chains?", "lang": "en", "type": "list",
     "answers": ["汽车", "机床"], "source": "x.txt", "evidence": "围绕汽车及零部件、高端机床、新材料产业链", "note": "n"},
    {"id": "c", "question": "两篇文章说了什么？", "lang": "zh", "type": "multi_doc",
     "answers": ["22年", "23年"], "source": ["x.txt", "y.txt"],
     "evidence": ["连续22年进入全省利用外资前十强", "利用外资已连续23年位列全省十强"]},
    {"id": "d", "question": "平湖的人口是多少？", "lang": "zh", "type": "unanswerable",
     "answers": [], "source": None, "evidence": None},
]
TEXTS = {
    "x.txt": "2022年实际外资（部口径）达到\n41414万美元。围绕汽车及零部件、高端机床、新材料产业链。连续 22年进入全省利用外资前十强",
    "y.txt": "平湖利用外资已连续２３年位列全省十强。",
}


def lines(*objs: object) -> list[str]:
    return [json.dumps(o, ensure_ascii=False) for o in objs]


def broken(**changes: object) -> list[str]:
    """The first good item with some fields changed; `drop_<field>=True` removes one."""
    obj = dict(GOOD[0])
    for k, v in changes.items():
        if k.startswith("drop_"):
            obj.pop(k[5:])
        else:
            obj[k] = v
    return lines(obj)


def test_good_file_parses(tmp_path: Path) -> None:
    p = tmp_path / "qa.jsonl"
    p.write_text("\n".join(lines(*GOOD)) + "\n\n", encoding="utf-8")
    items = load_qa(p)
    assert [i.id for i in items] == ["a", "b", "c", "d"]
    assert items[2].sources == ("x.txt", "y.txt") and len(items[2].evidence) == 2
    assert items[3].sources == () and items[3].evidence == () and not items[3].answerable
    assert items[1].note == "n"
    # to_dict gives back the file's format
    assert [i.to_dict() for i in items] == GOOD


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (["{not json"], "not valid JSON"),
        (['["a list"]'], "not a JSON object"),
        (broken(drop_evidence=True), "missing field(s): evidence"),
        (broken(extra=1), "unknown field(s): extra"),
        (broken(lang="fr"), "lang must be one of zh, en"),
        (broken(lang="en"), "question reads as 'zh'"),
        (broken(type="trivia"), "type must be one of"),
        (broken(answers="41414"), "answers must be a list of non-empty strings"),
        (broken(answers=[]), "needs at least one answer"),
        (broken(answers=["41414", " 41414 "]), "answers contains duplicates"),
        (broken(id=""), "id must be a non-empty string"),
        (broken(evidence="太短了"), "evidence must be 15-80 characters"),
        (broken(evidence="长" * 81), "evidence must be 15-80 characters"),
        (broken(source=None), "source must be a file name"),
        (broken(type="list", answers=["41414"]), "at least two required elements"),
        (broken(type="unanswerable", answers=["x"]), "must have answers: []"),
        (broken(type="unanswerable", answers=[]), "must have source and evidence null"),
        (broken(type="multi_doc"), "needs source and evidence as lists"),
        (broken(type="multi_doc", source=["x.txt", "y.txt"], evidence=[GOOD[0]["evidence"]]),
         "one evidence quote per source"),
        (broken(type="multi_doc", source=["x.txt", "x.txt"], evidence=[GOOD[0]["evidence"]] * 2),
         "at least two different sources"),
        (lines(GOOD[0], GOOD[0]), "duplicate id 'a' (first on line 1)"),
        ([], "the file has no questions"),
    ],
)
def test_broken_lines_fail_with_a_clear_message(text: list[str], message: str) -> None:
    _items, problems = parse_qa(text)
    assert problems, f"expected a problem containing {message!r}"
    assert any(message in p for p in problems), problems
    assert all(p.startswith("line ") or p == "the file has no questions" for p in problems)


def test_load_qa_raises_one_line_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_qa(tmp_path / "missing.jsonl")
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(broken(lang="fr") + ["{oops"]), encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_qa(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert "line 1: lang must be one of" in msg and "1 more problem" in msg


def test_normalize_ignores_whitespace_width_and_case() -> None:
    assert normalize(" 连续 22年\n进入 ") == "连续22年进入"
    assert normalize("２０２２年，ABB") == normalize("2022年,abb")


def test_corpus_check_passes_and_fails_for_the_right_reasons() -> None:
    items, problems = parse_qa(lines(*GOOD))
    assert not problems
    # Hard line breaks, OCR spaces and full-width digits do not matter.
    assert check_against_corpus(items, TEXTS) == []

    def item(**kw: object) -> QAItem:
        base = dict(id="z", question="q", lang="zh", type="numeric", answers=("41414",),
                    sources=("x.txt",), evidence=("2022年实际外资（部口径）达到41414万美元",))
        base.update(kw)
        return QAItem(**base)  # type: ignore[arg-type]

    probs = check_against_corpus([item(evidence=("2021年实际外资（部口径）达到41414万美元",))], TEXTS)
    assert probs == ["z: evidence '2021年实际外资（部口径）达到41414万美元' is not in the cleaned text of x.txt"]
    probs = check_against_corpus([item(sources=("nope.txt",))], TEXTS)
    assert probs == ["z: source 'nope.txt' is not a file of the corpus"]
    probs = check_against_corpus([item(answers=("99999", "88888"))], TEXTS)
    assert probs == ["z: no answer of ['99999', '88888'] is in the evidence or source"]
    # Non-list: one alternative found is enough; list: every element is needed.
    assert check_against_corpus([item(answers=("99999", "41414万美元"))], TEXTS) == []
    probs = check_against_corpus([item(type="list", answers=("41414", "新材料", "光伏"))], TEXTS)
    assert probs == ["z: list element(s) ['光伏'] not in the evidence or source"]


def test_coverage_reports_shortfalls() -> None:
    items, _ = parse_qa(lines(*GOOD))
    probs = check_coverage(items)
    assert "4 items; at least 80 are needed" in probs
    assert "3 zh items; at least 50 are needed" in probs
    assert "1 en items; at least 20 are needed" in probs
    assert any(p.startswith("no item of type(s): entity") for p in probs)
    assert check_coverage(items, min_items=4, min_per_lang={"zh": 3, "en": 1}, min_unanswerable=1) == [
        "no item of type(s): entity, yes_no, temporal, comparison, paraphrase"
    ]


@pytest.mark.parametrize("path", [DEV, TEST], ids=["dev", "test"])
def test_team_sets_are_valid_against_the_cleaned_seeds(path: Path) -> None:
    """evals/dev.jsonl and evals/test.jsonl: parse, cover what they must, and
    every evidence quote and answer is in the cleaned text of its source
    (rag.ingest.load_corpus)."""
    items = load_qa(path)
    assert check_coverage(items) == []
    texts = corpus_texts(SEEDS)
    assert len(texts) == 5
    assert check_against_corpus(items, texts) == []
    sources = {s for i in items for s in i.sources}
    assert sources == set(texts), "every seed file is covered"


def test_the_frozen_test_set_is_new_and_weighted_to_the_hard_cases() -> None:
    """The test split shares no question with dev, has at least 120 items and
    at least 25 unanswerable near misses, and English questions that name
    Chinese companies or terms."""
    dev, test = load_qa(DEV), load_qa(TEST)
    assert len(test) >= 120
    assert not {normalize(i.question) for i in dev} & {normalize(i.question) for i in test}
    assert sum(i.type == "unanswerable" for i in test) >= 25
    assert sum(i.lang == "en" and any("\u4e00" <= ch <= "\u9fff" for ch in i.question) for i in test) >= 15
    assert any(len(i.evidence) > 1 and i.type != "multi_doc" for i in test)  # a comparison with two quotes
