"""The streaming hand-off (`TextStream`) and the records' JSON forms."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from rag.types import AnswerStream, Draft, DraftStream, TextStream

pytestmark = pytest.mark.unit


def _gen(parts: list[str], result: str) -> Generator[str, None, str]:
    yield from parts
    return result


def test_iterating_yields_the_deltas_then_result_gives_the_record() -> None:
    s = TextStream(_gen(["41414", "万美元"], "final"))
    assert list(s) == ["41414", "万美元"]
    assert s.result() == "final"
    assert s.result() == "final"  # idempotent
    assert list(s) == []  # nothing left to yield


def test_result_drains_what_was_not_iterated() -> None:
    s = TextStream(_gen(["a", "b", "c"], "done"))
    assert next(iter(s)) == "a"
    assert s.result() == "done"


def test_errors_surface_where_the_stream_is_consumed() -> None:
    def boom() -> Generator[str, None, str]:
        yield "partial"
        raise RuntimeError("backend died")

    s = TextStream(boom())
    it = iter(s)
    assert next(it) == "partial"
    with pytest.raises(RuntimeError, match="backend died"):
        s.result()


def test_named_accessors() -> None:
    d = Draft(text="x", refused=False)

    def g() -> Generator[str, None, Draft]:
        return d
        yield  # pragma: no cover

    assert DraftStream(g()).draft() is d
    assert issubclass(AnswerStream, TextStream)
