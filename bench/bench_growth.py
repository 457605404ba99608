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

Per size and store (FAISS exact and IVF, Milvus Lite FLAT and IVF_FLAT), each in its
own child process: build time of the store alone (no embedding) and disk
size. For the FAISS stores the child then writes the product's own build
folder (chunks.jsonl, tokens, bm25/, vectors.faiss, a manifest with every
file's SHA-256, CURRENT) and a *fresh* process loads it exactly as a
starting server does (`load_index`, hashes verified, BM25 memory-mapped):
that process's load time is the start-up, its resident memory while
answering is the serving RSS, and it times the queries. Queries: p50/p95
of dense, BM25 and hybrid retrieval (embedding excluded: query vectors are
given) and recall@10 of dense against exact search. Milvus Lite is timed
in the building process (its server is a child process: its RSS is
reported apart). BM25 is bm25s for the FAISS stores and Milvus's own for
Milvus.

Writes bench/results/growth.json and docs/growth.png (matplotlib).

    .venv/bin/python bench/bench_growth.py [--sizes 1000 10000 100000] [--queries 200]
    .venv/bin/python bench/bench_growth.py --sizes 1000000 --stores faiss-exact faiss-ivf --merge --timeout 7200
    RAG_BENCH_TMP=/big/disk ...     # where the synthetic builds go (default: the system temp folder)

Left out: embedding throughput (bench/bench_embed.py), the old JSON BM25
(removed in the same change; its scores are compared in tests/index/test_bm25.py).
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "growth.json"
CHART = ROOT / "docs" / "growth.png"
SEED_CACHE = Path(tempfile.gettempdir()) / "rag-growth-seeds.npz"
STORES = ("faiss-exact", "faiss-ivf", "milvus-lite", "milvus-lite-ivf")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


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
        cv, sv, qv = z["chunks"], z["sentences"], z["questions"]
    else:
        from rag.models.embed import load_embedder

        emb = load_embedder(s)
        cv = np.asarray(emb.embed_documents([embed_text(c) for c in chunks]), dtype=np.float32)
        sv = np.asarray(emb.embed_documents(sents), dtype=np.float32)
        qv = np.asarray([emb.embed_query(q) for q in qs], dtype=np.float32)
        np.savez(cache, chunks=cv, sentences=sv, questions=qv)
    return {"sentences": sents, "words": words, "chunk_vectors": cv, "sentence_vectors": sv, "questions": qs,
            "question_vectors": qv, "question_words": [tok.query_words(q) for q in qs]}


def synthetic(n: int, m: dict[str, Any], seed: int = 0, vectors: str = "mixture"
              ) -> tuple[list[str], list[list[str]], np.ndarray]:
    """n chunk texts (3-6 seed sentences each), their words, and their vectors.

    vectors="mixture" (the default): a chunk's vector is the mean of the
    real e5 vectors of its own sentences plus a little noise (cosine ~0.98
    to that mean), so text and vector agree and the corpus spreads over
    the seeds' space as recombined text would. vectors="clusters": a random
    seed chunk's vector plus isotropic noise (cosine ~0.9), which puts
    n / 189 near-duplicates around each seed: a pessimistic case for
    approximate search (their order is decided by the noise alone).
    """
    from rag.index.vectors import normalized

    g = np.random.default_rng(seed)
    ns = len(m["sentences"])
    counts = g.integers(3, 7, size=n)
    picks = g.integers(0, ns, size=(n, 6))
    sents, sw = m["sentences"], m["words"]
    texts, words = [], []
    for row, c in zip(picks.tolist(), counts.tolist(), strict=True):
        texts.append("".join(sents[i] for i in row[:c]))
        words.append([w for i in row[:c] for w in sw[i]])
    if vectors == "clusters":
        cv = m["chunk_vectors"]
        base = cv[g.integers(0, len(cv), size=n)]
        # Noise of norm ~0.5 around a unit vector: cosine ~0.9 to its seed.
        noise = g.normal(scale=0.5 / np.sqrt(cv.shape[1]), size=base.shape).astype(np.float32)
        return texts, words, normalized(base + noise)
    sv = m["sentence_vectors"]
    out = np.empty((n, sv.shape[1]), dtype=np.float32)
    for a in range(0, n, 50_000):
        p, c = picks[a:a + 50_000], counts[a:a + 50_000]
        mask = (np.arange(6)[None, :] < c[:, None]).astype(np.float32)
        mean = np.einsum("ij,ijk->ik", mask, sv[p]) / c[:, None]
        mean = normalized(mean.astype(np.float32))
        noise = g.normal(scale=0.2 / np.sqrt(sv.shape[1]), size=mean.shape).astype(np.float32)
        out[a:a + 50_000] = normalized(mean + noise)
    return texts, words, out


def chunks_for(texts: list[str]) -> list[Any]:
    from rag.types import Chunk

    return [Chunk(source=f"gen_{i // 1000:05d}.txt", article=0, title="", date=None, id=f"{i:016x}",
                  start=0, end=len(t), text=t, orig_start=0, orig_end=len(t)) for i, t in enumerate(texts)]


# ------------------------------------------------------------------ worker
def queries_for(m: dict[str, Any], n_queries: int) -> tuple[np.ndarray, list[list[str]]]:
    """The dev questions' vectors (plus a little noise) and words, cycled."""
    g = np.random.default_rng(1)
    qv, qw = m["question_vectors"], m["question_words"]
    idx = [i % len(qv) for i in range(n_queries)]
    q = np.stack([qv[i] + g.normal(scale=0.1 / np.sqrt(qv.shape[1]), size=qv.shape[1]).astype(np.float32)
                  for i in idx])
    return q, [qw[i] for i in idx]


def exact_top10(matrix: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact top-10 rows per query (blocked, so 10^6 rows stay in memory)."""
    from rag.index.vectors import normalized

    qn = normalized(queries)
    out = []
    for i in range(0, len(qn), 50):
        s = qn[i:i + 50] @ matrix.T
        top = np.argpartition(-s, 10, axis=1)[:, :10]
        out.append(np.take_along_axis(top, np.argsort(-np.take_along_axis(s, top, 1), 1), 1))
    return np.concatenate(out)


def write_build(index_dir: Path, texts: list[str], words: list[list[str]], vectors: Any, bm25: Any,
                store: str) -> Path:
    """The product's own build folder (chunks.jsonl, tokens, bm25/ or the
    Milvus collection's name, vectors, manifest with every file's hash,
    CURRENT), as `rag index` writes it."""
    from rag.index.build import _write_build
    from rag.index.manifest import FORMAT_VERSION

    chunks = chunks_for(texts)
    manifest = {
        "format_version": FORMAT_VERSION, "embed_model": "bench", "vector_store": store,
        "chunker": {"size": 200, "overlap": 50}, "limits": {}, "tokenizer": "bench", "metadata_sha256": None,
        "files": {}, "dim": int(vectors.dim),
        "counts": {"files": len({c.source for c in chunks}), "articles": len(chunks), "chunks": len(chunks)},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "docs_dir": "synthetic",
    }
    return _write_build(index_dir, chunks, words, bm25, vectors, manifest)


def worker(n: int, store: str, fake: bool, n_queries: int, vectors: str = "mixture") -> dict[str, Any]:
    """Build one store over n synthetic chunks and write the product's build
    folder; the driver then loads and queries it in a fresh process."""
    from rag.index.bm25 import BM25
    from rag.index.vectors import FaissVectors, Rows

    m = seed_material(fake)
    texts, words, matrix = synthetic(n, m, vectors=vectors)
    folder = Path(tempfile.mkdtemp(prefix="growth-", dir=os.environ.get("RAG_BENCH_TMP")))
    out: dict[str, Any] = {"size": n, "store": store, "vectors": vectors, "dim": int(matrix.shape[1]),
                           "folder": str(folder)}
    queries, qwords = queries_for(m, n_queries)
    np.save(folder / "queries.npy", queries)
    np.save(folder / "truth.npy", exact_top10(matrix, queries))
    (folder / "qwords.json").write_text(json.dumps(qwords, ensure_ascii=False), encoding="utf-8")
    approx_above = 0 if store.endswith("-ivf") else None
    t0 = time.perf_counter()
    if store.startswith("milvus"):
        from rag.index.vectors.milvus import MilvusStore

        spec = f"milvus:{folder / 'm.db'}"
        built: Any = MilvusStore.from_spec(spec, approx_above).create(Rows(matrix, chunks_for(texts), words),
                                                                      "rag_bench")
        bm25: Any = built.lexical()
        out["build_s"] = round(time.perf_counter() - t0, 2)
    else:
        spec = "faiss"
        built = FaissVectors.from_vectors(matrix, approx_above=approx_above)
        out["vector_build_s"] = round(time.perf_counter() - t0, 2)
        t1 = time.perf_counter()
        bm25 = BM25.build(words)
        out["bm25_build_s"] = round(time.perf_counter() - t1, 2)
        out["build_s"] = round(time.perf_counter() - t0, 2)
    t2 = time.perf_counter()
    build = write_build(folder / "index", texts, words, built, bm25, spec)
    out["write_s"] = round(time.perf_counter() - t2, 2)
    if store.startswith("milvus"):
        out["disk_mb"] = disk_mb(folder / "m.db")
    else:
        out["disk_mb"] = disk_mb(build / "vectors.faiss")
        out["bm25_disk_mb"] = disk_mb(build / "bm25")
    out["chunks_disk_mb"] = disk_mb(build / "chunks.jsonl")
    out["rss_mb_build_peak"] = rss_mb()
    return out


def query_loop(vectors: Any, lexical: Any, queries: np.ndarray, qwords: list[list[str]], truth: np.ndarray,
               fuse: Any) -> dict[str, Any]:
    """Dense, BM25 and hybrid query times (query vectors given), recall@10."""
    times: dict[str, list[float]] = {"dense": [], "bm25": [], "hybrid": []}
    recall = []
    for q, qw, t10 in zip(queries, qwords, truth, strict=True):
        qq = q[None, :]
        t = time.perf_counter()
        d = vectors.search(qq, 30)
        times["dense"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        lexical.top(qw, 30)
        times["bm25"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        fuse([vectors.search(qq, 30), lexical.top(qw, 30)], 60)
        times["hybrid"].append((time.perf_counter() - t) * 1000)
        recall.append(len(set(t10.tolist()) & {r for r, _ in d[:10]}) / 10)
    out: dict[str, Any] = {}
    for k, v in times.items():
        out[f"{k}_p50_ms"], out[f"{k}_p95_ms"] = pct(v, 0.5), pct(v, 0.95)
    out["recall_at_10"] = round(statistics.mean(recall), 4)
    return out


def serve_child(folder: Path) -> dict[str, Any]:
    """Run `--serve folder` in a fresh process: what a starting server does."""
    cmd = [sys.executable, __file__, "--serve", str(folder)]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if r.returncode != 0:
        return {"error": "serve: " + (r.stderr.strip().splitlines() or ["?"])[-1][:300]}
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def proc_status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def serve(folder: Path) -> dict[str, Any]:
    """Load the live build as the product does (manifest, every file's
    SHA-256, chunks, vectors, memory-mapped BM25), then query it."""
    t0 = time.perf_counter()
    import bm25s  # noqa: F401  (the libraries' import cost, apart)
    import faiss  # noqa: F401

    if (folder / "m.db").exists():
        import pymilvus  # noqa: F401

    from rag.index.build import load_index
    from rag.index.layout import live_build
    from rag.retrieve.fusion import FUSIONS

    out: dict[str, Any] = {"import_s": round(time.perf_counter() - t0, 2)}
    t1 = time.perf_counter()
    build = live_build(folder / "index")
    assert build is not None
    index = load_index(build)  # verify=True: hashes every file, as the product does
    out["load_s"] = round(time.perf_counter() - t1, 2)
    out["rss_mb_loaded"] = proc_status_mb("VmRSS")
    queries = np.load(folder / "queries.npy")
    truth = np.load(folder / "truth.npy")
    qwords = json.loads((folder / "qwords.json").read_text(encoding="utf-8"))
    out.update(query_loop(index.vectors, index.bm25, queries, qwords, truth, FUSIONS["rsf"]))
    out["rss_mb_serving"] = proc_status_mb("VmRSS")
    out["rss_mb_peak"] = proc_status_mb("VmHWM")
    return out


# ------------------------------------------------------------------ driver
def run_child(n: int, store: str, fake: bool, n_queries: int, timeout: float, vectors: str) -> dict[str, Any]:
    """Build in one child process, then load and query in a fresh one."""
    cmd = [sys.executable, __file__, "--worker", str(n), store, "--queries", str(n_queries), "--vectors", vectors]
    if fake:
        cmd.append("--fake")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"size": n, "store": store, "vectors": vectors, "error": f"over {timeout:.0f} s"}
    if r.returncode != 0:
        return {"size": n, "store": store, "vectors": vectors,
                "error": (r.stderr.strip().splitlines() or ["?"])[-1][:300]}
    out = dict(json.loads(r.stdout.strip().splitlines()[-1]))
    folder = Path(out.pop("folder"))
    try:
        out.update(serve_child(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


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
        axes[2].plot(x, [r["rss_mb_serving"] for r in ok], marker="o", label=store)
    for ax, title in zip(axes, ("build s (no embedding)", "query p50 ms", "serving RSS MB"), strict=True):
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
    head = ("| chunks | store | build s (vectors + BM25) | disk MB (vectors + BM25 + chunks) | start-up s "
            "| serving RSS MB | dense p50/p95 ms | BM25 p50/p95 ms | hybrid p50/p95 ms | recall@10 |")
    out = [head, "|" + "---|" * 10]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['size']:,} | {r['store']} | {r['error']} | | | | | | | |")
            continue
        if "bm25_build_s" in r:
            build = f"{r['vector_build_s']} + {r['bm25_build_s']}"
            disk = f"{r['disk_mb']} + {r['bm25_disk_mb']} + {r['chunks_disk_mb']}"
        else:
            build = f"{r['build_s']} (both)"
            disk = f"{r['disk_mb']} (both) + {r['chunks_disk_mb']}"
        out.append(
            f"| {r['size']:,} | {r['store']} | {build} | {disk} | {r['load_s']} | {r['rss_mb_serving']} "
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
    ap.add_argument("--vectors", choices=("mixture", "clusters"), default="mixture",
                    help="how synthetic vectors are drawn (see synthetic()); clusters is the pessimistic case")
    ap.add_argument("--merge", action="store_true", help="replace only these (size, store) rows in growth.json")
    ap.add_argument("--table", action="store_true", help="print growth.json as a Markdown table; redraw the chart")
    ap.add_argument("--worker", nargs=2, metavar=("SIZE", "STORE"), help=argparse.SUPPRESS)
    ap.add_argument("--serve", metavar="FOLDER", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.table:
        rows = json.loads(RESULTS.read_text(encoding="utf-8"))["rows"]
        print(table(rows))
        chart(rows)
        return
    if a.serve:
        print(json.dumps(serve(Path(a.serve))))
        return
    if a.worker:
        print(json.dumps(worker(int(a.worker[0]), a.worker[1], a.fake, a.queries, a.vectors)))
        return
    seed_material(a.fake)  # embeds the seeds once, before the timed children
    rows = []
    for n in a.sizes:
        for store in a.stores:
            row = run_child(n, store, a.fake, a.queries, a.timeout, a.vectors)
            print(json.dumps(row), flush=True)
            rows.append(row)
    if a.merge and RESULTS.exists():
        done = {(r["size"], r["store"], r.get("vectors")) for r in rows}
        old = json.loads(RESULTS.read_text(encoding="utf-8"))["rows"]
        rows = sorted([r for r in old if (r["size"], r["store"], r.get("vectors")) not in done] + rows,
                      key=lambda r: (r["size"], STORES.index(r["store"])))
    info = {"cpus": os.cpu_count(), "loadavg": os.getloadavg(), "python": platform.python_version(),
            "vectors": "FakeEmbedder 384-d (hashed n-grams)" if a.fake else "multilingual-e5-small", "queries": a.queries,
            "command": " ".join(sys.argv)}
    RESULTS.write_text(json.dumps({"machine": info, "rows": rows}, indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    chart(rows)


if __name__ == "__main__":
    main()
