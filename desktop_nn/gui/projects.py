"""File > New / Open / Save / Save As / Recent for ``.dnnproj`` projects, the unsaved-changes
prompt, and autosave to a recovery file offered back after a crash.

A project keeps the three panels' settings, the run summaries, the trained model beside it
(``<stem>.model.npz``) and the training state (``<stem>.state.npz``), so that reopening and
continuing gives the same weights as training straight through."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from desktop_nn.io.model_file import ModelFile
from desktop_nn.io.project_file import (
    SUFFIX,
    Project,
    ProjectFileError,
    save_project,
    state_file_path,
)
from desktop_nn.io.project_open import OpenedProject, open_project
from desktop_nn.io.project_settings import check_project_settings
from desktop_nn.io.recent_projects import add_recent, existing_recent
from desktop_nn.io.recovery import (
    RECOVERY_ENV,
    RecoveryInfo,
    RecoveryStore,
    default_recovery_dir,
    pending_recoveries,
    session_store,
)
from desktop_nn.train.runs import Run
from desktop_nn.train.saved_runs import runs_from_dicts, runs_to_dicts
from desktop_nn.workbench import Workbench
from desktop_nn.workbench.model import Imported, SetAside, Training

log = logging.getLogger(__name__)

AUTOSAVE_MS = 30_000
RECENT_KEY = "recentProjects"
UNTITLED = "Untitled"

# the answer to "save your changes?": save them, throw them away, or do not go on
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


class ProjectView(Protocol):
    """What the project controller needs of the window that shows the project."""

    def panel_states(self) -> dict:
        """The panels' states: {"designer": ..., "data": ..., "training": ...}."""

    def show_panel_states(self, designer: dict, training: dict) -> None:
        """Set the designer and training panels ({} for their defaults)."""

    def show_model_design(self, model: ModelFile) -> None:
        """Set the designer to a model's design."""

    def open_data(self, data_state: dict) -> None:
        """Set the data panel to a project's data and load them (not a change to save)."""

    def clear_training_view(self) -> None:
        """The trained weights are gone: plots, labels and evaluation start over."""

    def refresh_runs(self) -> None:
        """The workbench's runs changed."""

    def show_run_curves(self, run: Run | None) -> None:
        """The runs were restored: list them, plot ``run``'s history (None: no curves) and
        show where it stands; then :meth:`open_data` loads the data it goes on with."""

    def show_dialog(self, title: str, text: str, icon: Any) -> Any:
        """A message that does not block."""

    def say(self, text: str, ms: int = 5000) -> None:
        """A passing message."""


