"""Benchmark `rag serve` (issue 12): what a warm server saves `rag ask`, and
how it holds up under 16 concurrent questions. Extractive answerer.

1. `rag ask Q` wall time, process start included (a fresh Python each run,
   as from a shell), with a warm server vs in-process (RAG_SERVER_URL=off):
   the median (p50) of `--runs` runs each, after one unmeasured run.
2. 16 concurrent questions (the first 16 of evals/dev.jsonl) sent at once
   to /v1/chat/completions, `--rounds` times: per-request latency p50/p95
   and the wall time of each round. Requests are served one at a time (the
   pipeline is not thread-safe), so p95 is about 16 answers' work.

Writes bench/results/serve.json.

    .venv/bin/python bench/bench_serve.py [--runs 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from ui.harness import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "serve.json"
LOG = ROOT / "artifacts" / "bench-serve-server.log"
RAG = [sys.executable, "-c", "from rag.cli import main; main()"]


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was measured."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def timed_ask(env: dict[str, str], question: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run([*RAG, "ask", "--json", question], env=env, cwd=ROOT, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"rag ask failed ({r.returncode}): {r.stderr[-500:]}")
    return secs, json.loads(r.stdout)["answer"]


def ask_runs(env: dict[str, str], question: str, runs: int) -> dict[str, Any]:
    timed_ask(env, question)  # unmeasured: file cache, index build if missing
    times, answer = [], ""
    for _ in range(runs):
        secs, answer = timed_ask(env, question)
        times.append(secs)
    return {"p50_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times], "answer": answer}


def concurrent_rounds(url: str, questions: list[str], rounds: int) -> dict[str, Any]:
    import httpx

    def one(q: str) -> tuple[float, bool]:
        t0 = time.perf_counter()
        r = httpx.post(f"{url}/v1/chat/completions", timeout=300,
                       json={"model": "rag", "messages": [{"role": "user", "content": q}]})
        return time.perf_counter() - t0, r.status_code == 200

    latencies: list[float] = []
    walls: list[float] = []
    failed = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        with ThreadPoolExecutor(len(questions)) as pool:
            results = list(pool.map(one, questions))
        walls.append(time.perf_counter() - t0)
        latencies += [t for t, _ in results]
        failed += sum(not ok for _, ok in results)
    return {
        "requests": len(latencies), "failed": failed,
        "latency_p50_s": round(percentile(latencies, 50), 3),
        "latency_p95_s": round(percentile(latencies, 95), 3),
        "latency_max_s": round(max(latencies), 3),
        "round_wall_s": [round(w, 3) for w in walls],
    }


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> float:
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"rag serve exited with {proc.returncode}; see {LOG}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"rag serve not ready within {timeout} s; see {LOG}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--question", default="How much actual FDI was there in 2022?")
    args = ap.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "RAG_ANSWERER": "extractive",
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("RAG_API_KEY", None)
    load_before = os.getloadavg()[0]
    local = ask_runs({**env, "RAG_SERVER_URL": "off"}, args.question, args.runs)  # also builds a missing index

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    LOG.parent.mkdir(exist_ok=True)
    with LOG.open("wb") as log:
        proc = subprocess.Popen([*RAG, "serve", "--port", str(port)], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            ready_s = wait_ready(url, proc)
            served = ask_runs({**env, "RAG_SERVER_URL": url}, args.question, args.runs)
            lines = (ROOT / "evals" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
            questions = [json.loads(line)["question"] for line in lines[:16]]
            load = concurrent_rounds(url, questions, args.rounds)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "load_avg_1min": {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)},
        "question": args.question,
        "server_ready_s": round(ready_s, 3),
        "rag_ask_in_process": local,
        "rag_ask_with_server": served,
        "speedup_p50": round(local["p50_s"] / served["p50_s"], 1),
        "same_answer": local["answer"] == served["answer"],
        "concurrent_16": load,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
