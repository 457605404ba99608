"""Choose the extractive answerer's refusal threshold by measurement.

For every item of the eval set it runs retrieval and the extractive
answerer's sentence ranking once, and records the best sentence's evidence
score. Then, for each threshold t, it counts:

- answered correctly: answerable items whose evidence >= t and whose
  answer (at threshold 0) contains an expected form;
- false refusals: answerable items with evidence < t;
- refused unanswerable: unanswerable items with evidence < t.

by language. A threshold trades false refusals against answers to
questions the documents cannot answer; the table shows the trade.

    .venv/bin/python bench/refusal_threshold.py [--qa evals/dev.jsonl]

Writes bench/results/refusal.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.eval.metrics import answer_score
from rag.eval.qaset import load_qa
from rag.pipeline import Pipeline
from rag.text import detect_lang

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qa", default=str(ROOT / "evals" / "dev.jsonl"))
    args = ap.parse_args()
    items = load_qa(Path(args.qa))
    p = Pipeline(Settings.load(refusal_threshold=0.0))
    p.ensure_index()
    ans = p.answerer("extractive")
    rows: list[dict[str, Any]] = []
    for it in items:
        lang = detect_lang(it.question)
        hits = p.search(it.question)
        cands = ans.rank_sentences(it.question, hits, lang)  # type: ignore[attr-defined]
        ev = cands[0].evidence if cands else 0.0
        a = ans.run(it.question, hits, lang).draft()
        score, _ = answer_score(it, a.text, a.refused) if it.type != "unanswerable" else (0.0, [])
        rows.append({"id": it.id, "lang": lang, "unanswerable": it.type == "unanswerable",
                     "evidence": round(ev, 4), "correct": score >= 1.0})
    table = []
    for t in [x / 100 for x in range(20, 56, 5)]:
        row: dict[str, object] = {"threshold": t}
        for lang in ("zh", "en"):
            ans_items = [r for r in rows if r["lang"] == lang and not r["unanswerable"]]
            un = [r for r in rows if r["lang"] == lang and r["unanswerable"]]
            row[f"{lang}_correct"] = round(sum(r["correct"] and r["evidence"] >= t for r in ans_items) / max(len(ans_items), 1), 3)
            row[f"{lang}_false_refusal"] = round(sum(r["evidence"] < t for r in ans_items) / max(len(ans_items), 1), 3)
            row[f"{lang}_refused_unanswerable"] = round(sum(r["evidence"] < t for r in un) / max(len(un), 1), 3)
        table.append(row)
        print(json.dumps(row))
    out = ROOT / "bench" / "results" / "refusal.json"
    out.write_text(json.dumps({"items": rows, "table": table}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
