"""Choose chunk size and overlap by measurement.

For each (size, overlap) it builds a real index of the seeds (the default
embedder, vectors shared across configs through the store's text-keyed
reuse is not possible since texts differ, so each config embeds afresh),
then scores the eval set's answerable items in hybrid mode:

- hit@1/3/5, MRR: a retrieved chunk holds one of the item's answers and at
  least half of its evidence quote (longest common run);
- acc: extractive answer contains an answer form (as rag eval scores it);
- refusal: share of unanswerable items refused.

    .venv/bin/python bench/sweep_chunking.py [--qa evals/dev.jsonl] [--sizes 120,160,200,300]

Writes bench/results/chunking.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from difflib import SequenceMatcher
from pathlib import Path

from rag.config import Settings
from rag.models.embed import load_embedder
from rag.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent


def _norm(s: str) -> str:
    return "".join(s.split()).casefold()


def _hit(chunk: str, item: dict) -> bool:
    c = _norm(chunk)
    evs = item["evidence"] if isinstance(item["evidence"], list) else [item["evidence"]]
    for ev in evs:
        e = _norm(ev)
        m = SequenceMatcher(None, c, e, autojunk=False).find_longest_match(0, len(c), 0, len(e))
        if m.size >= 0.5 * len(e):
            return True
    return False


def _correct(answer: str, item: dict) -> bool:
    a = _norm(answer)
    if item["type"] == "list":
        return all(_norm(x) in a for x in item["answers"])
    return any(_norm(x) in a for x in item["answers"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qa", default=str(ROOT / "evals" / "dev.jsonl"))
    ap.add_argument("--sizes", default="120,160,200,300")
    ap.add_argument("--overlaps", default="0.25")
    args = ap.parse_args()
    items = [json.loads(x) for x in Path(args.qa).read_text(encoding="utf-8").splitlines() if x.strip()]
    base = Settings.load()
    embedder = load_embedder(base)
    rows = []
    for size in [int(x) for x in args.sizes.split(",")]:
        for frac in [float(x) for x in args.overlaps.split(",")]:
            overlap = int(size * frac)
            s = base.with_(chunk_size=size, chunk_overlap=overlap, index_dir=Path(tempfile.mkdtemp()) / "index")
            p = Pipeline(s, embedder=embedder)
            t0 = time.perf_counter()
            rep = p.ensure_index()
            build_s = time.perf_counter() - t0
            h1 = h3 = h5 = mrr = acc = 0.0
            n_ans = n_un = refused_un = 0
            for it in items:
                a = p.ask(it["question"])
                if it["type"] == "unanswerable":
                    n_un += 1
                    refused_un += a.refused
                    continue
                n_ans += 1
                ranks = [h.rank for h in a.hits if _hit(h.chunk.text, it)]
                r = min(ranks) if ranks else None
                h1 += r is not None and r <= 1
                h3 += r is not None and r <= 3
                h5 += r is not None and r <= 5
                mrr += 1.0 / r if r else 0.0
                acc += (not a.refused) and _correct(a.text, it)
            row = {
                "size": size, "overlap": overlap, "chunks": rep.chunks, "build_s": round(build_s, 1),
                "hit@1": round(h1 / n_ans, 3), "hit@3": round(h3 / n_ans, 3), "hit@5": round(h5 / n_ans, 3),
                "mrr": round(mrr / n_ans, 3), "acc": round(acc / n_ans, 3),
                "refused_unanswerable": round(refused_un / max(n_un, 1), 3),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = ROOT / "bench" / "results" / "chunking.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
