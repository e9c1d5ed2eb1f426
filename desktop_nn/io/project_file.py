"""Projects (``.dnnproj``): the whole setup of the app in one JSON file, plus autosave recovery.

A project file is a UTF-8 JSON object::

    {
      "format": "desktop-nn-project",
      "format_version": 1,
      "name": "digits",
      "designer": {...},          # DesignerPanel.state()
      "data": {...},              # DataPanel.state(); see "data folder" below
      "training": {...},          # TrainingPanel.state()
      "model": "digits.model.npz" | null,   # trained model beside the project
      "runs": [{...}, ...],       # optional JSON-able run summaries
      "created": "2025-01-01T12:00:00+00:00",
      "saved": "2025-01-02T08:30:00+00:00",
      "app_version": "0.1.0",
      "generation": "9f1c..."     # this save; the model and state files carry it too
    }

A save is one unit (:func:`save_project`): the project, its model (``<stem>.model.npz``) and its
training state (``<stem>.state.npz``) are all written to temporaries first and moved into place
only when all three are whole, the project last; a failure on the way leaves the old set as it
was (:func:`~desktop_nn.io.atomic.write_together`). Each of the three carries the save's
``generation``. On open (:func:`desktop_nn.io.project_open.open_project`) a model or state
whose generation is not the project's (a save killed between two renames, a file copied in
from elsewhere) is left out and said so in its notes: the project file decides what belongs to
the project, and weights and training state of different saves are never mixed. Files without
a generation (written before it existed) match a project without one.

Settings: the panels' values are checked (:mod:`desktop_nn.io.project_settings`); a project
with a value the window cannot show as written is refused, with every such value named.

Data folder: ``data["folder"]`` is stored exactly as given; when it lies inside the project's
folder, ``data["folder_relative"]`` (POSIX separators) is stored too. On load the relative
path wins when it exists, so a project folder moved together with its data still opens;
``folder_relative`` is consumed on load and never appears in :attr:`Project.data`.

Model: :func:`save_project` writes the trained model beside the project as
``<stem>.model.npz`` (see :mod:`desktop_nn.io.model_file`); the reference is a relative name
and a reference that leaves the project folder (``../x.npz``, an absolute path) is refused.

Strict JSON is written: NaN and infinities (a diverged run) become ``null``. Nothing is ever
unpickled; every problem on load is a :class:`ProjectFileError` naming the file and the problem.
Writes are atomic (temporary file, fsync, ``os.replace``). Nothing here imports Qt.

This module owns the file itself, the model and training-state files beside it, and loading
and saving them. How the data folder and the model are referred to is in
:mod:`desktop_nn.io.project_paths`; autosave recovery in :mod:`desktop_nn.io.recovery`; the
recent-projects list in :mod:`desktop_nn.io.recent_projects`.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import desktop_nn
from desktop_nn.backend import Backend
from desktop_nn.io import json_text
from desktop_nn.io.atomic import write_together
from desktop_nn.io.model_file import ModelFile, ModelFileError, load_model, model_writer
from desktop_nn.io.npz_reader import (
    NotRegularFileError,
    TooLargeError,
    os_problem,
    read_regular,
)
from desktop_nn.io.project_paths import (
    PathLike,
    _data_for_file,
    _unsafe_reference,
    resolve_data_folder,
)
from desktop_nn.io.project_settings import check_project_settings
from desktop_nn.io.trainer_state import (
    TrainerStateError,
    UnusableTrainerState,
    read_trainer_state,
    write_trainer_state,
)
from desktop_nn.nn.network import NetworkSpec

FORMAT = "desktop-nn-project"
FORMAT_VERSION = 1
SUFFIX = ".dnnproj"
MODEL_SUFFIX = ".model.npz"
MAX_PROJECT_BYTES = 10 * 1024 * 1024


class ProjectFileError(ValueError):
    """A project file cannot be loaded; the message names the file and the problem."""


class GenerationMismatch(ProjectFileError):  # noqa: N818 (a ProjectFileError, named for what)
    """A model or training-state file belongs to another save than the project."""


class UnusableState(ProjectFileError):  # noqa: N818 (a ProjectFileError, named for what)
    """The training-state file reads, but a run cannot continue from its values."""


class _Invalid(ValueError):
    """Internal: a problem with a project's contents (no file name yet)."""


