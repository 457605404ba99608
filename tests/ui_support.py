"""Helpers shared by the UI tests and bench/bench_ui.py (not a test module).

- `free_port()`: a port nobody listens on, for a server started in a test.
- `running_app(pipeline)`: serve the chat page on 127.0.0.1:<free port>
  through `ui.app.serve(block=False)`, yield its URL, close it afterwards.
- `planted_docs(folder)`: a documents folder whose one file contains
  `<script>alert(1)</script>` and other markup next to a known fact.
- `CHROMIUM` / `LAUNCH_ARGS` / `open_browser()`: headless Debian Chromium
  through Playwright (which cannot download its own browser here).
- `ask_in_browser(page, question)`: type, press Enter, wait for the answer.
"""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# Known figures from the seeds: question -> a string the answer must contain.
KNOWN_ANSWERS: dict[str, str] = {
    "2022年平湖实际外资是多少？": "41414",
    "平湖有多少家日资企业？": "114",
    "截至2022年底平湖共有多少家外资企业？": "512",
    "津上精密2022年实现产值多少？": "43.5",
    "今年一季度平湖全市完成实际外资多少？": "1.59",
    "截至2022年底平湖共有多少家欧美企业？": "120",
    "2022年平湖的区域两化融合指数是多少？": "114.29",
    "独山能源三期项目总投资多少？": "102",
}

PLANTED_FILE = "planted.txt"
PLANTED_TEXT = (
    "蓝湾镇的灯塔建于1897年，高度为37米。<script>alert(1)</script>"
    "灯塔的管理员名叫<b>王小明</b>，每天点灯两次。<img src=x onerror=alert(2)>"
    "模板字符串${alert(3)}和{{value}}应当原样显示。\n"
    "The lighthouse of Blue Bay was built in 1897 and is 37 metres tall.\n"
)
PLANTED_QUESTION = "蓝湾镇的灯塔建于哪一年？"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def planted_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PLANTED_FILE).write_text(PLANTED_TEXT, encoding="utf-8")
    return folder


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


def tmp_settings(docs: Path, index: Path, **overrides: Any) -> Settings:
    """Settings for a tmp corpus, ignoring any RAG_* in the environment."""
    return Settings.load(env={}, docs_dir=docs, index_dir=index, **overrides)




@contextlib.contextmanager
def open_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


INPUT = "#rag-input textarea"
BOT = '#rag-chat [data-testid="bot"]'
SOURCES = "#rag-sources"


def ask_in_browser(page: Any, question: str, timeout_ms: float = 60_000) -> str:
    """Ask in the page and return the text of the new, finished answer."""
    before = page.locator(BOT).count()
    box = page.locator(INPUT)
    box.fill(question)
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
    # The generation has finished once Gradio removes its progress status.
    page.wait_for_function(
        "() => !document.querySelector('#rag-chat .progress-text, #rag-chat .eta-bar')",
        timeout=timeout_ms,
    )
    return page.locator(BOT).last.inner_text()
