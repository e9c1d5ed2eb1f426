"""Parsing the JSON of a user's file (a model header, a project, a training state, a recovery
marker) so that any text gives a value or a ValueError, never something else later.

Python refuses to turn a string of more than 4300 digits into an int with a plain ValueError,
and a few thousand digits can still make a product or a message fail later. No number
desktop-nn writes has more than 40 digits (the shuffling generator's 128-bit state), so an
integer of more than :data:`MAX_INT_DIGITS` digits is refused while parsing.
"""

from __future__ import annotations

import json
from typing import Any

MAX_INT_DIGITS = 100


class JsonValueError(ValueError):
    """The text is JSON, but holds a value that is not read (an integer too long)."""


def _int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise JsonValueError(f"holds an integer of {digits} digits (more than "
                             f"{MAX_INT_DIGITS}: not a value desktop-nn writes)")
    return int(text)


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``, refusing integers of more than :data:`MAX_INT_DIGITS` digits.
    Raises json.JSONDecodeError for text that is not JSON, :class:`JsonValueError` for a
    value that is not read (both ValueErrors), and RecursionError for nesting too deep."""
    return json.loads(text, parse_int=_int)


__all__ = ["JsonValueError", "MAX_INT_DIGITS", "loads"]