@dataclass
class Project:
    """Everything a ``.dnnproj`` file holds.

    Attributes:
        name: the project's display name.
        designer: ``DesignerPanel.state()`` (JSON-able dict).
        data: ``DataPanel.state()`` (JSON-able dict; ``folder`` is the data folder or file).
        training: ``TrainingPanel.state()`` (JSON-able dict).
        model: file name of the trained model relative to the project's folder, or None.
            Set by :func:`save_project` / :func:`load_project`; ignored when saving.
        runs: JSON-able summaries of training runs (dicts), oldest first.
        created: ISO 8601 UTC time the project was first saved, or None (not saved yet).
        saved: ISO 8601 UTC time of the last save, or None; stamped by :func:`save_project`.
        app_version: desktop-nn version that wrote the file; stamped by :func:`save_project`.
        generation: the save this project file was written by (its model and state files
            carry the same), or None; stamped by :func:`save_project`.
    """

    name: str = "Untitled"
    designer: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    model: str | None = None
    runs: list[dict] = field(default_factory=list)
    created: str | None = None
    saved: str | None = None
    app_version: str | None = None
    generation: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Project:
        """A Project from a mapping of its fields (other keys, e.g. ``format``, are ignored).

        Types are checked when the project is saved, not here.
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def project_home(path: PathLike) -> Path:
    """Where a project's set lives: a symbolic link to a project file stands for the file it
    leads to, so the model and state are written and read beside that file (never beside the
    link, where the real project would not find them)."""
    p = Path(path)
    # a link to no regular file is kept: writing refuses it naming it (io/atomic.py)
    return Path(os.path.realpath(p)) if p.is_symlink() and p.is_file() else p


def model_file_name(project_path: PathLike) -> str:
    """The model's file name beside a project: ``<stem>.model.npz`` (``a.dnnproj`` -> ``a``)."""
    return Path(project_path).stem + MODEL_SUFFIX


def state_file_path(project_path: PathLike) -> Path:
    """Where the training state (optimiser, shuffling generator, counters; see
    :mod:`desktop_nn.io.trainer_state`) lies beside a project: ``<stem>.state.npz``."""
    p = Path(project_path)
    return p.with_name(p.stem + ".state.npz")


def _short(generation: str | None) -> str:
    return "none" if generation is None else generation[:8]


def load_project_state(project_path: PathLike, project: Project | None = None,
                       spec: NetworkSpec | None = None) -> tuple[dict, dict] | None:
    """The training state beside the project, or None when there is none. Raises
    :class:`ProjectFileError` naming the file when it is damaged, :class:`UnusableState`
    when its values are not a state to continue from (with ``spec``, the model's: not of its
    shapes), and :class:`GenerationMismatch` when ``project`` is given and the state belongs
    to another save than it."""
    path = state_file_path(project_home(project_path))
    if not os.path.lexists(path):
        return None
    try:
        got = read_trainer_state(path, spec)
    except UnusableTrainerState as exc:
        raise UnusableState(str(exc)) from None
    except TrainerStateError as exc:
        raise ProjectFileError(str(exc)) from None
    if project is not None and got.generation != project.generation:
        raise GenerationMismatch(
            f"{Path(project_path)}: its training state {path.name} belongs to another save "
            f"(save {_short(got.generation)}, the project's is {_short(project.generation)}); "
            "the last save was interrupted")
    return got.trainer, got.arrays


# ------------------------------------------------------------------------------ JSON values
def _plain(value: Any, where: str) -> Any:
    """``value`` as plain JSON data: numpy scalars unwrapped, Paths as str, tuples as lists,
    NaN / inf as None (strict JSON has no NaN). Raises _Invalid for anything else."""
    if isinstance(value, np.generic | np.ndarray):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise _Invalid(f"{where} has a key {k!r} that is not a string")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise _Invalid(f"{where} holds a {type(value).__name__}, which JSON cannot store")


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null",
            bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


def _check_model_reference(ref: Any) -> str | None:
    if ref is None:
        return None
    if not isinstance(ref, str) or not ref.strip():
        raise _Invalid(f"'model' must be a file name or null, got {_type_name(ref)}")
    if _unsafe_reference(ref):
        raise _Invalid(f"the model reference {ref!r} points outside the project folder; "
                       "refusing it (it must be a file name beside the project)")
    return ref


