"""The main window: Network, Data and Training docks around the live plots; menus, toolbar,
shortcuts and status bar; runs the trainer in a worker thread and feeds the plots on a timer."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QWidget,
)

from desktop_nn.backend import BackendError, cpu_backend, select_backend
from desktop_nn.data.dataset import labels_of
from desktop_nn.data.sources import SAMPLE_NAME, LoadedData
from desktop_nn.examples import EXAMPLES, SLOWDOWN
from desktop_nn.gui.data_panel import DataPanel
from desktop_nn.gui.designer import NetworkDesigner
from desktop_nn.gui.diagram import NetworkDiagram
from desktop_nn.gui.evaluation_view import EvaluationView
from desktop_nn.gui.example_view import ExplanationPanel, SlowdownView, with_explanation
from desktop_nn.gui.math_view import CheckProblem, MathView
from desktop_nn.gui.plots import LivePlots
from desktop_nn.gui.predict_view import PredictView
from desktop_nn.gui.projects import ProjectController
from desktop_nn.gui.run_builder import BuiltRun, RunPlan, build_run, resume_run
from desktop_nn.gui.runs_view import RunsView
from desktop_nn.gui.training_panel import TrainingPanel
from desktop_nn.gui.weights_view import WeightsView
from desktop_nn.gui.worker import Job, ReportBuffer, describe_error
from desktop_nn.inspect.evaluation import images_from_columns
from desktop_nn.io.model_file import ModelFile, ModelFileError, load_model, save_model
from desktop_nn.nn.network import Network
from desktop_nn.predict import PredictError, Predictor, preparation_mismatch
from desktop_nn.train.device_memory import choose_training_backend, held_bytes, run_tensors
from desktop_nn.train.runs import Run, RunLog, describe
from desktop_nn.train.trainer import ParkedRun, Trainer, TrainResult

REFRESH_MS = 33  # at most ~30 redraws a second, whatever the step rate
REPORTS_PER_EPOCH = 500  # diagnostics at most this often per epoch (every step when fewer)
INSPECT_MS = 1000  # the Weights tab follows a training run at this rate
GRADCHECK_EXAMPLES = 64  # columns handed to the gradient check (it uses up to 16 of them)


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
        self.trainer: Trainer | None = None
        self.training_job: Job | None = None
        self._build_job: Job | None = None  # making a run; kept until its thread has ended
        self.buffer = ReportBuffer()
        self._trainer_key: str | None = None
        self._run_started = 0.0
        self._dialogs: list[QMessageBox] = []
        self.trainer_data: LoadedData | None = None  # the data the trainer was built on
        self.current_run: Run | None = None
        self.runs = RunLog()
        # weights (and trainer state) the next run starts from: an imported model or a
        # reopened project; used when its design fits the designer and the data
        self.pending_network: Network | None = None
        self.pending_state: tuple[dict, dict] | None = None
        self.imported_model: ModelFile | None = None
        self._closing = False
        self._continue_on_cpu = False  # the GPU ran out of memory under "auto"
        self._building: _Building | None = None  # a run being made in a worker
        self._parked: ParkedRun | None = None  # meanwhile, the previous run's weights
        self._refused_message: str | None = None  # why the run being made was not made
        self._run_end_epoch = 0
        self._loaded_data_state: dict | None = None  # the Data panel's state at the last load

        self.designer = NetworkDesigner()
        self.data_panel = DataPanel()
        self.training_panel = TrainingPanel()
        self.plots = LivePlots()
        self.diagram = NetworkDiagram()
        self.weights_view = WeightsView()
        self.evaluation_view = EvaluationView()
        self.evaluation_job: Job | None = None
        self._evaluation_stale = True
        self.predict_view = PredictView()
        self.predict_view.set_model_source(self.predictor)
        self.math_view = MathView()
        self.math_view.set_check_source(self._gradcheck_problem)
        self.runs_view = RunsView(self.runs)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("centralTabs")
        self.example_panel = ExplanationPanel()
        self.training_tab = with_explanation(self.plots, self.example_panel)
        self.slowdown_view: SlowdownView | None = None  # made when the example is opened
        self.tabs.addTab(self.training_tab, "Training")
        self.tabs.addTab(self.diagram, "Network")
        self.tabs.addTab(self.weights_view, "Weights")
        self.tabs.addTab(self.evaluation_view, "Evaluation")
        self.tabs.addTab(self.predict_view, "Predict")
        self.tabs.addTab(self.math_view, "Math")
        self.tabs.addTab(self.runs_view, "Runs")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setCentralWidget(self.tabs)
        self.network_dock = self._dock("Network", "networkDock", self.designer,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.data_dock = self._dock("Data", "dataDock", self.data_panel,
                                    Qt.DockWidgetArea.LeftDockWidgetArea)
        self.training_dock = self._dock("Training", "trainingDock", self.training_panel,
                                        Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.network_dock, self.data_dock)
        self.network_dock.raise_()

        self._make_status_bar()
        self.projects = ProjectController(self)
        self._make_actions()
        self.projects.project_changed.connect(self._update_title)

        p = self.training_panel
        p.start_button.clicked.connect(self.start_clicked)
        p.pause_button.clicked.connect(self.toggle_pause)
        p.step_button.clicked.connect(self.step)
        p.stop_button.clicked.connect(self.stop)
        p.reset_button.clicked.connect(self.reset_weights)
        p.batch_spin.valueChanged.connect(self._update_context)
        self.designer.changed.connect(self._design_changed)
        self.designer.changed.connect(self.projects.mark_dirty)
        self.training_panel.changed.connect(self.projects.mark_dirty)
        self.data_panel.loaded.connect(self._data_loaded)
        self.data_panel.busy_changed.connect(lambda _: self._update_controls())

        self.timer = QTimer(self)
        self.timer.setObjectName("refreshTimer")
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._refresh)
        self.inspect_timer = QTimer(self)
        self.inspect_timer.setObjectName("inspectTimer")
        self.inspect_timer.setInterval(INSPECT_MS)
        self.inspect_timer.timeout.connect(self.refresh_weights)

        self._restore_settings()
        self._design_changed()
        self._update_controls()
        self.projects.settle()  # restoring the last settings is not a change
        self._update_title()

    # ------------------------------------------------------------------ building
    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        self.addDockWidget(area, dock)
        return dock

    def _make_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel()
        self.device_label.setObjectName("deviceLabel")
        self.epoch_label = QLabel("epoch -")
        self.epoch_label.setObjectName("epochLabel")
        self.step_label = QLabel("step -")
        self.step_label.setObjectName("stepLabel")
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("speedLabel")
        self.eta_label = QLabel("")
        self.eta_label.setObjectName("etaLabel")
        for w in (self.device_label, self.epoch_label, self.step_label, self.speed_label,
                  self.eta_label):
            bar.addPermanentWidget(w)
        try:
            self.device_label.setText(select_backend("auto").label)
        except BackendError as exc:  # auto never raises today; be safe
            self.device_label.setText(str(exc))

    def _make_actions(self) -> None:
        def action(text: str, name: str, shortcut: str | QKeySequence | None, slot,
                   tip: str = "") -> QAction:
            a = QAction(text, self)
            a.setObjectName(name)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.setToolTip(tip or text)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.open_action = action("&Open image folder…", "openFolderAction",
                                  QKeySequence.StandardKey.Open, self.data_panel.browse)
        self.sample_action = action("Load the bundled &sample", "loadSampleAction", None,
                                    lambda: self.data_panel.load(SAMPLE_NAME))
        self.quit_action = action("&Quit", "quitAction", QKeySequence.StandardKey.Quit,
                                  self.close)
        self.start_pause_action = action("Start / &pause", "startPauseAction", "Space",
                                         self.start_or_pause, "Start, pause or resume (Space)")
        self.step_action = action("S&tep", "stepAction", "F10", self.step,
                                  "One mini-batch step (F10)")
        self.stop_action = action("St&op", "stopAction", "Ctrl+.", self.stop, "Stop (Ctrl+.)")
        self.reset_action = action("&Reset weights", "resetAction", None, self.reset_weights)
        self.export_model_action = action("&Export model…", "exportModelAction", None,
                                          self._ask_export_model)
        self.import_model_action = action("&Import model…", "importModelAction", None,
                                          self._ask_import_model)
        self.export_plot_action = action("Export plot as &PNG…", "exportPlotAction", None,
                                         self._ask_export_plot)

        menu = self.menuBar()
        file_menu = self.file_menu = menu.addMenu("&File")
        pr = self.projects
        file_menu.addActions([pr.new_action, pr.open_action])
        file_menu.addMenu(pr.recent_menu)
        file_menu.addActions([pr.save_action, pr.save_as_action])
        file_menu.addSeparator()
        file_menu.addActions([self.open_action, self.sample_action])
        examples = self.examples_menu = file_menu.addMenu("E&xamples")
        examples.setObjectName("examplesMenu")
        self.vanishing_action = action("&Vanishing gradients", "vanishingGradientsExampleAction",
                                       None, lambda: self.open_example("vanishing-gradients"))
        self.slowdown_action = action("&Learning slowdown", "learningSlowdownExampleAction",
                                      None, lambda: self.open_example("learning-slowdown"))
        examples.addActions([self.vanishing_action, self.slowdown_action])
        file_menu.addSeparator()
        file_menu.addActions([self.import_model_action, self.export_model_action,
                              self.export_plot_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        train_menu = menu.addMenu("&Train")
        train_menu.addActions([self.start_pause_action, self.step_action, self.stop_action,
                               self.reset_action])
        view_menu = menu.addMenu("&View")
        for dock in (self.network_dock, self.data_dock, self.training_dock):
            view_menu.addAction(dock.toggleViewAction())
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolBar")
        toolbar.addActions([self.open_action, self.start_pause_action, self.step_action,
                            self.stop_action, self.reset_action])

    # ------------------------------------------------------------------ state
    def is_training(self) -> bool:
        """A run is being made or trained."""
        return self.training_job is not None or self._build_job is not None

    def _update_controls(self) -> None:
        running = self.is_training()
        if self._building is not None:
            paused = self._building.paused
        else:
            paused = running and self.trainer is not None and self.trainer.is_paused
        self.training_panel.set_running(running, paused)
        ready = self.designer.problem() is None and not self.data_panel.is_loading()
        self.training_panel.start_button.setEnabled(ready and not running)
        self.training_panel.step_button.setEnabled(ready and (not running or paused))
        self.data_panel.load_button.setEnabled(not running and not self.data_panel.is_loading())
        self.designer.setEnabled(not running)
        self.stop_action.setEnabled(running)

    def _update_context(self) -> None:
        data = self.data_panel.data
        if data is None:
            self.designer.set_context(None, None, self.training_panel.batch_spin.value() or 1)
        else:
            train = data.prepared.train
            batch = self.training_panel.batch_spin.value()
            batch = train.m if batch <= 0 or batch > train.m else batch
            self.designer.set_context(train.n_x, train.Y.shape[0], batch)
        sizes, acts = self.designer.sizes_and_activations()
        self.diagram.set_network(sizes, acts)
        self._update_math()
        self._update_controls()

    def _design_changed(self) -> None:
        self._update_context()

    def remember_data_state(self) -> None:
        """The Data panel's state now is the project's (it opened with it): loading other
        data later is a change to save, loading these again is not."""
        self._loaded_data_state = self.data_panel.state()

    def _data_loaded(self, data: LoadedData) -> None:
        # The data a project opens with (at start or on Open) are not a change to save, nor
        # is the output activation fitted to them below; other data the user loads are.
        quiet = self.data_panel.loaded_quietly
        keep_clean = quiet and not self.projects.dirty
        data_state, self._loaded_data_state = self._loaded_data_state, self.data_panel.state()
        if not quiet and data_state != self._loaded_data_state:
            self.projects.mark_dirty()
        n_out = data.prepared.train.Y.shape[0]
        out = self.designer.output_combo
        if n_out == 1 and out.currentText() == "softmax":
            out.setCurrentText("sigmoid")
        elif n_out > 1 and out.currentText() == "sigmoid" and not self.settings.contains(
                "designer"):
            out.setCurrentText("softmax")
        self._update_context()
        if keep_clean:
            self.projects.settle()
        self.statusBar().showMessage(f"Loaded {len(data.prepared.class_names)} classes, "
                                     f"{data.prepared.train.m} training examples", 5000)
        self.data_loaded.emit(data)

    # ------------------------------------------------------------------ training
    def _run_key(self) -> str:
        data = self.data_panel.data
        return json.dumps([self.designer.state(), self.training_panel.state(),
                           id(data) if data is not None else None])

    def _plan_run(self) -> RunPlan:
        """What a new run needs, read from the widgets (GUI thread). Raises ValueError or
        BackendError when it cannot be made as chosen."""
        data = self.data_panel.data
        if data is None:
            raise ValueError("No data loaded: load an image folder first.")
        prepared = data.prepared
        config = self.training_panel.config()
        spec = self.designer.spec(prepared.train.n_x, prepared.train.Y.shape[0])
        dtype = self.training_panel.dtype()
        train, val = prepared.train, prepared.val
        bs = config.batch_size if 0 < config.batch_size < train.m else train.m
        config.report_every = max(1, math.ceil(train.m / bs) // REPORTS_PER_EPOCH)
        # auto falls back to the CPU when the GPU cannot hold this run; gpu says what to change.
        # A previous run on the GPU gives its memory back first, so what it holds counts as
        # free.
        old = self.trainer
        old_bytes = held_bytes(old.memory_tensors()) \
            if old is not None and old.network.backend.is_gpu else 0
        backend = choose_training_backend(self.training_panel.device(), run_tensors(
            spec.sizes, train.m, val.m if val is not None else 0, config, dtype, on_gpu=True),
            reclaimable=old_bytes)
        parked = None
        if old_bytes and backend.is_gpu:
            # before the new run takes any GPU memory: the previous run's weights and state
            # wait in host memory, and become a CPU run again only if this one fails to build
            parked = old.parked(cpu_backend("moved off the GPU for a new run"))
            self.trainer = None
            self._parked = parked
            self.device_label.setText(parked.network.backend.label)
        return RunPlan(spec, config, dtype, self.training_panel.device(), backend, data,
                       self.buffer.add_step, self.buffer.add_epoch,
                       pending_network=self.pending_network, pending_state=self.pending_state,
                       imported_model=self.imported_model, parked=parked,
                       previous_data=self.trainer_data)

    def start(self, paused: bool = False, epochs: int | None = None) -> bool:
        """Start (or continue) training in the worker thread for ``epochs`` epochs (default:
        the training panel's). Returns False when refused at once; a new run is then built
        in the worker, and ``run_refused`` says when it cannot be (``training_started``
        follows a run that starts)."""
        if self.is_training():
            return False
        problem = self.designer.problem()
        if problem:
            self._refuse(problem)
            return False
        key = self._run_key()
        if self.trainer is not None and key == self._trainer_key:
            self._run(self.trainer, paused, epochs)
            return True
        try:
            plan = self._plan_run()
        except (ValueError, BackendError) as exc:
            self._refuse(str(exc))
            return False
        self._build_then_run(_Building(lambda: build_run(plan), plan.data, key, paused, epochs,
                                       new_run=True, parked=plan.parked))
        return True

    def _build_then_run(self, building: _Building) -> None:
        """Make a run in a worker, then train it (:meth:`_run_built`). Until then the window
        counts as training, and pause, step and stop are kept for the run."""
        self._building = building
        self._refused_message = None
        job = Job(lambda job: building.make(), "buildJob")
        job.succeeded.connect(self._run_built)  # bound methods: run in the GUI thread
        job.failed.connect(self._build_failed)
        job.done.connect(self._build_done)
        self._build_job = job  # its own reference: the run's job replaces training_job
        job.start()
        self._update_controls()

    def _run_built(self, built: BuiltRun) -> None:
        b = self._building
        if b is None or self._closing:
            return
        self._building = None
        self._parked = None
        if built.trainer is None:
            self._no_run_made(b, built.previous, built.label, built.refused is not None,
                              built.refused or built.error or "the run could not be made")
            return
        trainer = self.trainer = built.trainer
        self.trainer_data = b.data
        self._trainer_key = b.key
        self.device_label.setText(built.label)
        for note in built.notes:
            self.statusBar().showMessage(note, 10000)
        if b.new_run:
            spec = trainer.network.spec
            self.plots.reset(spec.n_layers, spec.activations)
            self._new_run()
        if b.stop:
            trainer.stop()
        if b.paused:  # steps asked while running was asked again are part of running
            for _ in range(b.steps):
                trainer.step()
        self._run(trainer, b.paused, b.epochs)

    def _no_run_made(self, b: _Building, previous: Trainer | None, label: str, refused: bool,
                     message: str) -> None:
        """No run was made: say why (a refusal beside the design, a failure in a dialog;
        ``_build_done`` signals it). The previous run goes on, on the CPU, when it had to
        leave the GPU (``previous``); should even that have failed, its weights and state
        become the pending ones the next run starts from."""
        if b.parked is not None and previous is not None:
            self.trainer = previous
            self.device_label.setText(label)
        elif b.parked is not None:
            self.pending_network = b.parked.network
            self.pending_state = (b.parked.state, b.parked.arrays)
            self.imported_model = None
        if refused:
            self._refuse(message)
        else:
            self._show_dialog("Training failed", message, QMessageBox.Icon.Critical)
        self._refused_message = message

    def _build_failed(self, message: str) -> None:
        """The build itself raised (build_run reports its own errors; this is a last
        resort): keep what can be kept."""
        b, self._building, self._parked = self._building, None, None
        if b is not None:
            self._no_run_made(b, None, "", False, message)

    def _build_done(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.wait(5000)
        if self._build_job is not job:
            return
        self._build_job = None
        self._building = None
        message, self._refused_message = self._refused_message, None
        if self._closing:
            return
        self._update_controls()
        if message is not None or self.training_job is None:  # no run was made
            self.run_refused.emit(message or "the run could not be made")
            self.training_finished.emit(None)

    def _run(self, trainer: Trainer, paused: bool, epochs: int | None) -> None:
        """Train ``trainer`` in the worker thread."""
        self.buffer.drain()
        epochs = trainer.config.epochs if epochs is None else epochs
        job = Job(lambda job: trainer.run(epochs, start_paused=paused), "trainingJob")
        job.succeeded.connect(self._training_succeeded)
        job.failed.connect(self._training_failed)
        job.done.connect(self._training_done)  # a bound method: runs in the GUI thread
        self.training_job = job
        self._run_started = time.perf_counter()
        self._run_start_step = trainer.step_count
        self._run_total_steps = trainer.step_count + epochs * trainer.steps_per_epoch
        self._run_end_epoch = trainer.epoch + epochs
        job.start()
        self.timer.start()
        self.inspect_timer.start()
        self._evaluation_stale = True
        self._update_controls()
        self.training_started.emit()

    def _settings_snapshot(self) -> dict:
        return {"designer": self.designer.state(), "data": self.data_panel.state(),
                "training": self.training_panel.state()}

    def _new_run(self) -> None:
        assert self.trainer is not None
        settings = self._settings_snapshot()
        self.current_run = self.runs.add(settings, self.trainer.history, self.trainer.train.m,
                                         describe(settings["designer"], settings["training"]))
        self.runs_view.refresh()

    def start_clicked(self) -> None:
        self.start()

    def start_or_pause(self) -> None:
        if not self.is_training():
            self.start()
        else:
            self.toggle_pause()

    def toggle_pause(self) -> None:
        if self._building is not None:
            self._building.paused = not self._building.paused
            self._update_controls()
            return
        if self.trainer is None or not self.is_training():
            return
        if self.trainer.is_paused:
            self.trainer.resume()
        else:
            self.trainer.pause()
        self._update_controls()

    def step(self) -> None:
        """Exactly one more mini-batch step (starting a paused run when idle)."""
        if not self.is_training():
            if not self.start(paused=True):
                return
        if self._building is not None:  # the run is being made: it takes the step first
            self._building.paused = True
            self._building.steps += 1
        elif self.trainer is not None and (self.trainer.is_paused
                                           or not self.trainer.is_running):
            self.trainer.step()
        self._update_controls()

    def stop(self) -> None:
        if self._building is not None:
            self._building.stop = True  # the run stops before its first step
        elif self.trainer is not None and self.is_training():
            self.trainer.stop()

    def reset_weights(self) -> None:
        if self.is_training():
            return
        self.trainer = None
        self._trainer_key = None
        self.pending_network = self.pending_state = None
        self._evaluation_stale = True
        self.evaluation_view.clear()
        spec_layers = len(self.designer.layers()) + 1
        self.plots.reset(spec_layers, self.designer.sizes_and_activations()[1])
        self.epoch_label.setText("epoch -")
        self.step_label.setText("step -")
        self.speed_label.setText("")
        self.eta_label.setText("")

    def _refuse(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)
        self.designer.problem_label.setText(message)
        self.designer.problem_label.show()

    def _refresh(self) -> None:
        steps, epochs = self.buffer.drain()
        if not steps and not epochs:
            return
        self.plots.add(steps, epochs)
        # One plot per tick, in turn: a redraw of all four at once would hold the GUI thread
        # four times as long. Paint it now, so the cost of the redraw is measured.
        t0 = time.perf_counter()
        k = self._next_plot = (getattr(self, "_next_plot", -1) + 1) % 4
        self.plots.refresh(only=k)
        self.plots.plots()[k].repaint()
        spent_ms = (time.perf_counter() - t0) * 1000
        # Never spend more than a third of the GUI thread's time drawing: slow rendering
        # lowers the redraw rate, never the responsiveness.
        self.timer.setInterval(int(max(REFRESH_MS, 3 * spent_ms)))
        if steps:
            r = steps[-1]
            self.epoch_label.setText(f"epoch {r.epoch}")
            self.step_label.setText(f"step {r.step}")
            self.speed_label.setText(f"{r.examples_per_s:,.0f} examples/s")
            done = r.step - self._run_start_step
            left = self._run_total_steps - r.step
            elapsed = time.perf_counter() - self._run_started
            if done > 0 and left >= 0:
                self.eta_label.setText(f"ETA {_duration(elapsed / done * left)}")

    def _training_succeeded(self, result: TrainResult) -> None:
        self._last_result = result
        trainer = self.trainer
        if (result.stopped == "out_of_memory" and self.training_panel.device() == "auto"
                and trainer is not None and trainer.network.backend.is_gpu
                and not trainer.ended_stop_asked
                and (trainer.epoch < self._run_end_epoch or trainer.report_due)):
            # auto: go on on the CPU from where the GPU stopped, once this run has ended
            self._continue_on_cpu = True
            self.statusBar().showMessage(f"{result.message} Continuing on the CPU.", 10000)
            return
        if result.stopped in ("nan", "out_of_memory"):
            self._show_dialog("Training stopped", result.message, QMessageBox.Icon.Warning)
        self.statusBar().showMessage(result.message, 10000)

    def _training_failed(self, message: str) -> None:
        self._last_result = None
        self._show_dialog("Training failed", message, QMessageBox.Icon.Critical)

    def _training_done(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.wait(5000)  # the thread is quitting
        if self.training_job is job:
            self.training_job = None
        if self._closing:
            return  # the window is going: start nothing new
        self.timer.stop()
        self.inspect_timer.stop()
        self._refresh()
        self.plots.refresh()
        self.runs_view.refresh()
        self._evaluation_stale = True
        self._refresh_visible_tab()
        self.projects.mark_dirty()  # trained weights are unsaved work
        self._update_controls()
        if self._continue_on_cpu and self.trainer is not None:
            # the same run goes on (same weights, position and history): not finished yet
            self._continue_on_cpu = False
            trainer = self.trainer
            try:
                parked = trainer.parked(cpu_backend("the GPU ran out of memory"))
            except Exception as exc:  # noqa: BLE001 - the GPU run stays as it is
                self._show_dialog("Training stopped", describe_error(exc),
                                  QMessageBox.Icon.Warning)
                self.training_finished.emit(getattr(self, "_last_result", None))
                return
            self.trainer, self._parked, data = None, parked, self.trainer_data
            self._build_then_run(_Building(
                lambda: resume_run(parked, data), data, self._trainer_key,
                trainer.ended_paused, self._run_end_epoch - trainer.epoch, new_run=False,
                parked=parked))
            return
        self.training_finished.emit(getattr(self, "_last_result", None))

    # ------------------------------------------------------------------ the current model
    def current_model(self) -> ModelFile:
        """A snapshot of the model in hand (host NumPy copy, safe to use from another thread):
        the trained network with what is needed to read new images, else an imported model.
        Raises ValueError saying why there is none."""
        in_hand = self._run_in_hand()
        if in_hand is not None and self.trainer_data is not None:
            network, epoch, steps = in_hand
            prepared = self.trainer_data.prepared
            norm = prepared.normalisation
            net = network.to(select_backend("cpu"))
            summary = self.current_run.final() if self.current_run is not None else {}
            return ModelFile(network=net, class_names=list(prepared.class_names),
                             input_shape=prepared.input_shape,
                             normalisation=norm.to_model(), norm_mean=norm.mean,
                             norm_std=norm.std, preprocessing=prepared.preprocessing,
                             training={"epochs": epoch, "steps": steps,
                                       "settings": self._settings_snapshot(),
                                       **{k: v for k, v in summary.items() if k != "epochs"}})
        if self.imported_model is not None:
            return self.imported_model
        raise ValueError("No model yet: train a network (or import a model) first.")

    def _run_in_hand(self) -> tuple[Network, int, int] | None:
        """The trained run's network, epochs and steps: the trainer's, or, while a new run
        is being made on the GPU, the previous run's parked in host memory."""
        if self.trainer is not None:
            return self.trainer.network, self.trainer.epoch, self.trainer.step_count
        if self._parked is not None:
            state = self._parked.state
            return self._parked.network, int(state["epoch"]), int(state["step_count"])
        if self.pending_network is not None and self.imported_model is None:
            # a previous run that could go neither on with the new one nor back to the CPU
            state = self.pending_state[0] if self.pending_state is not None else {}
            return (self.pending_network, int(state.get("epoch", 0)),
                    int(state.get("step_count", 0)))
        return None

    @property
    def parked_run(self) -> ParkedRun | None:
        """The previous run while a new one is being made on the GPU (its weights and state
        in host memory), else None."""
        return self._parked

    def predictor(self) -> Predictor:
        try:
            return Predictor(self.current_model())
        except PredictError as exc:
            raise ValueError(str(exc)) from None

    def export_model(self, path: str) -> bool:
        """Save the current model as ``path`` (.npz). False with a message when refused."""
        try:
            save_model(path, self.current_model())
        except (ValueError, OSError) as exc:
            self._show_dialog("Cannot export the model", str(exc), QMessageBox.Icon.Warning)
            return False
        self.statusBar().showMessage(f"Model saved as {path}", 5000)
        return True

    def import_model(self, path: str) -> bool:
        """Load a model file: its design goes to the designer, its weights are what the next
        run starts from, and Predict uses it. A bad file is refused with its message."""
        if self.is_training():
            return False
        try:
            model = load_model(path, select_backend("cpu"))
        except ModelFileError as exc:
            self._show_dialog("Cannot open the model", str(exc), QMessageBox.Icon.Warning)
            return False
        self.apply_model(model)
        self.statusBar().showMessage(f"Model {path} imported", 5000)
        return True

    def apply_model(self, model: ModelFile, state: tuple[dict, dict] | None = None) -> None:
        spec = model.network.spec
        self.designer.set_state({
            "layers": [[n, a] for n, a in zip(spec.hidden_sizes, spec.hidden_activations,
                                               strict=True)],
            "output": spec.output_activation, "cost": spec.cost, "init": spec.init})
        self.reset_weights()
        self.imported_model = model
        self.pending_network = model.network
        self.pending_state = state

    def _ask_export_model(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export model", "model.npz",
                                              "desktop-nn model (*.npz)")
        if path:
            self.export_model(path)

    def _ask_import_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import model", "",
                                              "desktop-nn model (*.npz);;All files (*)")
        if path:
            self.import_model(path)

    def export_plot_png(self, path: str) -> bool:
        """The current tab as a PNG (written to a temporary file, then moved into place)."""
        widget = self.tabs.currentWidget()
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp.png")
        if not widget.grab().save(str(tmp), "PNG"):
            self._show_dialog("Cannot export the plot", f"{path}: could not be written",
                              QMessageBox.Icon.Warning)
            return False
        os.replace(tmp, target)
        return True

    def _ask_export_plot(self) -> None:
        name = self.tabs.tabText(self.tabs.currentIndex()).lower()
        path, _ = QFileDialog.getSaveFileName(self, "Export plot as PNG", f"{name}.png",
                                              "PNG image (*.png)")
        if path:
            self.export_plot_png(path)

    # ------------------------------------------------------------------ examples
    def open_example(self, key: str) -> bool:
        """File > Examples: set the example up and show its explanation beside its plot."""
        if self.is_training():
            self.statusBar().showMessage("Stop the training run first.", 5000)
            return False
        example = EXAMPLES[key]
        if example is SLOWDOWN:
            if self.slowdown_view is None:
                self.slowdown_view = SlowdownView()
                self.tabs.addTab(self.slowdown_view, "Learning slowdown")
            self.tabs.setCurrentWidget(self.slowdown_view)
            self.slowdown_view.run()
            return True
        if not self.projects.new():  # an example is a new, untitled project: ask first
            return False
        if self.data_panel.data is None or self.data_panel.folder_edit.text() != SAMPLE_NAME:
            self.data_panel.load(SAMPLE_NAME, synchronous=True)  # the bundled MNIST digits
        # the design after the data: loading may pick a default output for the classes
        if example.designer is not None:
            self.designer.set_state(example.designer)
        if example.training is not None:
            self.training_panel.set_state(example.training)
        if example.gradient_mode is not None:
            self.plots.gradient_mode.setCurrentText(example.gradient_mode)
        self.tabs.setCurrentWidget(self.training_tab)
        self.example_panel.show_example(example)
        return True

    def _update_title(self) -> None:
        star = "*" if self.projects.dirty else ""
        self.setWindowTitle(f"{self.projects.name}{star} — desktop-nn")

    def _tab_changed(self, index: int) -> None:
        self._refresh_visible_tab()

    def _refresh_visible_tab(self) -> None:
        if self._closing:
            return
        current = self.tabs.currentWidget()
        if current is self.runs_view:
            self.runs_view.refresh()
        elif current is self.weights_view:
            self.refresh_weights()
        elif current is self.evaluation_view and self._evaluation_stale:
            self.refresh_evaluation()

    # ------------------------------------------------------------------ inspection tabs
    def _inspected_network(self) -> tuple[Network | None, tuple[int, int, int] | None]:
        """The network the inspection tabs show, and the input image shape (or None)."""
        in_hand = self._run_in_hand()
        if in_hand is not None and self.trainer_data is not None:
            return in_hand[0], self.trainer_data.prepared.input_shape
        if self.imported_model is not None:
            return self.imported_model.network, self.imported_model.input_shape
        return None, None

    def refresh_weights(self) -> None:
        """Weight tiles and histograms; during training only while the tab is shown."""
        if self.tabs.currentWidget() is not self.weights_view:
            return
        net, shape = self._inspected_network()
        if net is None:
            self.weights_view.clear()
        else:
            # the training thread may be mid-update: a view, never used to compute anything
            self.weights_view.set_parameters(*net.get_parameters(), shape)

    def refresh_evaluation(self) -> bool:
        """Confusion matrix, metrics and mistakes of the current model on the validation,
        test and training sets, computed in the background. False when there is nothing."""
        if self.evaluation_job is not None:
            return False
        data = self.trainer_data if self._run_in_hand() is not None else self.data_panel.data
        try:
            model = self.current_model()
        except ValueError:
            self.evaluation_view.clear()
            return False
        problem = "no data loaded" if data is None else preparation_mismatch(model,
                                                                               data.prepared)
        if problem:
            self.evaluation_view.clear()
            self.statusBar().showMessage(f"Cannot evaluate the model on these data: {problem}",
                                         10000)
            return False
        prepared = data.prepared
        sets = {name: ds for name, ds in (("validation", prepared.val), ("test", prepared.test),
                                          ("train", prepared.train)) if ds is not None}
        shape, norm = prepared.input_shape, prepared.normalisation
        net = model.network

        def evaluate(job: Job) -> dict:
            out = {}
            for name, ds in sets.items():
                probabilities = net.backend.to_host(net.predict_proba(ds.X))
                images = _ColumnImages(ds.X, shape, norm) if shape is not None else None
                out[name] = (probabilities, labels_of(ds.Y), images)
            return out

        job = Job(evaluate, "evaluationJob")
        job.succeeded.connect(self._evaluation_succeeded)  # bound methods: GUI thread
        job.failed.connect(self._evaluation_failed)
        job.done.connect(self._evaluation_done)
        self.evaluation_job = job
        self._evaluation_classes = list(prepared.class_names)
        self._evaluation_stale = False
        job.start()
        return True

    def _evaluation_succeeded(self, sets: dict) -> None:
        self.evaluation_view.set_sets(sets, self._evaluation_classes)

    def _evaluation_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Evaluation failed: {message}", 8000)

    def _evaluation_done(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.wait(5000)
        if self.evaluation_job is job:
            self.evaluation_job = None
        if self._evaluation_stale and not self._closing:
            self._refresh_visible_tab()  # the model changed while it was being evaluated

    def _update_math(self) -> None:
        try:
            spec = self.designer.spec()
        except ValueError:
            spec = None
        batch = self.training_panel.batch_spin.value()
        self.math_view.set_spec(spec, batch_label=str(batch) if batch > 0 else "m",
                                l2=self.training_panel.l2_spin.value())

    def _gradcheck_problem(self) -> CheckProblem | None:
        """What "Check gradients" checks: the network being trained (else a fresh one of the
        current design) on the first training examples, with the run's L2."""
        data = self.trainer_data if self._run_in_hand() is not None else self.data_panel.data
        if data is None:
            return None
        train = data.prepared.train
        if self.trainer is not None:
            net, l2 = self.trainer.network, self.trainer.config.l2
        elif self._parked is not None:
            net, l2 = self._parked.network, self._parked.config.l2
        else:
            spec = self.designer.spec(train.n_x, train.Y.shape[0])  # ValueError: shown
            net = Network(spec, select_backend("cpu"), dtype="float64",
                          seed=self.training_panel.seed_spin.value())
            l2 = self.training_panel.l2_spin.value()
        k = GRADCHECK_EXAMPLES
        return CheckProblem(net, train.X[:, :k], train.Y[:, :k], l2, n=train.m)

    def _show_dialog(self, title: str, text: str, icon) -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorDialog")
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _: self._dialogs.remove(box) if box in self._dialogs
                             else None)
        self._dialogs.append(box)
        box.open()  # never blocks the event loop
        return box

    # ------------------------------------------------------------------ settings, closing
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = s.value("windowState")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        for key, widget in (("designer", self.designer), ("data", self.data_panel),
                            ("training", self.training_panel)):
            text = s.value(key)
            if isinstance(text, str):
                try:
                    widget.set_state(json.loads(text))
                except (ValueError, TypeError, AttributeError):
                    pass  # a damaged setting is ignored, never fatal

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("windowState", self.saveState())
        s.setValue("designer", json.dumps(self.designer.state()))
        s.setValue("data", json.dumps(self.data_panel.state()))
        s.setValue("training", json.dumps(self.training_panel.state()))
        s.sync()

    def load_initial_data(self) -> None:
        """The last folder (in the background), or the bundled sample at once."""
        self.remember_data_state()
        folder = self.data_panel.folder_edit.text().strip()
        if not folder or folder == SAMPLE_NAME:
            self.data_panel.load(SAMPLE_NAME, synchronous=True, quiet=True)
        else:
            self.data_panel.load(folder, quiet=True)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if not self.projects.maybe_save():
            event.ignore()
            return
        self._closing = True
        self.save_settings()
        if self.is_training():
            self.stop()
            for job in (self._build_job, self.training_job):
                if job is not None:
                    job.wait(30_000)
        for job in [self.data_panel.job, *self.data_panel._superseded]:
            if job is not None:
                job.cancel()
                job.wait(30_000)
        self.predict_view.shutdown()
        self.math_view.shutdown()
        if self.slowdown_view is not None:
            self.slowdown_view.shutdown()
        if self.evaluation_job is not None:
            self.evaluation_job.wait(30_000)
        self.inspect_timer.stop()
        self.projects.closed_cleanly()
        self.timer.stop()
        super().closeEvent(event)


@dataclass
class _Building:
    """A run being made in a worker (``make`` runs there), and what to do with it: the
    data it is made from, its settings key, the pause, steps and stop asked meanwhile, the
    epochs to train, whether it is a new run (plots and Runs tab start afresh) and the
    parked previous run."""

    make: Callable[[], BuiltRun]
    data: LoadedData
    key: str | None
    paused: bool
    epochs: int | None
    new_run: bool
    parked: ParkedRun | None = None
    steps: int = 0
    stop: bool = False


class _ColumnImages:
    """The pictures of a set's columns, made one at a time when the gallery asks for them
    (it shows at most a few hundred of possibly tens of thousands)."""

    def __init__(self, X, shape: tuple[int, int, int], normalisation) -> None:
        self.X, self.shape, self.normalisation = X, shape, normalisation

    def __getitem__(self, i: int):
        return images_from_columns(self.X[:, i:i + 1], self.shape, self.normalisation)[0]

    def __len__(self) -> int:
        return int(self.X.shape[1])


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds // 60 % 60:02d} min"
