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
      "app_version": "0.1.0"
    }

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
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np
import platformdirs

import desktop_nn
from desktop_nn.backend import Backend
from desktop_nn.data.sources import SAMPLE_NAME
from desktop_nn.io.atomic import atomic_write_text
from desktop_nn.io.model_file import (
    ModelFile,
    ModelFileError,
    load_model,
    save_model,
)
from desktop_nn.io.trainer_state import TrainerStateError, load_trainer_state, save_trainer_state

log = logging.getLogger(__name__)

FORMAT = "desktop-nn-project"
FORMAT_VERSION = 1
SUFFIX = ".dnnproj"
MODEL_SUFFIX = ".model.npz"
MAX_PROJECT_BYTES = 10 * 1024 * 1024
RECENT_LIMIT = 8

PathLike = str | os.PathLike[str]


class ProjectFileError(ValueError):
    """A project file cannot be loaded; the message names the file and the problem."""


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

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Project:
        """A Project from a mapping of its fields (other keys, e.g. ``format``, are ignored).

        Types are checked when the project is saved, not here.
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def model_file_name(project_path: PathLike) -> str:
    """The model's file name beside a project: ``<stem>.model.npz`` (``a.dnnproj`` -> ``a``)."""
    return Path(project_path).stem + MODEL_SUFFIX


def state_file_path(project_path: PathLike) -> Path:
    """Where the training state (optimiser, shuffling generator, counters; see
    :mod:`desktop_nn.io.trainer_state`) lies beside a project: ``<stem>.state.npz``."""
    p = Path(project_path)
    return p.with_name(p.stem + ".state.npz")


def save_project_state(project_path: PathLike, state: tuple[dict, dict] | None) -> None:
    """Write the training state beside the project (``Trainer.checkpoint()``), or remove a
    stale one when ``state`` is None, so that a reopened project never continues from a
    state that belongs to other weights."""
    path = state_file_path(project_path)
    if state is None:
        path.unlink(missing_ok=True)
    else:
        save_trainer_state(path, *state)


def load_project_state(project_path: PathLike) -> tuple[dict, dict] | None:
    """The training state beside the project, or None when there is none. Raises
    :class:`ProjectFileError` naming the file when it is damaged."""
    path = state_file_path(project_path)
    if not path.exists():
        return None
    try:
        return load_trainer_state(path)
    except TrainerStateError as exc:
        raise ProjectFileError(str(exc)) from None


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


# ------------------------------------------------------------------------------ paths
def _unsafe_reference(ref: str) -> bool:
    """True when a relative reference is absolute or climbs out (``..``) on any platform."""
    for pure in (PurePosixPath(ref), PureWindowsPath(ref)):
        if pure.is_absolute() or pure.drive or pure.root or ".." in pure.parts:
            return True
    return False


def _check_model_reference(ref: Any) -> str | None:
    if ref is None:
        return None
    if not isinstance(ref, str) or not ref.strip():
        raise _Invalid(f"'model' must be a file name or null, got {_type_name(ref)}")
    if _unsafe_reference(ref):
        raise _Invalid(f"the model reference {ref!r} points outside the project folder; "
                       "refusing it (it must be a file name beside the project)")
    return ref


def _relative_below(folder: Any, project_dir: Path) -> str | None:
    """``folder`` relative to ``project_dir`` (POSIX separators) when it lies inside it."""
    if not isinstance(folder, str) or not folder.strip() or folder == SAMPLE_NAME:
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


# ------------------------------------------------------------------------------ write
def _document(project: Project, project_path: Path, model_ref: str | None) -> dict:
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
    }


def save_project(path: PathLike, project: Project, model: ModelFile | None = None) -> Path:
    """Write ``project`` to ``path`` (kept as given; no suffix is added) and return the Path.

    With ``model``, the model is first written beside the project as ``<stem>.model.npz``
    (:func:`~desktop_nn.io.model_file.save_model`) and referenced; with None the project
    refers to no model (an old model file beside it is left alone, unreferenced). Then the
    JSON is written atomically. ``created`` is kept when set, ``saved`` and ``app_version``
    are stamped; ``project`` itself is not changed (load the file to see the stamps).

    Raises ValueError (naming the file) when a field cannot be stored as JSON or the model is
    inconsistent, and OSError when a file cannot be written.
    """
    target = Path(path)
    model_ref = model_file_name(target) if model is not None else None
    try:
        doc = _document(project, target, model_ref)
    except _Invalid as exc:
        raise ValueError(f"cannot save project to {target}: {exc}") from None
    if model is not None:
        save_model(target.parent / model_ref, model)
    text = json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    atomic_write_text(target, text)
    return target