# ------------------------------------------------------------------------------ write
def _document(project: Project, project_path: Path, model_ref: str | None,
              generation: str) -> dict:
    """The JSON object for ``project`` saved at ``project_path``; validates types."""
    if not isinstance(project.name, str):
        raise _Invalid(f"'name' must be a string, got {_type_name(project.name)}")
    for key in ("designer", "data", "training"):
        if not isinstance(getattr(project, key), Mapping):
            raise _Invalid(f"'{key}' must be a dict, got {_type_name(getattr(project, key))}")
    runs = project.runs if project.runs is not None else []
    if not isinstance(runs, list | tuple) or not all(isinstance(r, Mapping) for r in runs):
        raise _Invalid("'runs' must be a list of dicts")
    now = _now()
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": project.name,
        "designer": _plain(project.designer, "designer"),
        "data": _data_for_file(_plain(project.data, "data"), project_path.parent),
        "training": _plain(project.training, "training"),
        "model": model_ref,
        "runs": _plain(list(runs), "runs"),
        "created": project.created if isinstance(project.created, str) else now,
        "saved": now,
        "app_version": desktop_nn.__version__,
        "generation": generation,
    }


def save_project(path: PathLike, project: Project, model: ModelFile | None = None,
                 state: tuple[dict, dict] | None = None, drop_old_model: bool = False) -> Path:
    """Write ``project`` to ``path`` (kept as given; no suffix is added), with its model and
    training state beside it, as one unit; returns the Path.

    With ``model``, the model goes beside the project as ``<stem>.model.npz`` and is
    referenced; with None the project refers to no model (an old model file beside it is left
    alone, unreferenced, unless ``drop_old_model``). ``state`` (``Trainer.checkpoint()``) goes
    to ``<stem>.state.npz``; without a state (or a model) an old state file is removed, so
    that a reopened project never continues from a state that belongs to other weights.

    All-or-nothing: every file is written to a temporary first and they are moved into place
    only when all are whole, the project last; any failure leaves the old files as they were
    (:func:`~desktop_nn.io.atomic.write_together`). The three files carry one new
    ``generation``. ``created`` is kept when set, ``saved`` and ``app_version`` are stamped;
    ``project`` itself is not changed (load the file to see the stamps).

    Raises ValueError (naming the file) when a field cannot be stored as JSON or the model is
    inconsistent, and OSError when a file cannot be written.
    """
    target = project_home(path)
    generation = uuid.uuid4().hex
    model_ref = model_file_name(target) if model is not None else None
    try:
        doc = _document(project, target, model_ref, generation)
    except _Invalid as exc:
        raise ValueError(f"cannot save project to {target}: {exc}") from None
    text = json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    state_path = state_file_path(target)
    model_path = target.parent / model_file_name(target)
    files: list = []
    remove: list[Path] = []
    if model is not None and state is not None:
        files.append((state_path, lambda f: write_trainer_state(f, *state, generation)))
    else:
        remove.append(state_path)
    if model is not None:
        files.append((model_path, model_writer(model_path, model, generation)))
    elif drop_old_model:
        remove.append(model_path)
    files.append((target, lambda f: f.write(text.encode("utf-8"))))
    write_together(files, remove)
    return target


# ------------------------------------------------------------------------------ read
def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def _read_text(p: Path, limit: int = MAX_PROJECT_BYTES) -> str:
    """The file's text, refusing a missing, non-regular (a FIFO, a device, a folder: never
    opened so as to block), oversized or non-UTF-8 file before parsing."""
    try:
        raw = read_regular(p, limit)
    except TooLargeError:
        raise ProjectFileError(f"{p} is too large (over {_megabytes(limit)}); refusing to read "
                               "it (a project file is a small JSON document)") from None
    except NotRegularFileError as exc:
        raise ProjectFileError(f"{p} is not a file: it {exc}") from None
    except OSError as exc:
        raise ProjectFileError(f"{p} {os_problem(exc)}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProjectFileError(f"{p} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                               "is it really a project file?") from None


