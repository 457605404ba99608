"""Query latency and passage throughput of one embedding backend.

    python bench/embed_backends.py onnx|torch

Run one backend per process (two runtimes' thread pools must not share the
two cores), alternating, several times. Prints one JSON line: query p50
over 59 dev questions after a warm-up, passages/s over 64 passages of 200
characters of a seed page, and the load average at the end.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.eval.qaset import load_qa  # noqa: E402
from rag.models.embed import load_embedder  # noqa: E402


def main(backend: str) -> dict[str, float | str]:
    embedder = load_embedder(Settings.load().with_(embed_backend=backend))
    questions = [item.question for item in load_qa(ROOT / "evals" / "dev.jsonl")][:60]
    embedder.embed_query(questions[0])  # warm-up: first call allocates
    times: list[float] = []
    for q in questions[1:]:
        start = time.perf_counter()
        embedder.embed_query(q)
        times.append((time.perf_counter() - start) * 1000)
    page = (ROOT / "seeds" / "000_1456ab72d246df34.txt").read_text(encoding="utf-8").replace("\n", "")
    passages = [page[i : i + 200] for i in range(0, 200 * 64, 200)]
    start = time.perf_counter()
    embedder.embed_documents(passages)
    seconds = time.perf_counter() - start
    return {
        "backend": backend,
        "query_p50_ms": round(statistics.median(times), 1),
        "passages_per_s": round(len(passages) / seconds, 1),
        "load": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "torch")))
