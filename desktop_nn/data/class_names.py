"""What a list of class names must be, for a data set and for a model file alike: a name each
class can be told by, in a message or a prediction (one rule, so a model trained on data that
loaded can always be saved and opened again)."""

from __future__ import annotations

from collections.abc import Sequence

# a folder name is at most 255 bytes; shown with \xNN escapes, at most 4 characters a byte
MAX_CLASS_NAME_CHARS = 1024


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
        if name in first:
            return (f"class names {first[name]} and {i} are both '{name}'; each class needs a "
                    f"name of its own")
        first[name] = i
    return None
