"""Every format end to end with the real embedder and real OCR: fixtures
made from seed text are added to collection `t` with `rag add`; for each,
`rag --collection t ask` answers a question whose answer is only in that
file, cites the file (and its page), and the quote is in the extracted
text at the cited offsets. About 30 s (two pages of OCR)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from rag.ingest.extract import extract
from rag.ingest.ocr import available
from rag.pipeline import Pipeline
from tests.cli.test_cli import invoke
from tests.docs_fixtures import CHROMIUM, FIXTURES, make_all

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (prints the PDF)"),
    pytest.mark.skipif(not available(), reason="the ocr extra is not installed"),
]


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, real_pipeline: Pipeline) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("formats")
    paths = make_all(tmp / "in")
    mp = pytest.MonkeyPatch()
    for key in list(os.environ):
        if key.startswith("RAG_") and key != "RAG_CACHE_DIR":
            mp.delenv(key)
    mp.setenv("RAG_DATA_DIR", str(tmp / "data"))
    mp.setenv("RAG_ANSWERER", "extractive")  # `auto` would pick the local model where installed
    mp.setenv("RAG_SERVER_URL", "off")
    # The session's real model, so each command does not load it again.
    mp.setattr("rag.models.embed.load_embedder", lambda settings, show_progress=False: real_pipeline.embedder)
    r = invoke(["--collection", "t", "add", *map(str, paths.values())])
    assert r.exit_code == 0, r.output
    yield {"paths": paths, "add": r}
    mp.undo()


def test_every_file_was_added_and_indexed(collection: dict[str, Any]) -> None:
    out = collection["add"].stdout
    for kind, f in FIXTURES.items():
        assert f"added {f.file}" in out, (kind, out)
    assert "collection t: 7 documents" in out
    assert "(pdf, 2 pages)" in out and "(image, 1 pages)" in out


@pytest.mark.parametrize("kind", list(FIXTURES))
def test_answer_cites_the_file_page_and_offsets(collection: dict[str, Any], kind: str) -> None:
    f = FIXTURES[kind]
    r = invoke(["--collection", "t", "ask", f.question, "--json"])
    assert r.exit_code == 0, r.output
    ans = json.loads(r.stdout)
    assert not ans["refused"] and f.answer in ans["answer"], ans["answer"]
    cit = ans["citations"][0]
    assert cit["source"] == f.file, (kind, [c["source"] for c in ans["citations"]])
    assert cit["page"] == f.page
    extracted = extract(collection["paths"][kind]).text
    # The cited span of the extracted text is the passage (cleaning only
    # joins lines), and the quote is inside it.
    span = "".join(extracted[cit["start"] : cit["end"]].split())
    assert "".join(cit["passage"].split()) == span
    assert "".join(cit["quote"].split()) in span and f.answer in cit["quote"]


def test_text_output_names_the_page(collection: dict[str, Any]) -> None:
    f = FIXTURES["pdf"]
    r = invoke(["--collection", "t", "ask", f.question])
    assert r.exit_code == 0, r.output
    assert f"{f.file} · p. 2 ·" in r.stdout and "41414" in r.stdout
