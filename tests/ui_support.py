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
    "截至2022年底，平湖全市共有外资企业多少家？": "512",
    "津上精密2022年实现产值多少？": "43.5",
    "今年一季度平湖全市完成实际外资多少？": "1.59",
    "2022年平湖的区域两化融合指数是多少？": "114.29",
    "5月9日产业链高质量发展签约大会集中签约项目多少个？": "28",
    "津上精密有多少名员工？": "1900",
}

PLANTED_FILE = "planted.txt"
PLANTED_TEXT = (
    "蓝湾镇的灯塔建于1897年，高度为37米。<script>alert(1)</script>"
    "灯塔的管理员名叫<b>王小明</b>，每天点灯两次。<img src=x onerror=alert(2)>"
    "模板字符串${alert(3)}和{{value}}应当原样显示。\n"
    "The lighthouse of Blue Bay was built in 1897 and is 37 metres tall.\n"
)
PLANTED_QUESTION = "灯塔的管理员叫什么名字？"  # answered by quoting the <script> sentence


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FILLER_TEXT = (
    "青山村的茶园种植面积为120亩，主要出产绿茶。\n"
    "村里的小学建于1965年，现有学生86名。\n"
    "The tea gardens of Green Hill village cover 120 mu.\n"
)


def planted_docs(folder: Path) -> Path:
    """The planted file and an unrelated one (BM25 needs more than one
    document for its word weights to mean anything)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PLANTED_FILE).write_text(PLANTED_TEXT, encoding="utf-8")
    (folder / "filler.txt").write_text(FILLER_TEXT, encoding="utf-8")
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


def message_text(message: dict[str, Any]) -> str:
    """The text of a Chatbot message as gradio_client returns it."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def last_reply(chat: list[dict[str, Any]]) -> str:
    replies = [m for m in chat if m["role"] == "assistant"]
    assert replies, f"no assistant message in {chat!r}"
    return message_text(replies[-1])


def api_ask(client: Any, question: str, **settings: Any) -> tuple[str, str, list[dict[str, Any]]]:
    """Ask through the /chat endpoint: (last reply, sources HTML, chat)."""
    args = {"mode": "hybrid", "k": 5, "answerer": "extractive", "show_timings": False, **settings}
    _, chat, sources = client.predict(question, *args.values(), api_name="/chat")
    return last_reply(chat), sources, chat


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
