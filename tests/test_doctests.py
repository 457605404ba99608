"""The worked examples in module docstrings (`>>>`) are tests too: every
module of `rag` that has one is run through doctest here."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import rag

pytestmark = pytest.mark.unit


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(rag.__path__, "rag."):
        spec = importlib.util.find_spec(info.name)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        with open(spec.origin, encoding="utf-8") as f:
            if ">>> " in f.read():
                names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_modules_with_examples_are_found() -> None:
    assert {"rag.answer.checks", "rag.answer.units", "rag.answer.question"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_worked_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
