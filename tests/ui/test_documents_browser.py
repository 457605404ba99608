"""The documents panel in headless Chromium against the real pipeline: create
a collection, upload a PDF (and a text file) through the page, wait for
each file's progress to finish, ask about the PDF and see page 2 cited and
drawn; delete the PDF and the same question is refused. About 40 s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rag.pipeline import Pipeline
from tests.docs_fixtures import FIXTURES, make
from tests.ui.support import (
    ARTIFACTS,
    BOT,
    CHROMIUM,
    INPUT,
    SOURCES,
    ask_in_browser,
    open_browser,
    running_app,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def page(real_pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("docs-ui")
    make("pdf", tmp)  # before the browser: Playwright's sync API runs one at a time
    settings = real_pipeline.settings.with_(data_dir=tmp / "data")
    pipeline = Pipeline(settings, embedder=real_pipeline.embedder)
    pipeline.ensure_index()
    ARTIFACTS.mkdir(exist_ok=True)
    with running_app(pipeline) as url, open_browser() as browser:
        p = browser.new_page(viewport={"width": 1400, "height": 1200})
        p.goto(url)
        p.locator(INPUT).wait_for(state="visible", timeout=30_000)
        yield p, tmp
        p.close()


def test_upload_ask_page_cited_delete_refused(page: Any) -> None:
    p, tmp = page
    pdf = tmp / FIXTURES["pdf"].file
    filler = tmp / "说明 notes.txt"
    filler.write_text("青山村的茶园种植面积为120亩，主要出产绿茶。村里的小学建于1965年。", encoding="utf-8")
    f = FIXTURES["pdf"]

    p.locator("#rag-docs").get_by_text("资料库 · Documents").first.click()  # open the accordion
    p.locator("#rag-new-collection textarea, #rag-new-collection input").first.fill("t")
    p.locator("#rag-create").click()
    bot = p.locator(BOT)
    p.wait_for_function("() => document.body.innerText.includes('Now asking collection “t”')", timeout=30_000)
    assert bot.count() >= 1

    p.locator("#rag-upload input[type=file]").set_input_files([str(pdf), str(filler)])
    p.wait_for_function(
        """() => { const rows = document.querySelectorAll('#rag-progress .rag-upload-row');
                   return rows.length === 2 && [...rows].every(r => r.dataset.stage === 'done'); }""",
        timeout=120_000,
    )
    # The list is redrawn with the last progress update.
    p.wait_for_function("(f) => document.querySelector('#rag-documents').innerText.includes(f)", arg=f.file)
    table = p.locator("#rag-documents").inner_text()
    assert f.file in table and "说明 notes.txt" in table and "indexed" in table
    p.screenshot(path=str(ARTIFACTS / "ui-documents.png"), full_page=True)

    reply = ask_in_browser(p, f.question)
    assert "41414" in reply and f"{f.file} · p. 2" in reply
    panel = p.locator(SOURCES)
    assert "p. 2" in panel.inner_text()
    p.locator(f"{SOURCES} details.rag-page-view summary").first.click()
    img = p.locator(f"{SOURCES} img.rag-page-img").first
    img.wait_for(state="visible")
    assert img.evaluate("i => i.naturalWidth") > 500
    p.screenshot(path=str(ARTIFACTS / "ui-page-cited.png"), full_page=True)

    p.locator("#rag-delete-choice input").click()
    p.get_by_role("option", name=f.file).first.click()
    p.locator("#rag-delete").click()
    p.wait_for_function("() => document.querySelector('#rag-progress').innerText.includes('Deleted')", timeout=60_000)
    assert f.file not in p.locator("#rag-documents").inner_text()
    reply = ask_in_browser(p, f.question)
    assert "41414" not in reply and "未回答" in reply, reply
