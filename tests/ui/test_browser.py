"""The chat page in headless Chromium (Playwright, Debian's /usr/bin/chromium)
against a real Gradio server over the real pipeline on the seeds.

Screenshots go to artifacts/ (git-ignored); the first answered question is
also copied to docs/screenshot.png for the README.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.config import REFUSAL_EN, REFUSAL_ZH
from rag.pipeline import Pipeline
from tests.ui.support import (
    ARTIFACTS,
    BOT,
    CHROMIUM,
    INPUT,
    PLANTED_FILE,
    PLANTED_QUESTION,
    ROOT,
    SOURCES,
    ask_in_browser,
    open_browser,
    planted_docs,
    running_app,
    tmp_settings,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
SCREENSHOT = ROOT / "docs" / "screenshot.png"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with open_browser() as b:
        yield b


@pytest.fixture
def page(browser: Any, real_url: str) -> Iterator[Any]:
    p = browser.new_page(viewport={"width": 1400, "height": 1000})
    p.dialogs = []  # type: ignore[attr-defined]
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    p.goto(real_url)
    p.locator(INPUT).wait_for(state="visible", timeout=30_000)
    yield p
    p.close()


def test_answer_with_highlighted_source(page: Any):
    reply = ask_in_browser(page, "2022年平湖实际外资是多少？")
    assert "41414" in reply and "[1]" in reply
    panel = page.locator(SOURCES)
    assert "000_1456ab72d246df34.txt" in panel.inner_text()
    marks = panel.locator("mark")
    assert marks.count() >= 1 and "41414" in marks.first.inner_text()
    assert panel.locator("details").count() == 1  # other passages, collapsed
    assert panel.locator("details").get_attribute("open") is None
    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"), full_page=True)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(ARTIFACTS / "ui-answer.png", SCREENSHOT)
    assert page.dialogs == []


def test_english_question(page: Any):
    reply = ask_in_browser(page, "How much actual FDI was there in 2022?")
    assert "41414" in reply and REFUSAL_EN not in reply
    assert page.locator(f"{SOURCES} mark").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "ui-english.png"), full_page=True)


def test_unanswerable_question_is_refused(page: Any):
    reply = ask_in_browser(page, "平湖2022年的GDP增速是多少？")
    assert REFUSAL_ZH.rstrip("。") in reply
    refused = page.locator(BOT).last.locator(".rag-label-refused")
    assert refused.count() == 1 and refused.is_visible()
    assert page.locator(f"{SOURCES} .rag-label-refused").is_visible()
    assert page.locator(f"{SOURCES} mark").count() == 0
    page.screenshot(path=str(ARTIFACTS / "ui-refusal.png"), full_page=True)


def test_page_controls(page: Any, real_pipeline: Pipeline):
    """Empty input is ignored; timings on demand; earlier sources on click;
    the LLM choice explains itself; clear empties the chat."""
    page.locator(INPUT).press("Enter")
    page.wait_for_timeout(500)
    assert page.locator(BOT).count() == 0

    ask_in_browser(page, "平湖有多少家日资企业？")
    ask_in_browser(page, "津上精密2022年实现产值多少？")
    assert "津上精密" in page.locator(f"{SOURCES} q").inner_text()

    page.get_by_text("设置 · Settings").click()
    page.get_by_label("Show timings").check()
    page.wait_for_function(
        "() => document.querySelectorAll('#rag-chat .rag-timings').length === 2", timeout=10_000
    )
    assert "total" in page.locator(BOT).first.inner_text()

    page.locator(BOT).first.click()  # the first answer's sources come back
    page.wait_for_function(
        "() => document.querySelector('#rag-sources q').textContent.includes('日资企业')",
        timeout=10_000,
    )

    available, _ = real_pipeline.llm_status()
    page.get_by_text("LLM: generated, then verified").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#rag-chat .rag-notice').length === 1", timeout=20_000
    )
    notice = page.locator("#rag-chat .rag-notice").inner_text()
    assert ("LLM answerer selected" if available else "cannot be used") in notice
    if not available:  # the choice falls back to extractive
        assert page.get_by_label("Extractive: quotes the documents (no model)").is_checked()

    page.locator("#rag-clear").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#rag-chat [data-testid=\"bot\"]').length === 0",
        timeout=10_000,
    )
    assert "rag-sources-empty" in page.locator(SOURCES).inner_html()


def test_planted_script_shows_as_text(browser: Any, tmp_path: Path, real_pipeline: Pipeline):
    docs = planted_docs(tmp_path / "docs")
    p = Pipeline(tmp_settings(docs, tmp_path / "index"), embedder=real_pipeline.embedder)
    p.ensure_index()
    dialogs: list[str] = []
    with running_app(p) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        page.locator(INPUT).wait_for(state="visible", timeout=30_000)
        reply = ask_in_browser(page, PLANTED_QUESTION)
        page.locator(f"{SOURCES} details summary").evaluate_all(
            "els => els.forEach(e => e.parentElement.open = true)"
        )
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "ui-planted.png"), full_page=True)
        panel = page.locator(SOURCES)
        text = panel.inner_text()
        assert PLANTED_FILE in text
        assert "<script>alert(1)</script>" in text  # shown literally
        assert "<img src=x onerror=alert(2)>" in text
        assert "${alert(3)}" in text and "{{value}}" in text
        for tag in ("script", "img", "b"):
            assert panel.locator(tag).count() == 0
            assert page.locator(f"#rag-chat .message-content {tag}").count() == 0
        page.close()
    assert dialogs == []
    # the answer quotes the sentence with the markup: shown as text too
    assert "<script>alert(1)</script>灯塔的管理员名叫<b>王小明</b>" in reply
    assert PLANTED_FILE in reply
