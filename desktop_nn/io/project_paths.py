"""How a project file refers to paths around it: the data folder is stored as given plus,
when it lies inside the project's folder, relative to it (resolved back on load, so a project
folder moved together with its data still opens); a relative reference (the model's) must not
leave the project's folder on any platform."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from desktop_nn.data.sources import SAMPLE_NAME
from desktop_nn.data.toy2d import is_toy_spec

PathLike = str | os.PathLike[str]


def _unsafe_reference(ref: str) -> bool:
    """True when a relative reference is absolute or climbs out (``..``) on any platform."""
    for pure in (PurePosixPath(ref), PureWindowsPath(ref)):
        if pure.is_absolute() or pure.drive or pure.root or ".." in pure.parts:
            return True
    return False


def _relative_below(folder: Any, project_dir: Path) -> str | None:
    """``folder`` relative to ``project_dir`` (POSIX separators) when it lies inside it."""
    if not isinstance(folder, str) or not folder.strip() or folder == SAMPLE_NAME \
            or is_toy_spec(folder):  # built in: no file
        return None
    try:
        target = Path(folder).expanduser().resolve()
        return target.relative_to(project_dir.resolve()).as_posix()
    except (OSError, ValueError, RuntimeError):
        return None


def _data_for_file(data: dict, project_dir: Path) -> dict:
    """The data settings as written: ``folder`` as given, plus ``folder_relative`` if inside."""
    out = {k: v for k, v in data.items() if k != "folder_relative"}
    rel = _relative_below(out.get("folder"), project_dir)
    if rel is not None:
        out["folder_relative"] = rel
    return out


def resolve_data_folder(data: dict, project_dir: PathLike) -> dict:
    """The data settings with ``folder_relative`` consumed: when it names an existing path
    inside ``project_dir``, ``folder`` becomes that absolute path; otherwise ``folder`` stays
    as stored (the data panel will then report it missing, naming it)."""
    out = dict(data)
    rel = out.pop("folder_relative", None)
    if isinstance(rel, str) and rel.strip() and not _unsafe_reference(rel):
        candidate = Path(os.path.abspath(project_dir)) / PurePosixPath(rel)
        if candidate.exists():
            out["folder"] = os.path.normpath(candidate)
    return out


__all__ = ["resolve_data_folder"]
