"""The fault suite: every case of issue 14, reproduced and asserted fixed.

Every module is marked `faults`; fast (the fake embedder, tmp
folders, real `rag` processes where a kill or a signal is the point), apart
from the few marked `integration` that need the real model.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RAG_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RAG_ANSWERER", "extractive")  # `auto` would pick the local model where installed
    monkeypatch.setenv("RAG_SERVER_URL", "off")  # `rag ask` answers in-process, never via a server
