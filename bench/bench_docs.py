"""Benchmark documents in: text-layer PDF reading speed, and upload of a
10-page PDF through the chat page until an answer about it is shown.

1. Read + clean: a 40-page text-layer PDF of seed text (printed by
   Chromium) through `PdfReader` (pdfium, page by page) and the cleaner
   (`documents_from_text`), embedding excluded; pages per second, median
   of --runs. Chunking is timed separately.
2. Upload to answer: the chat page on the real pipeline (model loaded
   first, as `rag chat` does), a new collection, a 10-page PDF uploaded
   through the page with Playwright; from choosing the file until the
   answer to a question about page 7 is shown (upload, read, embed, ask).
   Also the same through the library (`add_files` + `ask`) without a page.

Writes bench/results/docs.json with the load average of each timing.
Targets: >= 20 pages/s read and cleaned; upload to answer <= 30 s.

    .venv/bin/python bench/bench_docs.py [--runs 5] [--skip-ui]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from docs_pages import text_pdf  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.ingest import chunk_documents, documents_from_text  # noqa: E402
from rag.ingest.corpus import page_starts  # noqa: E402
from rag.ingest.readers.pdf import PdfReader  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "docs.json"
TARGET_PAGES_S, TARGET_UPLOAD_S = 20.0, 30.0
QUESTION, ANSWER = "2022年平湖实际外资（部口径）是多少？", "41414"


def read_speed(pdf: Path, pages: int, runs: int) -> dict[str, object]:
    reads, cleans, chunks, loads = [], [], [], []
    for _ in range(runs):
        loads.append(round(os.getloadavg()[0], 2))
        t = time.perf_counter()
        st = PdfReader().read(pdf)
        t1 = time.perf_counter()
        docs = documents_from_text(pdf.name, st.text, None, pages=page_starts(st))
        t2 = time.perf_counter()
        chunk_documents(docs)
        t3 = time.perf_counter()
        reads.append(t1 - t)
        cleans.append(t2 - t1)
        chunks.append(t3 - t2)
    read_clean = statistics.median([a + b for a, b in zip(reads, cleans, strict=True)])
    return {"pages": pages, "chars": len(st.text), "read_s": round(statistics.median(reads), 3),
            "clean_s": round(statistics.median(cleans), 3), "chunk_s": round(statistics.median(chunks), 3),
            "pages_per_s_read_clean": round(pages / read_clean, 1), "loadavg_per_run": loads}


def upload_in_page(pdf: Path, data_dir: Path) -> dict[str, object]:
    from rag.pipeline import Pipeline
    from ui.harness import open_browser, running_app, timed_ask

    settings = Settings.load(data_dir=data_dir)
    pipeline = Pipeline(settings)
    pipeline.ensure_index()
    pipeline.ask("2022年平湖实际外资是多少？")  # the model is warm, as after `rag chat` starts
    with open_browser() as browser, running_app(pipeline) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(url)
        page.locator("#rag-docs").get_by_text("资料库 · Documents").first.click()
        page.locator("#rag-new-collection textarea, #rag-new-collection input").first.fill("bench")
        page.locator("#rag-create").click()
        page.wait_for_function("() => document.body.innerText.includes('Now asking collection “bench”')")
        load = round(os.getloadavg()[0], 2)
        t0 = time.perf_counter()
        page.locator("#rag-upload input[type=file]").set_input_files(str(pdf))
        page.wait_for_function("() => [...document.querySelectorAll('#rag-progress .rag-upload-row')]"
                               ".some(r => r.dataset.stage === 'done')", timeout=300_000)
        indexed = time.perf_counter() - t0
        reply, ask_s = timed_ask(page, QUESTION)
        total = time.perf_counter() - t0
    return {"indexed_s": round(indexed, 2), "ask_s": round(ask_s, 2), "total_s": round(total, 2),
            "answer_ok": ANSWER in reply and "p. 7" in reply, "loadavg_before": load}


def upload_library(pdf: Path, data_dir: Path) -> dict[str, object]:
    from rag.collections import add_files
    from rag.pipeline import Pipeline

    base = Pipeline(Settings.load(data_dir=data_dir))
    base.embedder.embed_query("warm up")
    p = base.for_collection("lib")
    load = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    report = add_files(p, [pdf])
    t1 = time.perf_counter()
    a = p.ask(QUESTION)
    t2 = time.perf_counter()
    return {"add_s": round(t1 - t0, 2), "ask_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2),
            "chunks": report.build.chunks if report.build else 0, "answer_ok": ANSWER in a.text,
            "cited_page": a.citations[0].page if a.citations else None, "loadavg_before": load}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-ui", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-docs-"))
    big = tmp / "forty.pdf"
    text_pdf(big, 40)
    out: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "read_clean": read_speed(big, 40, args.runs),
    }
    print("read+clean:", out["read_clean"], flush=True)
    ten = tmp / "十页 资料.pdf"
    pages = text_pdf(ten, 10, fact=ANSWER, fact_page=7)
    out["ten_page_pdf"] = {"pages": len(pages), "answer_on_page": next(
        (i + 1 for i, ps in enumerate(pages) if any(ANSWER in p for p in ps)), None)}
    out["upload_library"] = upload_library(ten, tmp / "data-lib")
    print("upload (library):", out["upload_library"], flush=True)
    if not args.skip_ui:
        out["upload_page"] = upload_in_page(ten, tmp / "data-ui")
        print("upload (page):", out["upload_page"], flush=True)
    out["targets"] = {"pages_per_s": TARGET_PAGES_S, "upload_to_answer_s": TARGET_UPLOAD_S}
    RESULTS.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
