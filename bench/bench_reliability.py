"""Measure what issue 14's reliability features cost, and count what a
killed build keeps.

1. Integrity check on load vs cold start (seeds, real model). `load_index`
   with and without the SHA-256 check of every index file, in-process
   (median of --runs); cold start is a fresh `rag --no-build ask Q` process
   on the built index (imports, model load, index load, answer; median of
   --cold-runs). Target: the check <= 5% of cold start.
2. Freshness check before an answer (`Pipeline.check_documents`: a stat
   walk, nothing changed), on the seeds and on a generated 10,000-chunk
   corpus (50 files).
3. A killed 10,000-chunk build: a real `rag index` process with the slow
   fake embedder (`fake:64?delay_ms=..&log=..`), killed with SIGKILL once
   half the batches are staged, then run again. Counted, not timed: texts
   embedded before the kill, rows staged, texts embedded by the resumed
   run, and the repeated work. Target: at most one batch repeated.
4. A 50 MB text file in the documents folder: time and peak memory of the
   scan + read that rejects it (before: 85 s and 2.2 GB to read and chunk).

Writes bench/results/reliability.json.

    .venv/bin/python bench/bench_reliability.py [--runs 20] [--cold-runs 3] [--chunks 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bench.corpus import write_corpus  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.index.build import IndexSpec, load_index  # noqa: E402
from rag.index.integrity import verify_files  # noqa: E402
from rag.index.layout import live_build  # noqa: E402
from rag.index.staging import STAGING, Staging  # noqa: E402
from rag.ingest import load_corpus  # noqa: E402
from rag.models.fake import FakeEmbedder  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "reliability.json"
QUESTION = "2022年平湖实际外资是多少？"
BATCH = 16


def _rag() -> str:
    return str(Path(sys.executable).parent / "rag")


def _env(**rag: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k == "RAG_CACHE_DIR"}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.update({f"RAG_{k.upper()}": v for k, v in rag.items()})
    return env


def integrity_vs_cold_start(tmp: Path, runs: int, cold_runs: int) -> dict[str, Any]:
    settings = Settings.load(docs_dir=ROOT / "seeds", index_dir=tmp / "seeds-index")
    Pipeline(settings).ensure_index()
    build = live_build(settings.index_dir)
    assert build is not None
    timings: dict[str, list[float]] = {"verified": [], "unverified": []}
    for _ in range(runs):
        for name, verify in (("verified", True), ("unverified", False)):
            t = time.perf_counter()
            load_index(build, verify=verify)
            timings[name].append((time.perf_counter() - t) * 1000)
    cold: list[float] = []
    env = _env(docs_dir=str(settings.docs_dir), index_dir=str(settings.index_dir))
    for _ in range(cold_runs):
        t = time.perf_counter()
        subprocess.run([_rag(), "--no-build", "ask", QUESTION], env=env, check=True, capture_output=True)
        cold.append((time.perf_counter() - t) * 1000)
    check: list[float] = []
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    for _ in range(runs):
        t = time.perf_counter()
        verify_files(build, manifest)
        check.append((time.perf_counter() - t) * 1000)
    verified, unverified = statistics.median(timings["verified"]), statistics.median(timings["unverified"])
    cold_ms, check_ms = statistics.median(cold), statistics.median(check)
    return {
        "index_files": {k: v["bytes"] for k, v in manifest["index_files"].items()},
        "load_verified_ms": round(verified, 2),
        "load_unverified_ms": round(unverified, 2),
        "check_ms": round(check_ms, 2),  # verify_files alone: sizes, then SHA-256 of every file
        "cold_start_ms": round(cold_ms, 1),
        "cold_start_runs_ms": [round(x, 1) for x in cold],
        "check_share_of_cold_start": round(check_ms / cold_ms, 5),
        "target_share": 0.05,
    }


def freshness_check(tmp: Path, runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    gen = tmp / "gen-docs"
    write_corpus(gen, 10_000, files=50)
    for label, docs in (("seeds", ROOT / "seeds"), ("generated_50_files", gen)):
        s = Settings.load(env={}, docs_dir=docs, index_dir=tmp / f"fresh-{label}", refresh_check_s=0)
        p = Pipeline(s, embedder=FakeEmbedder())
        p.ensure_index()
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            assert p.check_documents() is None
            times.append((time.perf_counter() - t) * 1000)
        out[label] = {"files": len(p.index.manifest["files"]), "chunks": len(p.index.chunks),
                      "check_ms_median": round(statistics.median(times), 2)}
    return out


def killed_build(tmp: Path, chunks: int) -> dict[str, Any]:
    docs, index = tmp / "kill-docs", tmp / "kill-index"
    write_corpus(docs, chunks, files=50)
    log1, log2 = tmp / "killed.log", tmp / "resumed.log"
    env = _env(docs_dir=str(docs), index_dir=str(index), embed_batch_size=str(BATCH))
    spec = IndexSpec(docs, index)
    docs_, _ = load_corpus(docs, spec.scan())
    from rag.ingest import chunk_documents

    total = len(chunk_documents(docs_, spec.chunk_size, spec.chunk_overlap))
    half = total // BATCH // 2
    t0 = time.perf_counter()
    p = subprocess.Popen([_rag(), "--model", f"fake:64?delay_ms=1&log={log1}", "index"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = index / STAGING / "batches.jsonl"
    while not rows.exists() or rows.read_bytes().count(b"\n") < half:
        if p.poll() is not None:
            raise RuntimeError("the build ended before it could be killed")
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    killed_after = time.perf_counter() - t0
    embedded_before = sum(int(x) for x in log1.read_text().split())
    staged = Staging.open(index, "fake-ngram-64").rows
    r = subprocess.run([_rag(), "--model", f"fake:64?log={log2}", "index"], env=env, capture_output=True,
                       text=True, check=True)
    embedded_after = sum(int(x) for x in log2.read_text().split())
    return {
        "chunks": total,
        "batch_size": BATCH,
        "killed_after_s": round(killed_after, 1),
        "embedded_before_kill": embedded_before,
        "staged_at_kill": staged,
        "embedded_by_resumed_run": embedded_after,
        "repeated": embedded_before + embedded_after - total,
        "lost_at_kill": embedded_before - staged,
        "resumed_run_output": r.stdout.strip().splitlines()[-1],
        "target_repeated_at_most": BATCH,
    }


def big_file(tmp: Path) -> dict[str, Any]:
    docs = tmp / "big-docs"
    docs.mkdir()
    shutil.copy(ROOT / "seeds" / "000_1456ab72d246df34.txt", docs)
    line = "平湖外资企业今年一季度实现产值增长，签约项目总投资超过三百亿元。\n"
    with (docs / "big.txt").open("w", encoding="utf-8") as f:
        while f.tell() < 50 * 10**6:
            f.write(line * 1000)
    size = (docs / "big.txt").stat().st_size
    # Peak memory from VmHWM (ru_maxrss survives exec: it would be the parent's).
    code = (
        "import re, sys, time; from pathlib import Path; sys.path[:0] = [sys.argv[2]];"
        "from rag.index.build import IndexSpec; from rag.ingest import load_corpus;"
        "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1));"
        "spec = IndexSpec(Path(sys.argv[1]), Path('/nonexistent')); before = hwm(); t = time.perf_counter();"
        "docs, problems = load_corpus(spec.docs_dir, spec.scan(), max_chars=spec.max_chars);"
        "print(time.perf_counter() - t, hwm(), before, [p.line() for p in problems])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(docs), str(ROOT)], capture_output=True, text=True,
                         check=True).stdout
    seconds, peak_kb, imports_kb, problems = out.split(" ", 3)
    return {"file_bytes": size, "seconds": round(float(seconds), 2), "peak_rss_mb": round(int(peak_kb) / 1024),
            "rss_after_imports_mb": round(int(imports_kb) / 1024), "reported": problems.strip()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--chunks", type=int, default=10_000)
    args = ap.parse_args()
    loads = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        result = {
            "integrity": integrity_vs_cold_start(tmp, args.runs, args.cold_runs),
            "freshness": freshness_check(tmp, args.runs),
            "killed_build": killed_build(tmp, args.chunks),
            "big_file": big_file(tmp),
        }
        loads.append(os.getloadavg())
    result["meta"] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_start": loads[0], "loadavg_end": loads[-1],
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "maxrss_mb_bench": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
