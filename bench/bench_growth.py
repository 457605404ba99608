"""The growth curve (issue 13): how the index stores behave from 10^3 to
10^5 chunks (10^6 with --sizes, if time and memory allow).

Synthetic corpora built from the seeds, so text and vectors look like the
real thing without embedding millions of passages:

- text: each chunk is 3-6 sentences of the seeds, drawn at random; its
  BM25 words are the concatenated jieba words of those sentences (each
  seed sentence is segmented once; segmenting 10^5 chunks again would
  measure jieba, not the index);
- vectors: the real multilingual-e5-small vector of a random seed chunk
  plus Gaussian noise (cosine ~0.9 to it), L2-normalised; queries are
  the real vectors of the dev questions, plus a little noise. The seeds'
  vectors are embedded once and cached in /tmp (--fake uses FakeEmbedder).

Per size and store (FAISS exact, FAISS HNSW, Milvus Lite), each in its
own child process (so its peak RSS is its own): build time of the store
alone (no embedding), disk size of what it saves, peak resident memory,
query p50/p95 of dense, BM25 and hybrid (embedding excluded: query vectors
are given), and recall@10 of dense against exact search. BM25 is bm25s for
the FAISS stores (build time, disk) and Milvus's own for Milvus.

Writes bench/results/growth.json and docs/growth.png (matplotlib).

    nice -n 19 .venv/bin/python bench/bench_growth.py [--sizes 1000 10000 100000] [--queries 200]

Left out: embedding throughput (bench/bench_embed.py), the old JSON BM25
(removed in the same change; its scores are compared in tests/index/test_bm25.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "growth.json"
CHART = ROOT / "docs" / "growth.png"
SEED_CACHE = Path(tempfile.gettempdir()) / "rag-growth-seeds.npz"
STORES = ("faiss-exact", "faiss-hnsw", "milvus-lite")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def children_hwm_mb() -> float:
    """Peak RSS (VmHWM) of this process's live children, from /proc: Milvus
    Lite serves from a child process, which ru_maxrss of this one misses."""
    total = 0
    me = str(os.getpid())
    for st in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = st.read_text().rsplit(")", 1)[1].split()
            if fields[1] != me:
                continue
            for line in (st.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return round(total / 1024, 1)


def disk_mb(path: Path) -> float:
    if path.is_file():
        return round(path.stat().st_size / 2**20, 2)
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 2)


# ------------------------------------------------------------ seed material
def seed_material(fake: bool) -> dict[str, Any]:
    """Seed sentences with their words, seed chunk vectors, question vectors (cached)."""
    from rag.config import Settings
    from rag.index.build import embed_text
    from rag.index.lexicon import default_tokenizer
    from rag.ingest import chunk_documents, load_corpus, scan_documents
    from rag.text import sentence_spans

    s = Settings.load(env={}, embed_model="fake:384" if fake else Settings().embed_model)
    docs, _ = load_corpus(s.docs_dir, scan_documents(s.docs_dir))
    chunks = chunk_documents(docs, s.chunk_size, s.chunk_overlap)
    tok = default_tokenizer()
    sents = [d.text[a:b] for d in docs for a, b in sentence_spans(d.text) if b - a > 4]
    words = [tok.words(x) for x in sents]
    qs = [json.loads(line)["question"] for line in (ROOT / "evals" / "dev.jsonl").open(encoding="utf-8")]
    cache = SEED_CACHE.with_suffix(".fake.npz" if fake else ".npz")
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        cv, qv = z["chunks"], z["questions"]
    else:
        from rag.models.embed import load_embedder

        emb = load_embedder(s)
        cv = np.asarray(emb.embed_documents([embed_text(c) for c in chunks]), dtype=np.float32)
        qv = np.asarray([emb.embed_query(q) for q in qs], dtype=np.float32)
        np.savez(cache, chunks=cv, questions=qv)
    return {"sentences": sents, "words": words, "chunk_vectors": cv, "questions": qs,
            "question_vectors": qv, "question_words": [tok.query_words(q) for q in qs]}


def synthetic(n: int, m: dict[str, Any], seed: int = 0) -> tuple[list[str], list[list[str]], np.ndarray]:
    """n chunk texts, their words, and their vectors (near real seed vectors)."""
    from rag.index.vectors import normalized

    rng = random.Random(seed)
    texts, words = [], []
    ns = len(m["sentences"])
    for _ in range(n):
        pick = [rng.randrange(ns) for _ in range(rng.randint(3, 6))]
        texts.append("".join(m["sentences"][i] for i in pick))
        words.append([w for i in pick for w in m["words"][i]])
    cv = m["chunk_vectors"]
    g = np.random.default_rng(seed)
    base = cv[g.integers(0, len(cv), size=n)]
    # Noise of norm ~0.5 around a unit vector: cosine ~0.9 to its seed.
    noise = g.normal(scale=0.5 / np.sqrt(cv.shape[1]), size=base.shape).astype(np.float32)
    return texts, words, normalized(base + noise)


def chunks_for(texts: list[str]) -> list[Any]:
    from rag.types import Chunk

    return [Chunk(source=f"gen_{i // 1000:05d}.txt", article=0, title="", date=None, id=f"{i:016x}",
                  start=0, end=len(t), text=t, orig_start=0, orig_end=len(t)) for i, t in enumerate(texts)]


# ------------------------------------------------------------------ worker
def worker(n: int, store: str, fake: bool, n_queries: int) -> dict[str, Any]:
    from rag.index.bm25 import BM25
    from rag.index.vectors import FaissVectors, NumpyVectors, Rows, VectorIndex
    from rag.retrieve.fusion import FUSIONS

    m = seed_material(fake)
    texts, words, matrix = synthetic(n, m)
    folder = Path(tempfile.mkdtemp(prefix="growth-"))
    out: dict[str, Any] = {"size": n, "store": store, "dim": int(matrix.shape[1]), "rss_mb_before": rss_mb()}
    t0 = time.perf_counter()
    vectors: VectorIndex
    if store == "milvus-lite":
        from rag.index.vectors.milvus import MilvusStore

        vectors = MilvusStore(str(folder / "m.db")).create(Rows(matrix, chunks_for(texts), words), "rag_bench")
        vectors.activate()
        lexical: Any = vectors.lexical()
        out["build_s"] = round(time.perf_counter() - t0, 2)
        disk_path = folder / "m.db"
    else:
        vectors = FaissVectors.from_vectors(matrix, approx_above=0 if store == "faiss-hnsw" else None)
        out["vector_build_s"] = round(time.perf_counter() - t0, 2)
        t1 = time.perf_counter()
        lexical = BM25.build(words)
        out["bm25_build_s"] = round(time.perf_counter() - t1, 2)
        out["build_s"] = round(time.perf_counter() - t0, 2)
        vectors.save(folder)
        lexical.save(folder)
        out["bm25_disk_mb"] = disk_mb(folder / "bm25")
        disk_path = folder / "vectors.faiss"
        lexical = BM25.load(folder)  # memory-mapped, as served
    out["disk_mb"] = disk_mb(disk_path)
    out["rss_mb_after_build"] = rss_mb()

    g = np.random.default_rng(1)
    qv, qw = m["question_vectors"], m["question_words"]
    idx = [i % len(qv) for i in range(n_queries)]
    queries = [qv[i] + g.normal(scale=0.1 / np.sqrt(qv.shape[1]), size=qv.shape[1]).astype(np.float32)
               for i in idx]
    exact = NumpyVectors.from_vectors(matrix)
    times: dict[str, list[float]] = {"dense": [], "bm25": [], "hybrid": []}
    recall = []
    for q, i in zip(queries, idx, strict=True):
        qq = q[None, :]
        t = time.perf_counter()
        d = vectors.search(qq, 30)
        times["dense"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        b = lexical.top(qw[i], 30)
        times["bm25"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        FUSIONS["rsf"]([vectors.search(qq, 30), lexical.top(qw[i], 30)], 60)
        times["hybrid"].append((time.perf_counter() - t) * 1000)
        truth = {r for r, _ in exact.search(qq, 10)}
        recall.append(len(truth & {r for r, _ in d[:10]}) / 10)
        del b
    for k, v in times.items():
        out[f"{k}_p50_ms"], out[f"{k}_p95_ms"] = pct(v, 0.5), pct(v, 0.95)
    out["recall_at_10"] = round(statistics.mean(recall), 4)
    out["rss_mb_peak"] = rss_mb()
    out["children_rss_mb_peak"] = children_hwm_mb()
    shutil.rmtree(folder, ignore_errors=True)
    return out


# ------------------------------------------------------------------ driver
def run_child(n: int, store: str, fake: bool, n_queries: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", str(n), store, "--queries", str(n_queries)]
    if fake:
        cmd.append("--fake")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"size": n, "store": store, "error": f"over {timeout:.0f} s"}
    if r.returncode != 0:
        return {"size": n, "store": store, "error": (r.stderr.strip().splitlines() or ["?"])[-1][:300]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def chart(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for store in STORES:
        ok = sorted((r for r in rows if r["store"] == store and "error" not in r), key=lambda r: r["size"])
        if not ok:
            continue
        x = [r["size"] for r in ok]
        axes[0].plot(x, [r["build_s"] for r in ok], marker="o", label=store)
        axes[1].plot(x, [r["dense_p50_ms"] for r in ok], marker="o", label=f"{store} dense")
        axes[1].plot(x, [r["bm25_p50_ms"] for r in ok], marker="x", linestyle="--", label=f"{store} BM25")
        axes[2].plot(x, [r["rss_mb_peak"] for r in ok], marker="o", label=store)
    for ax, title in zip(axes, ("build s (no embedding)", "query p50 ms", "peak RSS MB"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(CHART, dpi=110)


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of docs/measurements.md ("Growth")."""
    head = ("| chunks | store | build s (vectors + BM25) | disk MB (vectors + BM25) | peak RSS MB "
            "| dense p50/p95 ms | BM25 p50/p95 ms | hybrid p50/p95 ms | recall@10 |")
    out = [head, "|" + "---|" * 9]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['size']:,} | {r['store']} | {r['error']} | | | | | | |")
            continue
        build = (f"{r['vector_build_s']} + {r['bm25_build_s']}" if "bm25_build_s" in r else f"{r['build_s']}")
        disk = f"{r['disk_mb']} + {r['bm25_disk_mb']}" if "bm25_disk_mb" in r else f"{r['disk_mb']}"
        out.append(
            f"| {r['size']:,} | {r['store']} | {build} | {disk} | {r['rss_mb_peak']} "
            f"| {r['dense_p50_ms']} / {r['dense_p95_ms']} | {r['bm25_p50_ms']} / {r['bm25_p95_ms']} "
            f"| {r['hybrid_p50_ms']} / {r['hybrid_p95_ms']} | {r['recall_at_10']} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--stores", nargs="+", default=list(STORES), choices=STORES)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--fake", action="store_true", help="384-d FakeEmbedder vectors instead of e5 (no model; minutes faster on a busy machine)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--merge", action="store_true", help="replace only these (size, store) rows in growth.json")
    ap.add_argument("--table", action="store_true", help="print growth.json as a Markdown table; redraw the chart")
    ap.add_argument("--worker", nargs=2, metavar=("SIZE", "STORE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.table:
        rows = json.loads(RESULTS.read_text(encoding="utf-8"))["rows"]
        print(table(rows))
        chart(rows)
        return
    if a.worker:
        print(json.dumps(worker(int(a.worker[0]), a.worker[1], a.fake, a.queries)))
        return
    seed_material(a.fake)  # embeds the seeds once, before the timed children
    rows = []
    for n in a.sizes:
        for store in a.stores:
            row = run_child(n, store, a.fake, a.queries, a.timeout)
            print(json.dumps(row), flush=True)
            rows.append(row)
    if a.merge and RESULTS.exists():
        done = {(r["size"], r["store"]) for r in rows}
        old = json.loads(RESULTS.read_text(encoding="utf-8"))["rows"]
        rows = sorted([r for r in old if (r["size"], r["store"]) not in done] + rows,
                      key=lambda r: (r["size"], STORES.index(r["store"])))
    info = {"cpus": os.cpu_count(), "loadavg": os.getloadavg(), "python": platform.python_version(),
            "vectors": "FakeEmbedder 384-d (hashed n-grams)" if a.fake else "multilingual-e5-small", "queries": a.queries,
            "command": " ".join(sys.argv)}
    RESULTS.write_text(json.dumps({"machine": info, "rows": rows}, indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    chart(rows)


if __name__ == "__main__":
    main()
