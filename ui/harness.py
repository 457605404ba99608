"""Driving the chat page from code: serve it on a free loopback port, open
headless Chromium, ask and time a question. Used by the UI tests and by
bench/bench_ui.py (benchmarks import no test module).

- `free_port()`, `wait_http_ok(url)`, `running_app(pipeline)`;
- `CHROMIUM` / `LAUNCH_ARGS` / `open_browser()`: headless Debian Chromium
  through Playwright (which cannot download its own browser here);
- `ask_in_browser(page, q)` / `timed_ask(page, q)`: type, press Enter, wait
  for the finished answer.

Left out: anything the page itself needs (ui/app.py never imports this).
"""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
INPUT = "#rag-input textarea"
BOT = '#rag-chat [data-testid="bot"]'
SOURCES = "#rag-sources"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http_ok(url: str, timeout: float = 30.0) -> float:
    """Seconds until `url` answers HTTP 200."""
    t0 = time.perf_counter()
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            pass
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{url} did not answer within {timeout} s")
        time.sleep(0.05)


@contextlib.contextmanager
def running_app(pipeline: Any, port: int | None = None) -> Iterator[str]:
    """Serve the chat page for `pipeline` on a free loopback port."""
    from ui.app import serve

    port = port or free_port()
    app = serve(pipeline, host="127.0.0.1", port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http_ok(url)
        yield url
    finally:
        app.close()


@contextlib.contextmanager
def open_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def ask_in_browser(page: Any, question: str, *, timeout_ms: float = 60_000) -> str:
    """Ask in the page and return the text of the finished answer."""
    return timed_ask(page, question, timeout_ms=timeout_ms)[0]


def timed_ask(page: Any, question: str, *, timeout_ms: float = 60_000) -> tuple[str, float]:
    """Ask in the page: (text of the new, finished answer, seconds from
    pressing Enter until it was finished).

    Finished means: a new assistant message without the pending marker,
    Gradio's progress indicator gone, and (unless the reply is an error or
    notice) the sources panel showing this question.
    """
    before = page.locator(BOT).count()
    box = page.locator(INPUT)
    box.fill(question)
    t0 = time.perf_counter()
    box.press("Enter")
    page.wait_for_function(
        """([sel, n]) => {
            const bots = document.querySelectorAll(sel);
            if (bots.length <= n) return false;
            const last = bots[bots.length - 1];
            return !last.querySelector('.rag-pending') && !last.innerText.includes('▌');
        }""",
        arg=[BOT, before],
        timeout=timeout_ms,
    )
    page.wait_for_function(
        """([q]) => {
            if (document.querySelector('#rag-chat .progress-text, #rag-chat .eta-bar')) return false;
            const bots = document.querySelectorAll('#rag-chat [data-testid="bot"]');
            const last = bots[bots.length - 1];
            if (last.querySelector('.rag-error, .rag-notice')) return true;
            const panel = document.querySelector('#rag-sources q');
            return panel !== null && panel.textContent === q;
        }""",
        arg=[question.strip()],
        timeout=timeout_ms,
    )
    seconds = time.perf_counter() - t0
    return page.locator(BOT).last.inner_text(), seconds