def _parse_json(p: Path, text: str) -> Any:
    try:
        return json_text.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectFileError(f"{p} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                               f"column {exc.colno}") from None
    except ValueError as exc:  # JsonValueError, or Python's own limit on digits
        raise ProjectFileError(f"{p} {exc}") from None
    except RecursionError:
        raise ProjectFileError(f"{p} is not valid JSON: nested too deeply") from None


def _check_header(p: Path, doc: Any) -> None:
    if not isinstance(doc, dict):
        raise ProjectFileError(f"{p} is not a desktop-nn project (the JSON is "
                               f"{_type_name(doc)}, not an object)")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise ProjectFileError(f"{p} is not a desktop-nn project (format is {fmt!r}, "
                               f"expected {FORMAT!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectFileError(f"{p}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ProjectFileError(f"{p} was written by a newer desktop-nn (project format "
                               f"version {version} > {FORMAT_VERSION}); update desktop-nn "
                               "to open it")


def _required(doc: dict, key: str, kind: type, kind_name: str) -> Any:
    if key not in doc:
        raise _Invalid(f"the field '{key}' is missing")
    value = doc[key]
    if not isinstance(value, kind):
        raise _Invalid(f"'{key}' must be {kind_name}, got {_type_name(value)}")
    return value


def _optional_str(doc: dict, key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise _Invalid(f"'{key}' must be a string or null, got {_type_name(value)}")
    return value


def _project_from(doc: dict, project_dir: Path) -> Project:
    """Validate the fields of a parsed document (header already checked)."""
    name = _required(doc, "name", str, "a string")
    sections = {key: _required(doc, key, dict, "an object")
                for key in ("designer", "data", "training")}
    runs = doc.get("runs")
    if runs is None:
        runs = []
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise _Invalid("'runs' must be a list of objects")
    for key in ("folder", "folder_relative"):
        value = sections["data"].get(key)
        if value is not None and not isinstance(value, str):
            raise _Invalid(f"'data.{key}' must be a string, got {_type_name(value)}")
    return Project(
        name=name,
        designer=sections["designer"],
        data=resolve_data_folder(sections["data"], project_dir),
        training=sections["training"],
        model=_check_model_reference(doc.get("model")),
        runs=runs,
        created=_optional_str(doc, "created"),
        saved=_optional_str(doc, "saved"),
        app_version=_optional_str(doc, "app_version"),
        generation=_optional_str(doc, "generation"),
    )


def load_project(path: PathLike) -> Project:
    """Read a project written by :func:`save_project`.

    The data folder is resolved (a relative folder that exists inside the project folder
    wins). The model is not loaded: see :func:`load_project_model`. Raises
    :class:`ProjectFileError` naming the file and the problem: missing, over
    :data:`MAX_PROJECT_BYTES`, not UTF-8, not JSON (with line and column), not an object, not
    a desktop-nn project, a newer format version, missing or ill-typed fields, a model
    reference that leaves the project folder, or settings out of range
    (:func:`~desktop_nn.io.project_settings.check_project_settings`: all of them listed).
    """
    p = project_home(path)
    doc = _parse_json(p, _read_text(p))
    _check_header(p, doc)
    try:
        project = _project_from(doc, p.parent)
    except _Invalid as exc:
        raise ProjectFileError(f"{p}: {exc}") from None
    problems = check_project_settings(project)
    if problems:
        raise ProjectFileError(f"{p} has settings the window cannot show as written, so it is "
                               "not opened:\n" + "\n".join(f"- {m}" for m in problems))
    return project


def load_project_model(project: Project, path: PathLike,
                       backend: Backend | None = None) -> ModelFile | None:
    """The trained model ``project`` (loaded from ``path``) refers to, or None if none.

    Raises :class:`ProjectFileError` naming the project and the model file when the reference
    leaves the project folder, the file is missing, or it is not a valid model (quoting
    :class:`~desktop_nn.io.model_file.ModelFileError`'s message).
    """
    p = project_home(path)
    try:
        ref = _check_model_reference(project.model)
    except _Invalid as exc:
        raise ProjectFileError(f"{p}: {exc}") from None
    if ref is None:
        return None
    model_path = p.parent / ref
    if not os.path.lexists(model_path):
        raise ProjectFileError(f"{p}: its model file {model_path} does not exist "
                               "(was it moved or deleted?)")
    try:
        model = load_model(model_path, backend)
    except ModelFileError as exc:
        raise ProjectFileError(f"{p}: its model file {model_path} cannot be loaded: {exc}") \
            from None
    if model.generation != project.generation:
        raise GenerationMismatch(
            f"{p}: its model file {model_path.name} belongs to another save (save "
            f"{_short(model.generation)}, the project's is {_short(project.generation)}); the "
            "last save was interrupted, or the file was copied in")
    return model


__all__ = [
    "FORMAT", "FORMAT_VERSION", "GenerationMismatch", "MAX_PROJECT_BYTES", "Project",
    "ProjectFileError", "SUFFIX", "UnusableState", "load_project", "load_project_model",
    "load_project_state", "model_file_name", "save_project", "state_file_path",
]
