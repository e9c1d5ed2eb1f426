"""The recent-projects list: absolute, normalised paths, newest first, no duplicates, at most
:data:`RECENT_LIMIT` entries (the app keeps it in its settings)."""

from __future__ import annotations

import os
from collections.abc import Iterable

PathLike = str | os.PathLike[str]

RECENT_LIMIT = 8


def _entries(recent: Iterable[PathLike] | PathLike | None) -> list[str]:
    """The entries as strings; tolerates None and a lone string (QSettings returns one for a
    one-element list) and skips anything that is not a path."""
    if recent is None:
        return []
    if isinstance(recent, str | os.PathLike):
        recent = [recent]
    return [os.fspath(r) for r in recent if isinstance(r, str | os.PathLike) and os.fspath(r)]


def _normalise(path: PathLike) -> str:
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def add_recent(recent: Iterable[PathLike] | PathLike | None, path: PathLike,
               limit: int = RECENT_LIMIT) -> list[str]:
    """A new recent-projects list: ``path`` first, then the others; absolute, normalised
    paths, no duplicates (case-insensitively where the OS is), at most ``limit`` entries."""
    out: list[str] = []
    seen: set[str] = set()
    for entry in [path, *_entries(recent)]:
        p = _normalise(entry)
        key = os.path.normcase(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out[:max(limit, 0)]


def existing_recent(recent: Iterable[PathLike] | PathLike | None) -> list[str]:
    """The entries of ``recent`` that are still existing files, in order."""
    return [r for r in _entries(recent) if os.path.isfile(r)]


__all__ = ["add_recent", "existing_recent"]
