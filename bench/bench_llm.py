"""Latency of the local generative answerer on this machine.

For a handful of typical seed questions: retrieval (not timed here), then
GenerativeAnswerer.stream with the local GGUF model via llama.cpp, measuring time
to first token, total answer time (generation + verification), prompt size
in tokens (the model's own tokenizer) and answer tokens. Writes
bench/results/llm.json.

    python bench/bench_llm.py [--threads N] [--out bench/results/llm.json]

The system prompt is the same for every question of a language, and
llama.cpp reuses the evaluated prefix of the previous prompt, so all but
the first question per language skip evaluating it. The load average is
recorded because other processes on a 2-core machine change the numbers
severalfold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer.generative import GenerativeAnswerer, prompt_text  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.models.chat import llm_status, make_chat_model  # noqa: E402
from rag.models.llama import LlamaCppChat  # noqa: E402
from rag.text import detect_lang  # noqa: E402

QUESTIONS = [
    "2022年平湖实际外资是多少？",
    "平湖有多少家日资企业？",
    "How much actual FDI was there in 2022?",
    "平湖累计引进了多少家世界500强企业？",
    "平湖2022年的GDP增速是多少？",  # not in the documents: should refuse
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "llm.json")
    args = ap.parse_args()

    settings = Settings.load(llm_backend="local", llm_threads=args.threads)
    ok, message = llm_status(settings)
    if not ok:
        print(f"skipped: {message}", file=sys.stderr)
        return 2
    from rag.pipeline import Pipeline

    model = make_chat_model(settings)
    answerer = GenerativeAnswerer(model)
    assert isinstance(model, LlamaCppChat)
    t = time.perf_counter()
    _ = model.llama
    load_s = time.perf_counter() - t
    pipeline = Pipeline(settings, chat_model=model)
    pipeline.ensure_index()

    rows: list[dict[str, Any]] = []
    for q in QUESTIONS:
        lang = detect_lang(q)
        hits = pipeline.search(q)
        prompt_tokens = model.get_num_tokens(prompt_text(answerer.build_messages(q, hits, lang)))
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        first = None
        deltas: list[str] = []
        stream = answerer.run(q, hits, lang)
        for part in stream:
            if first is None:
                first = time.perf_counter() - t0
            deltas.append(part)
        final = stream.draft()
        total = time.perf_counter() - t0
        row = {
            "question": q,
            "prompt_tokens": prompt_tokens,
            "answer_tokens": model.get_num_tokens("".join(deltas)),
            "ttft_s": round(first or total, 2),
            "total_s": round(total, 2),
            "refused": final.refused,
            "answer": final.text,
            "raw": "".join(deltas),
            "verification_failures": list(final.verification.failures) if final.verification else [],
            "loadavg_1m": round(load_before, 2),
        }
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)

    result = {
        "model": model.model_path,
        "threads": settings.llm_threads,
        "n_ctx": model.n_ctx,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "model_load_s": round(load_s, 2),
        "questions": rows,
        "median_ttft_s": sorted(r["ttft_s"] for r in rows)[len(rows) // 2],
        "median_total_s": sorted(r["total_s"] for r in rows)[len(rows) // 2],
        "mean_prompt_tokens": round(sum(r["prompt_tokens"] for r in rows) / len(rows)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
