"""The API's argument checks: a bad argument is a ValueError that names it."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

MAX_SEED = 2**63 - 1  # as the command line's --seed


def whole(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        top = "" if high is None else f" and <= {high}"
        raise ValueError(f"{name} must be >= {low}{top}, got {value}")
    return int(value)


def number(name: str, value: object, low: float, low_open: bool = False,
            high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    x = float(value)
    if (not math.isfinite(x) or x < low or (low_open and x == low)
            or (high is not None and x >= high)):
        bounds = f"{'>' if low_open else '>='} {low:g}" + ("" if high is None
                                                           else f" and < {high:g}")
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    return x


def flag(name: str, value: object) -> bool:
    """``value`` when it is True or False (a NumPy bool too): ``bool("no")`` would be True."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(name: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def named(name: str, check: Callable[[], str]) -> str:
    """``check()``'s result; its ValueError said with the argument's name in front."""
    try:
        return check()
    except (ValueError, AttributeError) as exc:  # AttributeError: a name that is no str
        raise ValueError(f"{name}: {exc}") from None
