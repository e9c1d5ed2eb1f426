"""The main window: Network, Data and Training docks around the live plots and the inspection
tabs, menus, toolbar and status bar.

It shows the :class:`~desktop_nn.workbench.Workbench` and forwards the user's actions to it
(napari's QtViewer showing its ViewerModel): the workbench owns the run and the model in hand,
runs its work through a :class:`~desktop_nn.gui.worker.QtExecutor`, and says what happened
through its events, which the handlers at the end of this class show.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QWidget,
)

from desktop_nn.backend import BackendError, select_backend
from desktop_nn.data.dataset import PreparedData
from desktop_nn.data.sources import SAMPLE_NAME, LoadedData
from desktop_nn.gui import boundary_view, examples_menu, window_settings
from desktop_nn.gui.activation_view import ActivationView
from desktop_nn.gui.data_panel import DataPanel
from desktop_nn.gui.designer import NetworkDesigner
from desktop_nn.gui.diagram import NetworkDiagram
from desktop_nn.gui.evaluation_view import EvaluationView
from desktop_nn.gui.example_view import ExplanationPanel, SlowdownView, with_explanation
from desktop_nn.gui.inspection import Inspection
from desktop_nn.gui.math_view import MathView
from desktop_nn.gui.model_files import ModelFiles
from desktop_nn.gui.plots import LivePlots
from desktop_nn.gui.predict_view import PredictView
from desktop_nn.gui.projects import ProjectController
from desktop_nn.gui.reopened_run import ReopenedRun
from desktop_nn.gui.run_flow import RunFlow
from desktop_nn.gui.runs_view import RunsView
from desktop_nn.gui.training_panel import TrainingPanel
from desktop_nn.gui.training_progress import TrainingProgress
from desktop_nn.gui.weights_view import WeightsView
from desktop_nn.gui.window_menus import make_actions
from desktop_nn.gui.worker import QtExecutor, ReportBuffer
from desktop_nn.io.model_file import ModelFile
from desktop_nn.nn.network import NetworkSpec
from desktop_nn.train.runs import Run
from desktop_nn.train.trainer import Trainer, TrainResult
from desktop_nn.workbench import RunRequest, TrainingSpan, Workbench

REPORTS_PER_EPOCH = 500  # diagnostics at most this often per epoch (every step when fewer)
INSPECT_MS = 1000  # the Weights tab follows a training run at this rate


class MainWindow(QMainWindow):
    """Signals for tests and automation: ``data_loaded``, ``training_started``,
    ``training_finished(TrainResult | None)`` (None when the run failed with an error or
    could not be built), ``run_refused(message)`` (it could not be built)."""

    data_loaded = Signal(object)
    training_started = Signal()
    training_finished = Signal(object)
    run_refused = Signal(str)  # a run could not be built (then training_finished(None))

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.setWindowTitle("desktop-nn")
        self.settings = settings if settings is not None else QSettings("desktop-nn",
                                                                        "desktop-nn")
        self.buffer = ReportBuffer()
        self.executor = QtExecutor(self)
        self.workbench = Workbench(self.executor, self.buffer.add_step, self.buffer.add_epoch)
        self._dialogs: list[QMessageBox] = []
        self._closing = False
        self._loaded_data_state: dict | None = None  # the Data panel's state at the last load
        self._replaced: list[str] = []  # saved values not used, to be shown (report_replaced)
        self._project_data = False  # the data being loaded are an opened project's

        self.designer = NetworkDesigner()
        self.data_panel = DataPanel()
        self.training_panel = TrainingPanel()
        self.plots = LivePlots()
        self.activation_view = ActivationView()  # the Activations tab
        self.diagram = NetworkDiagram()
        self.weights_view = WeightsView()
        self.evaluation_view = EvaluationView()
        self.predict_view = PredictView()
        self.math_view = MathView()
        self.runs_view = RunsView(self.workbench.runs)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("centralTabs")
        # nine tabs fit the central area at 1280 x 800 only with less than Qt's padding
        self.tabs.tabBar().setStyleSheet("QTabBar::tab { padding: 5px 9px; }")
        self.example_panel = ExplanationPanel()
        self.training_tab = with_explanation(self.plots, self.example_panel)
        self.slowdown_view: SlowdownView | None = None  # made when the example is opened
        for widget, title in ((self.training_tab, "Training"),
                              (self.activation_view, "Activations"), (self.diagram, "Network"),
                              (self.weights_view, "Weights"),
                              (self.evaluation_view, "Evaluation"),
                              (self.predict_view, "Predict"), (self.math_view, "Math"),
                              (self.runs_view, "Runs")):
            self.tabs.addTab(widget, title)
        self.setCentralWidget(self.tabs)
        self.network_dock = self._dock("Network", "networkDock", self.designer,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.data_dock = self._dock("Data", "dataDock", self.data_panel,
                                    Qt.DockWidgetArea.LeftDockWidgetArea)
        self.training_dock = self._dock("Training", "trainingDock", self.training_panel,
                                        Qt.DockWidgetArea.RightDockWidgetArea)
        window_settings.default_layout(self)
        self.device_label = QLabel()
        self.device_label.setObjectName("deviceLabel")
        self.statusBar().addPermanentWidget(self.device_label)
        try:
            self.device_label.setText(select_backend("auto").label)
        except BackendError as exc:  # auto never raises today; be safe
            self.device_label.setText(str(exc))
        self.progress = TrainingProgress(self.buffer, self.plots, self.statusBar(), self)
        self.progress.views.append(self.activation_view)
        self.flow = RunFlow(self)  # speed, Continue or Restart, live changes (gui/run_flow.py)
        self.reopened = ReopenedRun(self)
        self.inspection = Inspection(self.workbench, self.tabs, self.weights_view,
                                     self.evaluation_view, self.predict_view, self.math_view,
                                     self._loaded_data, self._fresh_design, self.say)
        self.boundary_view = boundary_view.install(self)  # the Plane tab (decision boundary)
        self.model_files = ModelFiles(self)
        self.projects = ProjectController(self, self.workbench, self.settings, self)
        make_actions(self)
        self.projects.project_changed.connect(self._update_title)
        self._connect()
        self.inspect_timer = QTimer(self)
        self.inspect_timer.setObjectName("inspectTimer")
        self.inspect_timer.setInterval(INSPECT_MS)
        self.inspect_timer.timeout.connect(self.inspection.follow_training)

        window_settings.restore(self)
        self._update_context()
        self.projects.mark_clean()  # restoring the last settings is not a change
        self._update_title()

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        p = self.training_panel
        p.start_button.clicked.connect(self.start_clicked)
        p.pause_button.clicked.connect(self.toggle_pause)
        p.step_button.clicked.connect(self.step)
        p.stop_button.clicked.connect(self.stop)
        p.reset_button.clicked.connect(self.reset_weights)
        p.batch_spin.valueChanged.connect(self._update_context)
        self.designer.changed.connect(self._update_context)
        self.designer.changed.connect(self.projects.mark_dirty)
        self.designer.changed.connect(  # legends right the moment the design changes
            lambda: self.plots.follow_design(self.designer.sizes_and_activations()[1]))
        self.training_panel.changed.connect(self.projects.mark_dirty)
        self.data_panel.loaded.connect(self._data_loaded)
        self.data_panel.busy_changed.connect(lambda _: self._update_controls())
        self.tabs.currentChanged.connect(self._tab_changed)
        e = self.workbench.events
        e.device_changed.connect(self.device_label.setText)
        e.notice.connect(lambda text: self.say(text, 10000))
        e.run_made.connect(self._run_made)
        e.training_started.connect(self._training_started)
        e.training_ended.connect(self._training_ended)
        e.not_made.connect(self._not_made)
        e.failed.connect(lambda message: self.show_dialog("Training failed", message,
                                                          QMessageBox.Icon.Critical))
        e.finished.connect(self._finished)
        e.model_changed.connect(self.inspection.model_changed)

    # ------------------------------------------------------------------ state
    def is_training(self) -> bool:
        """A run is being made or trained."""
        return self.workbench.is_busy()

    def say(self, text: str, ms: int = 5000) -> None:
        self.statusBar().showMessage(text, ms)

    def _update_controls(self) -> None:
        running = self.is_training()
        paused = self.workbench.is_paused()
        self.training_panel.set_running(running, paused)
        ready = self.designer.problem() is None and not self.data_panel.is_loading()
        self.training_panel.start_button.setEnabled(ready and not running)
        self.training_panel.step_button.setEnabled(ready and (not running or paused))
        self.data_panel.load_button.setEnabled(not running and not self.data_panel.is_loading())
        self.designer.setEnabled(not running)
        self.stop_action.setEnabled(running)
        self.flow.controls_changed(running, paused)

    def _update_context(self) -> None:
        data = self.data_panel.data
        batch = self.training_panel.batch_spin.value()
        if data is None:
            self.designer.set_context(None, None, batch or 1)
        else:
            train = data.prepared.train
            batch = train.m if batch <= 0 or batch > train.m else batch
            self.designer.set_context(train.n_x, train.Y.shape[0], batch)
        sizes, acts = self.designer.sizes_and_activations()
        self.diagram.set_network(sizes, acts)
        try:
            spec = self.designer.spec()
        except ValueError:
            spec = None
        batch = self.training_panel.batch_spin.value()
        self.math_view.set_spec(spec, batch_label=str(batch) if batch > 0 else "m",
                                l2=self.training_panel.l2_spin.value())
        self._update_controls()

    def _loaded_data(self) -> PreparedData | None:
        data = self.data_panel.data
        return data.prepared if data is not None else None

    def _fresh_design(self, data: PreparedData) -> tuple[NetworkSpec, int, float]:
        """The design, seed and L2 set in the panels, for data (ValueError: no valid one)."""
        spec = self.designer.spec(data.train.n_x, data.train.Y.shape[0])
        return spec, self.training_panel.seed_spin.value(), self.training_panel.l2_spin.value()

    def remember_data_state(self) -> None:
        """The Data panel's state now is the project's (it opened with it): loading other
        data later is a change to save, loading these again is not."""
        self._loaded_data_state = self.data_panel.state()

    def _data_loaded(self, data: LoadedData) -> None:
        # The data a project opens with (at start or on Open) are not a change to save, nor
        # is the output activation fitted to them below; other data the user loads are.
        by_user = self.data_panel.loaded_by_user
        keep_clean = not by_user and not self.projects.dirty
        data_state, self._loaded_data_state = self._loaded_data_state, self.data_panel.state()
        if by_user and data_state != self._loaded_data_state:
            self.projects.mark_dirty()
        n_out = data.prepared.train.Y.shape[0]
        out = self.designer.output_combo
        # a project's own data keep the project's design (its model's output, say)
        fit, self._project_data = not (self._project_data and not by_user), False
        if fit and n_out == 1 and out.currentText() == "softmax":
            out.setCurrentText("sigmoid")
        elif fit and n_out > 1 and out.currentText() == "sigmoid" and \
                not self.settings.contains("designer"):
            out.setCurrentText("softmax")
        self._update_context()
        if keep_clean:
            self.projects.mark_clean()
        self.say(f"Loaded {len(data.prepared.class_names)} classes, "
                 f"{data.prepared.train.m} training examples", 5000)
        self.data_loaded.emit(data)

    # ------------------------------------------------------------------ the user's actions
    def panel_states(self) -> dict:
        return {"designer": self.designer.state(), "data": self.data_panel.state(),
                "training": self.training_panel.state()}

    def _run_request(self) -> RunRequest:
        """What the panels ask to train (ValueError when they cannot)."""
        data = self.data_panel.data
        if data is None:
            raise ValueError("No data loaded: load an image folder first.")
        prepared = data.prepared
        train = prepared.train
        config = self.training_panel.config()
        bs = config.batch_size if 0 < config.batch_size < train.m else train.m
        config.report_every = max(1, math.ceil(train.m / bs) // REPORTS_PER_EPOCH)
        return RunRequest(self.designer.spec(train.n_x, train.Y.shape[0]), config,
                          self.training_panel.dtype(), self.training_panel.device(), prepared,
                          key=self.flow.key(), settings=self.panel_states())

    def start(self, paused: bool = False, epochs: int | None = None) -> bool:
        """Start (or continue) training for ``epochs`` epochs (default: the training panel's).
        False when refused at once; a new run is made in a worker, and ``run_refused`` says
        when it cannot be (``training_started`` follows a run that starts)."""
        if self.is_training():
            return False
        problem = self.designer.problem()
        try:
            if problem:
                raise ValueError(problem)
            self.workbench.start(self._run_request(), paused, epochs)
        except (ValueError, BackendError) as exc:
            self._refuse(str(exc))
            return False
        self._update_controls()
        return True

    def start_clicked(self) -> None:
        self.start()

    def start_or_pause(self) -> None:
        if not self.is_training():
            self.start()
        else:
            self.toggle_pause()

    def toggle_pause(self) -> None:
        self.workbench.pause_or_resume()
        self._update_controls()

    def step(self) -> None:
        """Exactly one more mini-batch step (starting a paused run when idle)."""
        if not self.is_training() and not self.start(paused=True):
            return
        self.workbench.step()
        self._update_controls()

    def stop(self) -> None:
        self.workbench.stop()

    def reset_weights(self) -> None:
        if not self.workbench.reset():
            return
        self.clear_training_view()

    def clear_training_view(self) -> None:
        """The trained weights are gone: plots, labels and evaluation start over."""
        self.inspection.clear()
        self.plots.reset(len(self.designer.layers()) + 1,
                         self.designer.sizes_and_activations()[1],
                         self.designer.state().get("cost", ""))
        self.progress.clear()

    def show_panel_states(self, designer: dict, training: dict) -> None:
        self.report_replaced(self.designer.set_state(designer)
                             + self.training_panel.set_state(training))

    def report_replaced(self, lines: list[str]) -> None:
        """Saved values the panels could not use (a project's, a model's, the last
        session's): one message lists them all, once the action that read them is over."""
        if lines and not self._replaced:
            QTimer.singleShot(0, self._show_replaced)
        self._replaced += lines

    def _show_replaced(self) -> None:
        lines, self._replaced = self._replaced, []
        self.show_dialog("Some settings could not be used", "These saved values could not be "
                         "used and were replaced:\n" + "\n".join(f"• {x}" for x in lines),
                         QMessageBox.Icon.Warning)

    def open_data(self, data_state: dict) -> None:
        """A project's data: shown in the data panel and loaded (not a change to save)."""
        self.report_replaced(self.data_panel.set_state(data_state))
        self.remember_data_state()
        folder = self.data_panel.folder_edit.text().strip()
        if folder:
            self._project_data = True
            self.data_panel.load(folder, by_user=False)

    def refresh_runs(self) -> None:
        self.runs_view.refresh()

    def show_run_curves(self, run: Run | None) -> None:
        self.reopened.show(run)  # the Runs tab, run's curves, Continue (gui/reopened_run.py)

    def show_model_design(self, model: ModelFile) -> None:
        spec = model.network.spec
        self.report_replaced(self.designer.set_state({
            "layers": [[n, a] for n, a in zip(spec.hidden_sizes, spec.hidden_activations,
                                               strict=True)],
            "output": spec.output_activation, "cost": spec.cost, "init": spec.init}))

    def apply_model(self, model: ModelFile, state: tuple[dict, dict] | None = None) -> None:
        """An imported model: its design goes to the designer, its weights are what the next
        run starts from, and the inspection tabs show it."""
        self.show_model_design(model)
        self.clear_training_view()
        self.workbench.import_model(model, state)

    def _refuse(self, message: str) -> None:
        self.say(message, 8000)
        self.designer.problem_label.setText(message)
        self.designer.problem_label.show()

    # ------------------------------------------------------------------ what the workbench says
    def _run_made(self, trainer: Trainer, new_run: bool) -> None:
        if new_run:
            spec = trainer.network.spec
            self.plots.reset(spec.n_layers, spec.activations, spec.cost)
            self.activation_view.reset(spec.activations)
            self.runs_view.refresh()

    def _training_started(self, span: TrainingSpan) -> None:
        self.progress.start(span)
        self.inspect_timer.start()
        self.inspection.model_changed()
        self._update_controls()
        self.training_started.emit()

    def _training_ended(self, result: TrainResult | None, continuing: bool) -> None:
        if self._closing:
            return
        self.inspect_timer.stop()
        self.progress.stop()
        self.runs_view.refresh()
        self.inspection.model_changed()
        self.inspection.refresh_visible_tab()
        self.projects.mark_dirty()  # trained weights are unsaved work
        self._update_controls()
        if result is None or continuing:
            return
        if result.stopped in ("nan", "out_of_memory"):
            self.show_dialog("Training stopped", result.message, QMessageBox.Icon.Warning)
        self.say(result.message, 10000)

    def _not_made(self, message: str, refused: bool) -> None:
        if refused:
            self._refuse(message)
        else:
            self.show_dialog("Training failed", message, QMessageBox.Icon.Critical)
        self._update_controls()
        self.run_refused.emit(message)

    def _finished(self, result: TrainResult | None) -> None:
        if self._closing:
            return
        self._update_controls()
        self.training_finished.emit(result)

    # ------------------------------------------------------------------ examples
    def open_example(self, key: str) -> bool:
        """Examples menu: set the example up and show its explanation beside its plot."""
        return examples_menu.open_example(self, key)

    def _tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.runs_view:
            self.runs_view.refresh()
        self.inspection.refresh_visible_tab()

    def _update_title(self) -> None:
        star = "*" if self.projects.dirty else ""
        self.setWindowTitle(f"{self.projects.name}{star} — desktop-nn")

    def show_dialog(self, title: str, text: str, icon) -> QMessageBox:
        """A message box that never blocks the event loop (window-modal, opened)."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorDialog")
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _: self._dialogs.remove(box) if box in self._dialogs
                             else None)
        self._dialogs.append(box)
        box.open()
        return box

    # ------------------------------------------------------------------ settings, closing
    def save_settings(self) -> None:
        window_settings.save(self)

    def load_initial_data(self) -> None:
        """The last folder (in the background), or the bundled sample at once."""
        self.remember_data_state()
        folder = self.data_panel.folder_edit.text().strip()
        if not folder or folder == SAMPLE_NAME:
            self.data_panel.load(SAMPLE_NAME, synchronous=True, by_user=False)
        else:
            self.data_panel.load(folder, by_user=False)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if not self.projects.maybe_save():
            event.ignore()
            return
        self._closing = True
        self.save_settings()
        self.workbench.close()
        self.executor.wait(30_000)
        self.data_panel.shutdown()
        self.predict_view.shutdown()
        self.math_view.shutdown()
        if self.slowdown_view is not None:
            self.slowdown_view.shutdown()
        self.inspection.shutdown()
        self.help_menu.close()
        self.inspect_timer.stop()
        self.projects.closed_cleanly()
        self.progress.timer.stop()
        for box in list(self._dialogs):  # its messages go with it
            box.close()
        super().closeEvent(event)
