"""Reading the panels' saved values (a project's, the last session's): each value is checked
before a widget gets it, so that a bad one is never silently clamped or dropped by Qt. A value
that cannot be used is replaced, and the panel lists it in one line (:class:`Replaced`), which
the window shows (MainWindow.report_replaced)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any


def shown(value: Any, limit: int = 40) -> str:
    """A saved value as the user would read it, cut to ``limit`` characters."""
    if isinstance(value, float) and not math.isfinite(value):
        text = str(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def whole_in(value: Any, lo: int, hi: int) -> int | None:
    """``value`` as a whole number in [lo, hi] (a float like 30.0 counts), None if not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            return None
        value = int(value)
    if not isinstance(value, int) or not lo <= value <= hi:
        return None
    return value


def number_in(value: Any, lo: float, hi: float) -> float | None:
    """``value`` as a finite number in [lo, hi], None if not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    if not (math.isfinite(number) and lo <= number <= hi):
        return None
    return number


class Replaced:
    """The values a panel could not use, one line each: what was saved, what is used."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, what: str, value: Any, why: str, instead: Any) -> None:
        self.lines.append(f"{what}: {shown(value)} {why}; {shown(instead)} is used instead")

    def choice(self, what: str, state: dict, key: str, choices: Sequence[str],
               current: str) -> str | None:
        """``state[key]`` when it is one of ``choices``; None (listed unless the key is
        missing, as in older files) otherwise."""
        if key not in state:
            return None
        value = state[key]
        if isinstance(value, str) and value in choices:
            return value
        self.add(what, value, f"is not one of {', '.join(choices)}", current)
        return None
