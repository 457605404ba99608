"""Latency of the grounded reader with the local model, end to end.

For a fixed sample of dev questions (every 8th of evals/dev.jsonl, Chinese
and English): the whole `Pipeline.stream` with the llm answerer and the
local GGUF model via llama.cpp. Measured per question: time to the first
answer text the user sees (the first delta of the stream), time to the
model's first token, the whole answer (retrieval, translation for English,
generation, checks, a retry when one is needed), the user message's size
in the model's tokens (what is evaluated after the cached system prompt),
and the load average. Writes bench/results/llm.json.

    python bench/bench_llm.py [--every 8] [--out bench/results/llm.json]

The system prompt is fixed, so llama.cpp reuses its evaluated tokens for
every question after the first (the warm-up question is not counted).
On 2 cores other processes change the numbers severalfold: run it on an
idle machine and read the recorded load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer.generative import EVIDENCE_CHARS  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.eval.qaset import load_qa  # noqa: E402
from rag.models.chat import llm_status  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=8, help="take every N-th dev question")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "llm.json")
    args = ap.parse_args()

    settings = Settings.load(answerer="llm", llm_backend="local")
    ok, message = llm_status(settings)
    if not ok:
        print(f"skipped: {message}", file=sys.stderr)
        return 2
    from rag.pipeline import Pipeline

    pipeline = Pipeline(settings)
    pipeline.ensure_index()
    items = load_qa(ROOT / "evals" / "dev.jsonl")[:: args.every]
    t = time.perf_counter()
    pipeline.ask("平湖有多少家日资企业？")  # loads the model and evaluates the system prompt once
    warm_up_s = time.perf_counter() - t

    from rag.answer.generative import GenerativeAnswerer, build_messages

    reader = pipeline.answerer("llm")
    assert isinstance(reader, GenerativeAnswerer)

    def new_prompt_tokens(question: str, lang: str, hits: Any) -> int:
        """Tokens of the user message: what llama.cpp evaluates after the cached system prompt."""
        translation = reader.translate(question) if lang == "en" else None  # cached: no model call
        evidence = reader.evidence(question, hits, lang, translation)  # type: ignore[arg-type]
        return int(reader.chat_model.get_num_tokens(build_messages(evidence, question, lang)[1].text))  # type: ignore[arg-type]

    rows: list[dict[str, Any]] = []
    for it in items:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        first_text = None
        stream = pipeline.stream(it.question)
        for _ in stream:
            if first_text is None:
                first_text = time.perf_counter() - t0
        ans = stream.answer()
        total = time.perf_counter() - t0
        rows.append({
            "id": it.id, "lang": it.lang, "question": it.question, "refused": ans.refused,
            "first_text_s": round(first_text if first_text is not None else total, 2),
            "first_token_s": round(ans.timings_ms.get("first_token", 0.0) / 1000, 2),
            "total_s": round(total, 2),
            "translate_s": round(ans.timings_ms.get("translate", 0.0) / 1000, 2),
            "prompt_tokens_new": new_prompt_tokens(it.question, ans.lang, ans.hits),
            "retried": any(f.startswith("attempt 2") or "attempt 1" in f for f in ans.verification.failures)
            if ans.verification else False,
            "load_1min": round(load, 2),
        })
        print(f"{rows[-1]['first_text_s']:5.1f} {rows[-1]['total_s']:5.1f}s {it.question[:40]}", file=sys.stderr)

    def stats(key: str, subset: list[dict[str, Any]]) -> dict[str, float]:
        vals = [r[key] for r in subset]
        return {"p50": round(statistics.median(vals), 2), "p95": round(percentile(vals, 95), 2)} if vals else {}

    result = {
        "questions": len(rows),
        "warm_up_s": round(warm_up_s, 2),
        "first_answer_text": stats("first_text_s", rows),
        "first_model_token": stats("first_token_s", rows),
        "first_model_token_zh": stats("first_token_s", [r for r in rows if r["lang"] == "zh"]),
        "first_model_token_en": stats("first_token_s", [r for r in rows if r["lang"] == "en"]),
        "prompt_tokens_new": stats("prompt_tokens_new", rows),
        "total": stats("total_s", rows),
        "total_zh": stats("total_s", [r for r in rows if r["lang"] == "zh"]),
        "total_en": stats("total_s", [r for r in rows if r["lang"] == "en"]),
        "threads": settings.llm_threads,
        "evidence_chars": dict(EVIDENCE_CHARS),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_end": [round(x, 2) for x in os.getloadavg()]},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
