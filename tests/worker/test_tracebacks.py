"""taskora.tracebacks prints what the standard library prints, less the 3.11 underlining, and parses nothing."""

from __future__ import annotations

import ast
import builtins
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from taskora.tracebacks import format_exception

_UNDERLINE = re.compile(r"^\s*[\^~]+\s*$")


def standard_without_underlines(error: BaseException) -> str:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return "".join(line for line in text.splitlines(keepends=True) if not _UNDERLINE.match(line))


def caught(raiser: Callable[[], Any]) -> BaseException:
    try:
        raiser()
    except BaseException as exc:  # noqa: BLE001 - the exception is what the test looks at
        return exc
    raise AssertionError("raiser did not raise")


def plain() -> None:
    values: dict[str, int] = {}
    values["missing"] + 1  # noqa: B018 - an expression with underlining in 3.11


def caused() -> None:
    try:
        plain()
    except KeyError as exc:
        raise ValueError("bad input") from exc


def during_handling() -> None:
    try:
        plain()
    except KeyError:
        int("not a number")


def context_suppressed() -> None:
    try:
        plain()
    except KeyError:
        raise RuntimeError("replaced") from None


def recursing(n: int = 40) -> None:
    if n == 0:
        raise OverflowError("deep")
    recursing(n - 1)


def with_note() -> None:
    exc = TypeError("noted")
    if hasattr(exc, "add_note"):
        exc.add_note("a note a handler added")
    raise exc


@pytest.mark.parametrize("raiser", [plain, caused, during_handling, context_suppressed, recursing, with_note])
def test_the_text_is_the_standard_one_without_underlining(raiser: Callable[[], Any]) -> None:
    error = caught(raiser)
    assert format_exception(error) == standard_without_underlines(error)


def test_an_exception_never_raised_has_no_traceback_section() -> None:
    assert format_exception(ValueError("never raised")) == "ValueError: never raised\n"


def test_a_chain_that_loops_back_ends() -> None:
    first, second = ValueError("first"), KeyError("second")
    first.__context__, second.__context__ = second, first
    assert format_exception(first) == standard_without_underlines(first)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are new in Python 3.11")
def test_an_exception_group_keeps_the_standard_layout() -> None:
    group_type = getattr(builtins, "ExceptionGroup")  # noqa: B009 - a name Python 3.10 does not have

    def raise_group() -> None:
        raise group_type("two", [ValueError("a"), KeyError("b")])

    group = caught(raise_group)
    assert format_exception(group) == "".join(traceback.format_exception(group))


def test_no_source_line_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing each frame's source (3.11's underlining) was most of a retried run's cost in a worker."""
    error = caught(caused)
    parsed: list[str] = []
    real_parse = ast.parse

    def counting_parse(source: Any, *args: Any, **kwargs: Any) -> Any:
        parsed.append(str(source))
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting_parse)
    assert "bad input" in format_exception(error)
    assert parsed == []