# ------------------------------------------------------------------------------ read
def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def _read_text(p: Path, limit: int = MAX_PROJECT_BYTES) -> str:
    """The file's text, refusing a missing, oversized or non-UTF-8 file before parsing."""
    if not p.exists():
        raise ProjectFileError(f"{p} does not exist")
    if not p.is_file():
        raise ProjectFileError(f"{p} is not a file")
    too_large = (f"{p} is too large (over {_megabytes(limit)}); refusing to read it "
                 "(a project file is a small JSON document)")
    try:
        if p.stat().st_size > limit:
            raise ProjectFileError(too_large)
        with open(p, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise ProjectFileError(f"{p} cannot be read: {exc}") from None
    if len(raw) > limit:
        raise ProjectFileError(too_large)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProjectFileError(f"{p} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                               "is it really a project file?") from None


def _parse_json(p: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectFileError(f"{p} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                               f"column {exc.colno}") from None
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
    )


def load_project(path: PathLike) -> Project:
    """Read a project written by :func:`save_project`.

    The data folder is resolved (a relative folder that exists inside the project folder
    wins). The model is not loaded: see :func:`load_project_model`. Raises
    :class:`ProjectFileError` naming the file and the problem: missing, over
    :data:`MAX_PROJECT_BYTES`, not UTF-8, not JSON (with line and column), not an object, not
    a desktop-nn project, a newer format version, missing or ill-typed fields, or a model
    reference that leaves the project folder.
    """
    p = Path(path)
    doc = _parse_json(p, _read_text(p))
    _check_header(p, doc)
    try:
        return _project_from(doc, p.parent)
    except _Invalid as exc:
        raise ProjectFileError(f"{p}: {exc}") from None


def load_project_model(project: Project, path: PathLike,
                       backend: Backend | None = None) -> ModelFile | None:
    """The trained model ``project`` (loaded from ``path``) refers to, or None if none.

    Raises :class:`ProjectFileError` naming the project and the model file when the reference
    leaves the project folder, the file is missing, or it is not a valid model (quoting
    :class:`~desktop_nn.io.model_file.ModelFileError`'s message).
    """
    p = Path(path)
    try:
        ref = _check_model_reference(project.model)
    except _Invalid as exc:
        raise ProjectFileError(f"{p}: {exc}") from None
    if ref is None:
        return None
    model_path = p.parent / ref
    if not model_path.is_file():
        raise ProjectFileError(f"{p}: its model file {model_path} does not exist "
                               "(was it moved or deleted?)")
    try:
        return load_model(model_path, backend)
    except ModelFileError as exc:
        raise ProjectFileError(f"{p}: its model file {model_path} cannot be loaded: {exc}") \
            from None


# ------------------------------------------------------------------------------ recovery
RECOVERY_ENV = "DESKTOP_NN_RECOVERY_DIR"
RECOVERY_FORMAT = "desktop-nn-recovery"
RECOVERY_PROJECT = "recovery" + SUFFIX
RECOVERY_MODEL = model_file_name(RECOVERY_PROJECT)
RECOVERY_MARKER = "recovery.json"
_MAX_MARKER_BYTES = 64 * 1024


def default_recovery_dir() -> Path:
    """``$DESKTOP_NN_RECOVERY_DIR`` when set, else ``<user data dir>/desktop-nn/recovery``.

    Not created here: :meth:`RecoveryStore.write` creates it.
    """
    env = os.environ.get(RECOVERY_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("desktop-nn", appauthor=False)) / "recovery"


@dataclass(frozen=True)
class RecoveryInfo:
    """An autosave left by a session that did not close cleanly.

    Attributes:
        project_path: the recovery project file (load it with :func:`load_project`, or use
            :meth:`RecoveryStore.restore`).
        original: the project file the session was editing, or None for an unsaved project.
        saved: ISO 8601 UTC time of the autosave.
        pid: process id of the session that wrote it.
        name: the project's name (for the "recover?" question).
        has_model: whether a trained model was autosaved with it.
    """

    project_path: Path
    original: Path | None
    saved: str
    pid: int
    name: str
    has_model: bool


def _process_running(pid: int) -> bool:
    """Whether another process with this id is running (POSIX only; elsewhere: False).

    ``os.kill(pid, 0)`` is a harmless probe on POSIX (on Windows it would kill, so skip).
    """
    if pid <= 0 or pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class RecoveryStore:
    """Autosave so a crash loses nothing: one recovery project (+ model) and a marker.

    Files in ``directory``: ``recovery.dnnproj``, ``recovery.model.npz`` (when a model is
    autosaved) and ``recovery.json`` (the marker: original project path, writer's PID, time),
    each written atomically, the marker last. Call :meth:`write` periodically and after
    changes, :meth:`pending` at start-up, and :meth:`clear` on a clean close or when the user
    declines to recover. Damaged recovery files are ignored, never fatal.
    """

    def __init__(self, directory: PathLike | None = None, lock: bool = False) -> None:
        self.directory = Path(directory) if directory is not None else default_recovery_dir()
        # lock: hold an exclusive lock on the folder while it holds an autosave, so that
        # other processes see this session as alive (see pending_recoveries)
        self.lock = lock
        self._lock_file: Any = None

    def _hold_lock(self) -> None:
        if not self.lock or (self._lock_file is not None and self.lock_path.exists()):
            return
        self._release_lock()
        f = open(self.lock_path, "a+b")  # noqa: SIM115 (held open for the session)
        if not _try_lock(f):
            f.close()
            raise OSError(f"{self.lock_path}: held by another process")
        self._lock_file = f

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    @property
    def lock_path(self) -> Path:
        return self.directory / SESSION_LOCK

    @property
    def project_path(self) -> Path:
        return self.directory / RECOVERY_PROJECT

    @property
    def model_path(self) -> Path:
        return self.directory / RECOVERY_MODEL

    @property
    def marker_path(self) -> Path:
        return self.directory / RECOVERY_MARKER

    def write(self, project: Project | Mapping[str, Any], model: ModelFile | None = None,
              original: PathLike | None = None) -> Path:
        """Autosave ``project`` (a Project or a mapping of its fields) and ``model``.

        ``original`` is the project file being edited (None for an unsaved project). Returns
        the recovery project's path. Raises ValueError / OSError like :func:`save_project`.
        """
        if not isinstance(project, Project):
            project = Project.from_dict(project)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._hold_lock()
        save_project(self.project_path, project, model)
        if model is None:
            self.model_path.unlink(missing_ok=True)
        marker = {
            "format": RECOVERY_FORMAT,
            "original": os.path.abspath(original) if original is not None else None,
            "pid": os.getpid(),
            "written": _now(),
        }
        atomic_write_text(self.marker_path, json.dumps(marker, indent=2) + "\n")
        return self.project_path

    def _read_marker(self) -> dict | None:
        """The marker if it is present and well formed, else None."""
        try:
            if self.marker_path.stat().st_size > _MAX_MARKER_BYTES:
                return None
            marker = json.loads(self.marker_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        if (not isinstance(marker, dict) or marker.get("format") != RECOVERY_FORMAT
                or not isinstance(marker.get("original"), str | None)
                or not isinstance(marker.get("pid"), int) or isinstance(marker["pid"], bool)
                or not isinstance(marker.get("written"), str)):
            return None
        return marker

    def pending(self, check_pid: bool = True) -> RecoveryInfo | None:
        """What a new start should offer to recover, or None.

        None when there is nothing, when any recovery file is damaged (logged), or when the
        session that wrote it is still running (another window's autosave, not a crash):
        by its process id when ``check_pid`` (pending_recoveries uses the folder lock instead,
        which a reused process id cannot fool).
        """
        marker = self._read_marker()
        if marker is None:
            return None
        if check_pid and _process_running(marker["pid"]):
            return None
        try:
            project = load_project(self.project_path)
        except ProjectFileError as exc:
            log.warning("ignoring a damaged recovery file: %s", exc)
            return None
        return RecoveryInfo(
            project_path=self.project_path,
            original=Path(marker["original"]) if marker["original"] is not None else None,
            saved=marker["written"],
            pid=marker["pid"],
            name=project.name,
            has_model=project.model is not None and (self.directory / project.model).is_file(),
        )

    def restore(self, backend: Backend | None = None) -> tuple[Project, ModelFile | None]:
        """The recovered project and model. A damaged or missing model is dropped (logged;
        ``project.model`` becomes None) so the settings are still recovered. Raises
        :class:`ProjectFileError` when the recovery project itself cannot be read."""
        project = load_project(self.project_path)
        try:
            model = load_project_model(project, self.project_path, backend)
        except ProjectFileError as exc:
            log.warning("recovered the project without its model: %s", exc)
            project.model, model = None, None
        return project, model

    def clear(self) -> None:
        """Remove the recovery files (marker first, so a half-cleared store offers nothing)."""
        self._release_lock()
        for p in (self.marker_path, self.project_path, self.model_path,
                  state_file_path(self.project_path), self.lock_path):
            try:
                p.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot remove recovery file %s: %s", p, exc)
        try:
            self.directory.rmdir()  # a per-session folder goes once empty
        except OSError:
            pass


SESSION_PREFIX = "session-"
SESSION_LOCK = "session.lock"


def _try_lock(f) -> bool:
    """An exclusive, non-blocking lock on the open file ``f`` (released when it closes)."""
    try:
        if os.name == "nt":
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _folder_locked(folder: Path) -> bool:
    """Whether a running session holds ``folder``'s lock."""
    lock = folder / SESSION_LOCK
    if not lock.exists():
        return False
    try:
        with open(lock, "a+b") as f:
            return not _try_lock(f)  # closing releases a lock taken just now
    except OSError:
        return False


def session_store(base: PathLike | None = None) -> RecoveryStore:
    """This session's own recovery store, ``<base>/session-<pid>-<random>``, locked while it
    holds an autosave. Each running app writes and clears only its own, so closing one never
    removes another's autosave, and a later process with the same id is a different session."""
    base = Path(base) if base is not None else default_recovery_dir()
    return RecoveryStore(base / f"{SESSION_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}",
                         lock=True)


def _session_may_be_running(name: str) -> bool:
    """Whether the process named in a session folder's name (``session-<pid>-<random>``) is
    this one or may still run (True when the name does not say)."""
    try:
        pid = int(name[len(SESSION_PREFIX):].split("-")[0])
    except ValueError:
        return True
    if pid == os.getpid():
        return True
    return _process_running(pid) if os.name == "posix" else True  # no safe probe elsewhere


def pending_recoveries(base: PathLike | None = None) -> list[tuple[RecoveryStore, RecoveryInfo]]:
    """The autosaves of sessions that did not close cleanly (their process is gone), newest
    first: each session's folder, and the autosave that versions before per-session folders
    wrote in ``base`` itself. Damaged ones are left out. A dead session's folder with nothing
    to recover in it (no recovery project: it crashed before its first autosave, or while
    clearing) is removed."""
    base = Path(base) if base is not None else default_recovery_dir()
    try:
        folders = [p for p in base.iterdir() if p.is_dir() and p.name.startswith(SESSION_PREFIX)]
    except OSError:
        return []
    found = []
    legacy = RecoveryStore(base).pending(check_pid=True)
    if legacy is not None:
        found.append((RecoveryStore(base), legacy))
    for folder in folders:
        if _folder_locked(folder):
            continue  # a running session's autosave
        store = RecoveryStore(folder)
        if not store.project_path.exists():
            if not _session_may_be_running(folder.name):  # not one between mkdir and lock
                store.clear()
            continue
        info = store.pending(check_pid=False)
        if info is not None:
            found.append((store, info))
    return sorted(found, key=lambda si: si[1].saved, reverse=True)


# ------------------------------------------------------------------------------ recent
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


__all__ = [
    "FORMAT", "FORMAT_VERSION", "MAX_PROJECT_BYTES", "Project", "ProjectFileError",
    "RecoveryInfo", "RecoveryStore", "SUFFIX", "add_recent", "default_recovery_dir",
    "existing_recent", "load_project", "load_project_model", "model_file_name",
    "pending_recoveries", "resolve_data_folder", "save_project", "session_store",
]