class ProjectController(QObject):
    """Owns the project file: what is saved comes from the workbench (the model in hand, its
    training state, the runs) and the view (the panels' settings). ``parent`` is the window
    its actions and dialogs belong to. ``ask_unsaved(name) -> SAVE | DISCARD | CANCEL``,
    ``ask_path(save: bool) -> str | None`` and ``ask_recover(info) -> bool`` are the
    questions put to the user; tests replace them."""

    project_changed = Signal()  # path, name or dirty flag changed

    def __init__(self, view: ProjectView, workbench: Workbench, settings: QSettings,
                 parent: QWidget, recovery_dir: str | Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("projectController")
        self.view, self.workbench, self.settings = view, workbench, settings
        self.parent_widget = parent
        window = parent
        self.path: Path | None = None
        self.dirty = False
        # the model and run a project opened with: saved again as the current run while that
        # model is still the model in hand
        self._opened_model: ModelFile | None = None
        self._opened_run: Run | None = None
        self._autosaved = True  # nothing to autosave yet
        self._told_autosave_failed = False  # once per session
        self.recovery_dir = Path(recovery_dir) if recovery_dir is not None \
            else default_recovery_dir()
        self.store: RecoveryStore = session_store(self.recovery_dir)  # this process's own
        self.ask_unsaved: Callable[[str], str] = self._ask_unsaved
        self.ask_path: Callable[[bool], str | None] = self._ask_path
        self.ask_recover: Callable[[RecoveryInfo], bool] = self._ask_recover

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setObjectName("autosaveTimer")
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        # started by offer_recovery: an autosave must never run before a crashed session's
        # work has been offered back

        def action(text: str, name: str, shortcut, slot) -> QAction:
            a = QAction(text, window)
            a.setObjectName(name)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.triggered.connect(slot)
            window.addAction(a)
            return a

        self.new_action = action("&New project", "newProjectAction",
                                 QKeySequence.StandardKey.New, self.new)
        self.open_action = action("&Open project…", "openProjectAction", "Ctrl+Shift+O",
                                  self._open_clicked)
        self.save_action = action("&Save project", "saveProjectAction",
                                  QKeySequence.StandardKey.Save, self.save)
        self.save_as_action = action("Save project &as…", "saveProjectAsAction",
                                     "Ctrl+Shift+S", self.save_as)
        self.recent_menu = QMenu("Open &recent", window)
        self.recent_menu.setObjectName("recentProjectsMenu")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._fill_recent()

    # ------------------------------------------------------------------ state
    @property
    def name(self) -> str:
        return self.path.stem if self.path is not None else UNTITLED

    def mark_dirty(self) -> None:
        if not self.dirty:
            self.dirty = True
            self.project_changed.emit()
        self._autosaved = False

    def mark_clean(self) -> None:
        """What the window shows now is not a change to save (its last settings restored,
        a project's data loaded)."""
        self.dirty = False
        self._autosaved = True
        self.project_changed.emit()

    def _set_clean(self, path: Path | None) -> None:
        self.path = path
        self.dirty = False
        self._autosaved = True
        self.project_changed.emit()

    def recent(self) -> list[str]:
        return existing_recent(self.settings.value(RECENT_KEY) or [])

    def _remember(self, path: Path) -> None:
        self.settings.setValue(RECENT_KEY,
                               add_recent(self.settings.value(RECENT_KEY) or [], path))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        paths = self.recent()
        for p in paths:
            a = self.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, p=p: self.open(p))
        self.recent_menu.setEnabled(bool(paths))

    # ------------------------------------------------------------------ what is saved
    def project(self) -> Project:
        states = self.view.panel_states()
        return Project(name=self.name, designer=states["designer"], data=states["data"],
                       training=states["training"],
                       runs=runs_to_dicts(self.workbench.runs.runs, self._model_run()))

    def _model_run(self) -> Run | None:
        """The run the model in hand comes from (its curves are shown when reopened)."""
        wb = self.workbench
        if isinstance(wb.state, (Training, SetAside)):
            return wb.current_run
        if isinstance(wb.state, Imported) and wb.state.model is self._opened_model:
            return self._opened_run
        return None

    # ------------------------------------------------------------------ actions
    def new(self) -> bool:
        if not self.maybe_save() or not self.workbench.forget():
            return False
        v = self.view
        v.clear_training_view()
        v.refresh_runs()
        v.show_panel_states({}, {})
        self._set_clean(None)
        return True

    def _open_clicked(self) -> None:
        path = self.ask_path(False)
        if path:
            self.open(path)

    def open(self, path: str | Path) -> bool:
        """Open a project: settings, data folder (loaded in the background), the model and
        its training state. A bad file is refused with its message; nothing is changed. A
        model or state of another save is left out, and the user is told."""
        if self.workbench.is_busy() or not self.maybe_save():
            return False
        path = Path(path)
        try:
            opened = open_project(path)
        except ProjectFileError as exc:
            self.view.show_dialog("Cannot open the project", str(exc),
                                  QMessageBox.Icon.Warning)
            return False
        if not self._apply(opened):
            return False
        self._set_clean(path)
        self._remember(path)
        self._tell_notes(opened)
        self.view.say(f"Opened {path}", 5000)
        return True

    def _tell_notes(self, opened: OpenedProject) -> None:
        if opened.notes:
            self.view.show_dialog("Part of the project was left out", "\n\n".join(opened.notes),
                                  QMessageBox.Icon.Warning)

    def _apply(self, opened: OpenedProject) -> bool:
        """Show an opened project. Only a project whose settings pass
        :func:`check_project_settings` is applied (load_project checks them too); anything
        else is refused with its reasons before the window is touched. False when refused."""
        project, model, state = opened.project, opened.model, opened.state
        problems = check_project_settings(project)
        if problems:
            self.view.show_dialog("Cannot open the project",
                                  "Its settings cannot be shown as written:\n"
                                  + "\n".join(f"- {m}" for m in problems),
                                  QMessageBox.Icon.Warning)
            return False
        v = self.view
        if not self.workbench.forget():  # callers check first: never while a run trains
            return False
        v.clear_training_view()
        v.show_panel_states(project.designer, project.training)
        runs, current, notes = runs_from_dicts(project.runs)
        opened.notes += notes
        if model is None:
            current = None  # its curves belong to weights that are not here
        self.workbench.runs.restore(runs)
        if model is not None:
            v.show_model_design(model)
            # the model and state are the current run's: Continue goes on with that run
            self.workbench.import_model(model, state, current)
        self.workbench.current_run = current
        self._opened_model, self._opened_run = model, current
        v.show_run_curves(current)
        v.open_data(project.data)  # opening a project is not a change
        return True

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        path = self.ask_path(True)
        if not path:
            return False
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        return self.save_to(path)

    def save_to(self, path: str | Path) -> bool:
        """Write the project, its model and training state. While a run trains, it is paused
        for the moment of the snapshot so that weights and optimiser state agree."""
        path = Path(path)
        with self.workbench.paused_for_snapshot() as consistent:
            if not consistent:
                self.view.show_dialog("Cannot save the project", "The training run did not "
                                      "pause in time for a consistent snapshot; try again.",
                                      QMessageBox.Icon.Warning)
                return False
            try:  # all-or-nothing: on failure the old project, model and state stay whole
                model, state = self.workbench.saved_state()
                project = self.project()
                project.name = path.stem
                save_project(path, project, model, state)
            except ValueError as exc:
                self.view.show_dialog("Cannot save the project", str(exc),
                                      QMessageBox.Icon.Warning)
                return False
            except OSError as exc:
                culprit = exc.filename if isinstance(exc.filename, str) and \
                    not exc.filename.endswith(".tmp") and Path(exc.filename) != path else None
                where = f" ({culprit})" if culprit else ""
                self.view.show_dialog("Cannot save the project",
                                      f"{path} could not be saved: {exc.strerror or exc}"
                                      f"{where}. The files saved before are unchanged.",
                                      QMessageBox.Icon.Warning)
                return False
        self._set_clean(path)
        self._remember(path)
        self.store.clear()
        self.view.say(f"Saved {path}", 5000)
        return True

    # ------------------------------------------------------------------ closing, recovery
    def maybe_save(self) -> bool:
        """Before the project is replaced or the window closes: True to go on."""
        if not self.dirty:
            return True
        answer = self.ask_unsaved(self.name)
        if answer == SAVE:
            return self.save()
        return answer == DISCARD

    def closed_cleanly(self) -> None:
        self.autosave_timer.stop()
        self.store.clear()

    def autosave(self) -> bool:
        """Write the recovery files when something changed since the last autosave. A run
        being trained is saved as it stands (weights only: the state needs a pause). When it
        fails (the recovery folder is a file, read-only, full...), the user is told once per
        session, in a dialog that does not block; the next autosave tries again."""
        if self._autosaved:
            return False
        model, state = self.workbench.saved_state()
        try:
            self.store.write(self.project(), model, original=self.path, state=state)
        except (ValueError, OSError) as exc:
            self._autosave_failed(exc)
            return False
        self._autosaved = True
        return True

    def _autosave_failed(self, exc: ValueError | OSError) -> None:
        if isinstance(exc, OSError):
            name = exc.filename
            where = name if isinstance(name, str) and not name.endswith(".tmp") \
                else self.store.directory
            reason = f"{where}: {exc.strerror or exc}"
        else:
            reason = str(exc)
        log.info("autosave failed: %s", reason)
        if self._told_autosave_failed:
            return
        self._told_autosave_failed = True
        self.view.show_dialog(
            "Autosave is not working",
            f"Your work cannot be autosaved ({reason}).\n\nUntil this is fixed, a crash "
            "loses what has not been saved: save the project to keep it. Autosave tries again "
            f"every {AUTOSAVE_MS // 1000} seconds, without telling again.\n\nThe recovery "
            f"folder is {self.recovery_dir}; set {RECOVERY_ENV} to use another.",
            QMessageBox.Icon.Warning)

    def offer_recovery(self) -> bool:
        """At start-up: offer the autosaves of sessions that did not close cleanly, newest
        first; a declined one is removed. Then starts autosaving this session."""
        try:
            for store, info in pending_recoveries(self.recovery_dir):
                if store.directory == self.store.directory:
                    continue  # this session's own
                if not self.ask_recover(info):
                    store.clear()
                    continue
                return self._recover(store, info)
            return False
        finally:
            self.autosave_timer.start()

    def _recover(self, store: RecoveryStore, info: RecoveryInfo) -> bool:
        try:
            opened = store.open()
        except ProjectFileError as exc:
            self.view.show_dialog("Cannot recover the work", str(exc), QMessageBox.Icon.Warning)
            return False
        if not self._apply(opened):
            return False
        self._tell_notes(opened)
        self.path = info.original
        self.mark_dirty()  # recovered work is unsaved until the user saves it
        self.project_changed.emit()
        # now safe in this session's own recovery files: the crashed session's can go
        if self.autosave():
            store.clear()
        return True

    # ------------------------------------------------------------------ questions
    def _ask_unsaved(self, name: str) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes",
                          f"Save the changes to {name} before going on?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.parent_widget)
        box.setObjectName("unsavedDialog")
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: SAVE,
                QMessageBox.StandardButton.Discard: DISCARD}.get(
                    QMessageBox.StandardButton(answer), CANCEL)

    def _ask_path(self, save: bool) -> str | None:
        start = str(self.path or Path.home() / f"{self.name}{SUFFIX}")
        filt = f"desktop-nn project (*{SUFFIX})"
        if save:
            path, _ = QFileDialog.getSaveFileName(self.parent_widget, "Save project", start,
                                                  filt)
        else:
            path, _ = QFileDialog.getOpenFileName(self.parent_widget, "Open project",
                                                  str(Path(start).parent), filt)
        return path or None

    def _ask_recover(self, info: RecoveryInfo) -> bool:
        where = f" ({info.original})" if info.original else ""
        box = QMessageBox(QMessageBox.Icon.Question, "Recover unsaved work",
                          f"desktop-nn did not close cleanly. Recover the work on "
                          f"{info.name}{where} autosaved at {info.saved}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          self.parent_widget)
        box.setObjectName("recoveryDialog")
        return box.exec() == QMessageBox.StandardButton.Yes


__all__ = ["ProjectController", "SAVE", "DISCARD", "CANCEL", "state_file_path"]
