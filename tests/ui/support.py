"""Data and helpers the UI tests share (not a test module). Driving the page
(serving it, Chromium, asking) lives in ui/harness.py, re-exported here.

- `KNOWN_ANSWERS`: seed questions and a string each answer must contain.
- `planted_docs(folder)`: a documents folder whose one file contains
  `<script>alert(1)</script>` and other markup next to a known fact.
- `api_ask(client, q)`: ask through the page's /chat API endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.config import Settings
from ui.harness import (  # noqa: F401 - re-exported for the UI tests
    BOT,
    CHROMIUM,
    INPUT,
    LAUNCH_ARGS,
    SOURCES,
    ask_in_browser,
    free_port,
    open_browser,
    running_app,
    timed_ask,
    wait_http_ok,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

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
    return Settings.load(env={}, docs_dir=docs, index_dir=index, **{"answerer": "extractive", **overrides})


