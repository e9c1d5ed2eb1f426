"""Autosave recovery: a crash loses nothing. :class:`RecoveryStore` keeps one recovery project
(+ model) and a marker in a folder; each running app has its own session folder
(:func:`session_store`), locked while it holds an autosave, and :func:`pending_recoveries`
finds the autosaves of sessions that did not close cleanly."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from desktop_nn.backend import Backend
from desktop_nn.io import json_text
from desktop_nn.io.atomic import atomic_write_text, clean_stale_temporaries
from desktop_nn.io.model_file import ModelFile
from desktop_nn.io.npz_reader import read_regular
from desktop_nn.io.project_file import (
    SUFFIX,
    Project,
    ProjectFileError,
    _now,
    load_project,
    model_file_name,
    save_project,
    state_file_path,
)
from desktop_nn.io.project_open import OpenedProject, open_project
from desktop_nn.io.project_paths import PathLike

log = logging.getLogger(__name__)

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
    autosaved), ``recovery.state.npz`` (its training state, when there is one), written as one
    unit by :func:`save_project` (all-or-nothing, one generation), and ``recovery.json`` (the
    marker: original project path, writer's PID, time), written atomically after them. Call
    :meth:`write` periodically and after changes, :meth:`pending` at start-up, and
    :meth:`clear` on a clean close or when the user declines to recover. Damaged recovery
    files are ignored, never fatal.
    """

    def __init__(self, directory: PathLike | None = None, lock: bool = False) -> None:
        self.directory = Path(directory) if directory is not None else default_recovery_dir()
        # lock: hold an exclusive lock on the folder while it holds an autosave, so that
        # other processes see this session as alive (see pending_recoveries)
        self.lock = lock
        self._lock_file: Any = None
        self._clear_failure_logged = False

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
              original: PathLike | None = None,
              state: tuple[dict, dict] | None = None) -> Path:
        """Autosave ``project`` (a Project or a mapping of its fields), ``model`` and its
        training ``state`` (``Trainer.checkpoint()``), as one unit.

        ``original`` is the project file being edited (None for an unsaved project). Returns
        the recovery project's path. Raises ValueError / OSError like :func:`save_project`.
        """
        if not isinstance(project, Project):
            project = Project.from_dict(project)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._hold_lock()
        save_project(self.project_path, project, model, state, drop_old_model=True)
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
        try:  # a regular file only (a FIFO would block), and a small one
            marker = json_text.loads(read_regular(self.marker_path, _MAX_MARKER_BYTES)
                                .decode("utf-8"))
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

    def open(self, backend: Backend | None = None) -> OpenedProject:
        """The recovered project, model and training state, as one consistent unit. A damaged
        or missing model or state, or one of another autosave (a kill between two renames),
        is left out with a note (``project.model`` becomes None without the model), so that
        the settings are still recovered. Raises :class:`ProjectFileError` when the recovery
        project itself cannot be read."""
        opened = open_project(self.project_path, backend, drop_damaged=True)
        for note in opened.notes:
            log.warning("recovering: %s", note)
        return opened

    def restore(self, backend: Backend | None = None) -> tuple[Project, ModelFile | None]:
        """The recovered project and model (see :meth:`open`, which gives the training state
        and the notes too)."""
        opened = self.open(backend)
        return opened.project, opened.model

    def clear(self) -> None:
        """Remove the recovery files (marker first, so a half-cleared store offers nothing).

        A folder that is not there (never made: a file, ``/dev/null`` or a read-only disk in
        the way) has nothing to remove. Files that cannot be removed are logged once per store,
        quietly (``INFO``): they are the user's own folder's problems, which the window tells
        about when autosave fails, not lines for the terminal."""
        self._release_lock()
        if not self.directory.is_dir():
            return
        problems = []
        for p in (self.marker_path, self.project_path, self.model_path,
                  state_file_path(self.project_path), self.lock_path):
            try:
                p.unlink(missing_ok=True)
            except OSError as exc:
                problems.append(f"{p.name} ({exc.strerror or exc})")
            clean_stale_temporaries(p, max_age_s=0)  # a killed autosave's: nobody writes now
        if problems and not self._clear_failure_logged:
            self._clear_failure_logged = True
            log.info("cannot remove recovery files in %s: %s", self.directory,
                     ", ".join(problems))
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


__all__ = [
    "RecoveryInfo", "RecoveryStore", "default_recovery_dir", "pending_recoveries",
    "session_store",
]
