"""How often the grounded reader's evidence holds the answer at all.

For every answerable item of a QA file: retrieve as the pipeline does, pick
the evidence sentences the llm answerer would give the model
(`GenerativeAnswerer.evidence`), and check whether an accepted answer
string is in them (for `list` items, the share of elements). This is the
ceiling of the reader: an answer that is not in its evidence cannot be
found, and the gap between this share and the llm answerer's accuracy is
lost in reading. No model is called unless `--translate` is given; without
it, English questions are ranked untranslated (the fallback path).

    python bench/bench_evidence.py [--qa evals/dev.jsonl] [--translate] [--out bench/results/evidence.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer.generative import GenerativeAnswerer  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.eval.qaset import QAItem, load_qa, normalize  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.text import detect_lang  # noqa: E402


def held(item: QAItem, text: str) -> float:
    """The share of the item's answer that is in `text` (any alternative; every list element)."""
    answers = [normalize(a) for a in item.answers]
    if item.type == "list":
        return sum(a in text for a in answers) / len(answers)
    return float(any(a in text for a in answers))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qa", type=Path, default=ROOT / "evals" / "dev.jsonl")
    ap.add_argument("--translate", action="store_true", help="rank English questions through the model's translation")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "evidence.json")
    args = ap.parse_args()

    pipeline = Pipeline(Settings.load(answerer="llm" if args.translate else "extractive"))
    pipeline.ensure_index()
    scorer = pipeline.answerer("extractive")
    translator = pipeline.answerer("llm") if args.translate else None
    reader = GenerativeAnswerer(None, scorer, is_common=pipeline._is_common)  # type: ignore[arg-type]  # no model call
    shares: dict[str, list[float]] = defaultdict(list)
    for item in load_qa(args.qa):
        if item.type == "unanswerable":
            continue
        lang = detect_lang(item.question)
        translation = translator.translate(item.question) if translator and lang == "en" else None  # type: ignore[attr-defined]
        query = f"{translation} {item.question}" if translation else item.question
        hits = pipeline.search(query)
        facts = reader.facts(item.question, lang)
        evidence = reader.evidence(
            item.question, hits, lang, translation, picks=reader.picks(facts), event=facts.event
        )
        share = held(item, normalize(evidence.render(lang)))
        for key in ("all", lang, item.type):
            shares[key].append(share)
    held_by = {k: {"n": len(v), "held": round(sum(v) / len(v), 3)} for k, v in sorted(shares.items())}
    qa = args.qa.resolve()
    result = {"qa": str(qa.relative_to(ROOT) if qa.is_relative_to(ROOT) else qa), "translate": args.translate, "held": held_by}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    for k, v in held_by.items():
        print(f"{k:12} {v['n']:4}  {v['held']:.3f}")


if __name__ == "__main__":
    main()
