"""What a list of class names must be, for a data set and for a model file alike: a name each
class can be told by, in a message or a prediction (one rule, so a model trained on data that
loaded can always be saved and opened again)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

# a folder name is at most 255 bytes; shown with \xNN escapes, at most 4 characters a byte
MAX_CLASS_NAME_CHARS = 1024


# characters a name printed on a terminal or shown in a label must not hold: C0 and C1
# controls (ESC starts a terminal's escape sequences, CR rewrites the line), DEL, and the
# line and paragraph separators
_UNPRINTABLE = ("Cc", "Zl", "Zp")


def unprintable(text: str) -> str | None:
    """The first character of ``text`` that is a control character or a line break, as
    ``\\xNN`` / ``\\uNNNN``; None when there is none."""
    for c in text:
        if unicodedata.category(c) in _UNPRINTABLE:
            return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
    return None


def printable(text: str) -> str:
    """``text`` with each control character or line break written as its escape
    (``\\x1b``), as names that are not UTF-8 are shown: how a model file stores a class
    name (a class folder named with an ESC, say)."""
    if unprintable(text) is None:
        return text
    return "".join(c if unicodedata.category(c) not in _UNPRINTABLE
                   else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in text)


def class_names_problem(names: Sequence[str]) -> str | None:
    """Why ``names`` cannot name classes (an empty name, one too long to show, two classes
    of one name, whose outputs a prediction could not tell apart), or None."""
    first: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name == "":
            return f"class name {i} is empty; each class needs a name"
        if len(name) > MAX_CLASS_NAME_CHARS:
            return (f"class name {i} has {len(name):,} characters, over the limit of "
                    f"{MAX_CLASS_NAME_CHARS:,}")
        key = printable(name)  # as a model file stores it: ESC and '\\x1b' are one name
        if key in first:
            return (f"class names {first[key]} and {i} are both '{key}'; each class needs a "
                    f"name of its own")
        first[key] = i
    return None
