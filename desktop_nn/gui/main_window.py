"""The main window: Network, Data and Training docks around the live plots; menus, toolbar,
shortcuts and status bar; runs the trainer in a worker thread and feeds the plots on a timer."""

from __future__ import annotations

import json
import math
import time

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
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
from desktop_nn.data.sources import SAMPLE_NAME, LoadedData
from desktop_nn.gui.data_panel import DataPanel
from desktop_nn.gui.designer import NetworkDesigner
from desktop_nn.gui.diagram import NetworkDiagram
from desktop_nn.gui.plots import LivePlots
from desktop_nn.gui.training_panel import TrainingPanel
from desktop_nn.gui.worker import Job, ReportBuffer
from desktop_nn.nn.network import Network
from desktop_nn.train.trainer import Trainer, TrainResult

REFRESH_MS = 33  # at most ~30 redraws a second, whatever the step rate
REPORTS_PER_EPOCH = 500  # diagnostics at most this often per epoch (every step when fewer)


class MainWindow(QMainWindow):
    """Signals for tests and automation: ``data_loaded``, ``training_started``,
    ``training_finished(TrainResult | None)`` (None when the run failed with an error)."""

    data_loaded = Signal(object)
    training_started = Signal()
    training_finished = Signal(object)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.setWindowTitle("desktop-nn")
        self.settings = settings if settings is not None else QSettings("desktop-nn",
                                                                        "desktop-nn")
        self.trainer: Trainer | None = None
        self.training_job: Job | None = None
        self.buffer = ReportBuffer()
        self._trainer_key: str | None = None
        self._run_started = 0.0
        self._dialogs: list[QMessageBox] = []

        self.designer = NetworkDesigner()
        self.data_panel = DataPanel()
        self.training_panel = TrainingPanel()
        self.plots = LivePlots()
        self.diagram = NetworkDiagram()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("centralTabs")
        self.tabs.addTab(self.plots, "Training")
        self.tabs.addTab(self.diagram, "Network")
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
        self._make_actions()

        p = self.training_panel
        p.start_button.clicked.connect(self.start_clicked)
        p.pause_button.clicked.connect(self.toggle_pause)
        p.step_button.clicked.connect(self.step)
        p.stop_button.clicked.connect(self.stop)
        p.reset_button.clicked.connect(self.reset_weights)
        p.batch_spin.valueChanged.connect(self._update_context)
        self.designer.changed.connect(self._design_changed)
        self.data_panel.loaded.connect(self._data_loaded)
        self.data_panel.busy_changed.connect(lambda _: self._update_controls())

        self.timer = QTimer(self)
        self.timer.setObjectName("refreshTimer")
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._refresh)

        self._restore_settings()
        self._design_changed()
        self._update_controls()

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

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.open_action, self.sample_action])
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
        return self.training_job is not None

    def _update_controls(self) -> None:
        running = self.is_training()
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
        self._update_controls()

    def _design_changed(self) -> None:
        self._update_context()

    def _data_loaded(self, data: LoadedData) -> None:
        n_out = data.prepared.train.Y.shape[0]
        out = self.designer.output_combo
        if n_out == 1 and out.currentText() == "softmax":
            out.setCurrentText("sigmoid")
        elif n_out > 1 and out.currentText() == "sigmoid" and not self.settings.contains(
                "designer"):
            out.setCurrentText("softmax")
        self._update_context()
        self.statusBar().showMessage(f"Loaded {len(data.prepared.class_names)} classes, "
                                     f"{data.prepared.train.m} training examples", 5000)
        self.data_loaded.emit(data)

    # ------------------------------------------------------------------ training
    def _run_key(self) -> str:
        data = self.data_panel.data
        return json.dumps([self.designer.state(), self.training_panel.state(),
                           id(data) if data is not None else None])

    def _build_trainer(self) -> Trainer:
        data = self.data_panel.data
        if data is None:
            raise ValueError("No data loaded: load an image folder first.")
        prepared = data.prepared
        config = self.training_panel.config()
        backend = select_backend(self.training_panel.device())
        spec = self.designer.spec(prepared.train.n_x, prepared.train.Y.shape[0])
        net = Network(spec, backend, dtype=self.training_panel.dtype(), seed=config.seed)
        train, val = prepared.train, prepared.val
        bs = config.batch_size if 0 < config.batch_size < train.m else train.m
        config.report_every = max(1, math.ceil(train.m / bs) // REPORTS_PER_EPOCH)
        self.device_label.setText(backend.label)
        return Trainer(net, train.X, train.Y, config,
                       X_val=val.X if val is not None else None,
                       Y_val=val.Y if val is not None else None,
                       on_step=self.buffer.add_step, on_epoch=self.buffer.add_epoch)

    def start(self, paused: bool = False) -> bool:
        """Start (or continue) training in the worker thread. Returns False when refused."""
        if self.is_training():
            return False
        problem = self.designer.problem()
        if problem:
            self._refuse(problem)
            return False
        key = self._run_key()
        if self.trainer is None or key != self._trainer_key:
            try:
                self.trainer = self._build_trainer()
            except (ValueError, BackendError) as exc:
                self._refuse(str(exc))
                return False
            self._trainer_key = key
            spec = self.trainer.network.spec
            self.plots.reset(spec.n_layers, spec.activations)
        trainer = self.trainer
        self.buffer.drain()
        job = Job(lambda job: trainer.run(start_paused=paused), "trainingJob")
        job.succeeded.connect(self._training_succeeded)
        job.failed.connect(self._training_failed)
        job.done.connect(self._training_done)  # a bound method: runs in the GUI thread
        self.training_job = job
        self._run_started = time.perf_counter()
        self._run_start_step = trainer.step_count
        self._run_total_steps = trainer.step_count + trainer.config.epochs * \
            trainer.steps_per_epoch
        job.start()
        self.timer.start()
        self._update_controls()
        self.training_started.emit()
        return True

    def start_clicked(self) -> None:
        self.start()

    def start_or_pause(self) -> None:
        if not self.is_training():
            self.start()
        else:
            self.toggle_pause()

    def toggle_pause(self) -> None:
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
        assert self.trainer is not None
        if self.trainer.is_paused or not self.trainer.is_running:
            self.trainer.step()
        self._update_controls()

    def stop(self) -> None:
        if self.trainer is not None and self.is_training():
            self.trainer.stop()

    def reset_weights(self) -> None:
        if self.is_training():
            return
        self.trainer = None
        self._trainer_key = None
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
        if result.stopped == "nan":
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
        self.timer.stop()
        self._refresh()
        self.plots.refresh()
        self._update_controls()
        self.training_finished.emit(getattr(self, "_last_result", None))

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
        folder = self.data_panel.folder_edit.text().strip()
        if not folder or folder == SAMPLE_NAME:
            self.data_panel.load(SAMPLE_NAME, synchronous=True)
        else:
            self.data_panel.load(folder)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.save_settings()
        if self.trainer is not None and self.training_job is not None:
            self.trainer.stop()
            self.training_job.wait(30_000)
        if self.data_panel.job is not None:
            self.data_panel.job.cancel()
            self.data_panel.job.wait(30_000)
        self.timer.stop()
        super().closeEvent(event)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds // 60 % 60:02d} min"
