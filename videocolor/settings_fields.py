"""Declared settings: a dataclass field per knob, with its default and what values it accepts.

Every settings section (``Settings``, and each model's own section) declares its fields with :func:`knob`,
so one generic check validates type and range, whether the values come from a TOML file, the command
line or Python. Adding a knob is one line::

    temperature: float = knob(0.02, low=1e-30, high=1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import MISSING, Field, field, fields
from typing import Any

from .errors import InputError

_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def knob(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: Iterable[Any] | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """A settings field: ``default`` gives its type; ``low``/``high`` (both included), ``choices`` or ``check``
    (returns a problem, or ``None`` when the value is fine) bound its values. A float knob must be finite."""
    return field(default=default, metadata={"knob": (low, high, tuple(choices or ()), check)})


def knobs(section: Any) -> list[Field]:
    """The knob fields of a settings dataclass (class or instance)."""
    return [f for f in fields(section) if "knob" in f.metadata]


def coerce(section: type, key: str, value: Any) -> Any:
    """``value`` for field ``key`` of ``section`` with an integer accepted where a number is wanted."""
    default = next(f.default for f in knobs(section) if f.name == key)
    if type(default) is float and type(value) is int:
        return float(value)
    return value


def check_knobs(section: Any, prefix: str = "") -> None:
    """Raise a one-line :class:`InputError` naming the first field of ``section`` whose value is not allowed.

    ``prefix`` is put before field names in the message (``exemplar.`` for ``[videocolor.exemplar]``).
    """
    for f in knobs(section):
        value = getattr(section, f.name)
        problem = _problem(f, value)
        if problem:
            raise InputError(f"setting {prefix}{f.name} {problem}, got {value!r}")


def _problem(f: Field, value: Any) -> str | None:
    low, high, choices, check = f.metadata["knob"]
    expected = type(f.default) if f.default is not MISSING else object
    if type(value) is not expected and not (expected is float and type(value) is int):
        return f"must be {_TYPE_NAMES.get(expected, expected.__name__)}"
    if expected is float and not math.isfinite(value):  # TOML and Python both accept nan and inf
        return "must be a finite number"
    if choices and value not in choices:
        return f"must be one of {', '.join(map(str, choices))}"
    if (low is not None and value < low) or (high is not None and value > high):
        return f"must be {_range(low, high)}"
    return check(value) if check else None


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"in [{low:g}, {high:g}]"
    if low is not None:
        return f"at least {low:g}"
    return f"at most {high:g}"


def accepted(f: Field) -> str:
    """What a knob field accepts, in words (the settings reference page): its type, then its choices or range."""
    low, high, choices, _ = f.metadata["knob"]
    kind = _TYPE_NAMES.get(type(f.default), type(f.default).__name__)
    if choices:
        return f"one of {', '.join(map(str, choices))}"
    if type(f.default) is float:
        kind = "a finite number"
    if low is not None or high is not None:
        return f"{kind}, {_range(low, high)}"
    return kind
