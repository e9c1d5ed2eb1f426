"""The data panel: choose an image folder (or drop one), loading options, background loading
with progress and Cancel, then classes with counts, thumbnails, n_x and the skipped files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.data.image_folder import LoadOptions, parse_image_size
from desktop_nn.data.sources import SAMPLE_NAME, LoadedData, load_training_data
from desktop_nn.data.user_files import shown
from desktop_nn.gui.data_helpers import class_counts, dropped_folder, image_size_text, to_qimage
from desktop_nn.gui.saved_values import Replaced, number_in
from desktop_nn.gui.table_source import TableSource
from desktop_nn.gui.toy_source import ToySource
from desktop_nn.gui.worker import Job
from desktop_nn.io.project_settings import VAL_SPLIT_RANGE

THUMBNAILS_PER_CLASS = 4
SHUTDOWN_WAIT_MS = 2000  # closing the window waits this long, at most, for loads to end


# the data panel's scaling choices: (shown text, normalisation kind in data/dataset.py)
SCALINGS = (("pixels / 255, in [0, 1]", "scale"),
            ("standardise (training-set mean and std)", "standardise"))


class DataPanel(QWidget):
    """Emits ``loaded(LoadedData)`` once a folder has loaded, ``load_failed(str)`` with the
    reason when it cannot be used; ``busy_changed(bool)`` while loading. While ``loaded`` is
        emitted, ``loaded_by_user`` says whether the user asked for that load (a change to save),
    rather than the window (the start-up data, a project's data as it opens)."""

    loaded = Signal(object)
    load_failed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataPanel")
        self.setAcceptDrops(True)
        self._superseded: list[Job] = []  # background loads replaced by a newer one
        self.job: Job | None = None
        self._job_by_user = True  # whether the user asked for self.job's load
        self.loaded_by_user = True
        self.data: LoadedData | None = None

        self.folder_edit = QLineEdit()
        self.folder_edit.setObjectName("dataFolderEdit")
        self.folder_edit.setPlaceholderText("image folder (one subfolder per class), sample, "
                                            "or toy:spiral")
        self.folder_edit.returnPressed.connect(self.load_from_edit)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setObjectName("browseDataButton")
        self.browse_button.clicked.connect(self.browse)
        self.load_button = QPushButton("Load")
        self.load_button.setObjectName("loadDataButton")
        self.load_button.clicked.connect(self.load_from_edit)

        self.size_edit = QLineEdit("auto")
        self.size_edit.setObjectName("imageSizeEdit")
        self.size_edit.setToolTip("WIDTHxHEIGHT, e.g. 28x28, or auto (the most common size)")
        self.color_combo = QComboBox()
        self.color_combo.setObjectName("colorCombo")
        self.color_combo.addItems(["auto", "gray", "rgb"])
        self.resize_combo = QComboBox()
        self.resize_combo.setObjectName("resizeCombo")
        self.resize_combo.addItems(["stretch", "fit"])
        self.scaling_combo = QComboBox()
        self.scaling_combo.setObjectName("scalingCombo")
        for text, kind in SCALINGS:
            self.scaling_combo.addItem(text, kind)
        # its long item texts must not make the dock wider than the window gives it: the
        # combo shrinks (the text elided; the tooltip and the open list show it whole)
        self.scaling_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.scaling_combo.setMinimumContentsLength(14)
        self.scaling_combo.setToolTip(
            "How pixels become inputs: divided by 255 into [0, 1], or standardised per "
            "feature with the training set's mean and standard deviation (kept in the model)")
        self.val_spin = QDoubleSpinBox()
        self.val_spin.setObjectName("valSplitSpin")
        self.val_spin.setRange(*VAL_SPLIT_RANGE)
        self.val_spin.setSingleStep(0.05)
        self.val_spin.setValue(0.1)
        self.val_spin.setToolTip("Share of the training images held out for validation "
                                 "(stratified) when the folder has no val/ folder")

        self.progress = QProgressBar()
        self.progress.setObjectName("dataProgress")
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelLoadButton")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.message = QLabel()
        self.message.setObjectName("dataMessageLabel")
        self.message.setWordWrap(True)
        self.summary = QLabel("No data loaded")
        self.summary.setObjectName("nxLabel")
        self.summary.setWordWrap(True)

        self.class_table = QTableWidget(0, 4)
        self.class_table.setObjectName("classTable")
        self.class_table.setHorizontalHeaderLabels(["Class", "Train", "Validation", "Test"])
        self.class_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.class_table.verticalHeader().hide()
        self.class_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.thumbnails = QListWidget()
        self.thumbnails.setObjectName("thumbnailList")
        self.thumbnails.setViewMode(QListWidget.ViewMode.IconMode)
        self.thumbnails.setIconSize(QSize(40, 40))
        self.thumbnails.setMovement(QListWidget.Movement.Static)
        self.thumbnails.setMaximumHeight(150)
        self.skipped_table = QTableWidget(0, 2)
        self.skipped_table.setObjectName("skippedTable")
        self.skipped_table.setHorizontalHeaderLabels(["Skipped file", "Reason"])
        self.skipped_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.skipped_table.verticalHeader().hide()
        self.skipped_table.horizontalHeader().setStretchLastSection(True)
        self.skipped_table.setMaximumHeight(120)
        self.table_source = TableSource(self)  # a CSV / TSV and its target column

        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        row.addWidget(self.load_button)
        form = QFormLayout()
        form.addRow("Image size", self.size_edit)
        form.addRow("Colour", self.color_combo)
        form.addRow("Resize", self.resize_combo)
        form.addRow("Scaling", self.scaling_combo)
        form.addRow("Validation split", self.val_spin)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        self.toy_source = ToySource(self)  # the built-in 2-D data sets (gui/toy_source.py)
        layout.addWidget(self.toy_source)
        layout.addWidget(self.table_source)
        layout.addLayout(form)
        layout.addLayout(busy)
        layout.addWidget(self.message)
        layout.addWidget(self.summary)
        layout.addWidget(self.class_table, 2)
        layout.addWidget(self.thumbnails, 1)
        layout.addWidget(self.skipped_table, 1)

    # ------------------------------------------------------------------ options
    def options(self) -> LoadOptions:
        """The loading options; raises ValueError naming a bad field."""
        text = self.size_edit.text().strip().lower()
        size = None if text in ("", "auto") else parse_image_size(text)
        color = self.color_combo.currentText()
        return LoadOptions(image_size=size, resize=self.resize_combo.currentText(),
                           color=None if color == "auto" else color)

    def normalisation(self) -> str:
        """"scale" (pixels / 255) or "standardise" (training-set mean and std per feature)."""
        return str(self.scaling_combo.currentData())

    def set_normalisation(self, kind: str) -> None:
        index = self.scaling_combo.findData(kind)
        if index >= 0:
            self.scaling_combo.setCurrentIndex(index)

    def state(self) -> dict:
        return {"folder": self.folder_edit.text(), "size": self.size_edit.text(),
                "color": self.color_combo.currentText(),
                "resize": self.resize_combo.currentText(), "val_split": self.val_spin.value(),
                "normalisation": self.normalisation(), **self.table_source.state()}

    def set_state(self, state: dict) -> list[str]:
        """Show saved settings (a project's, the last session's). A value that cannot be
        used is replaced and listed: the lines returned, empty when all were used."""
        replaced = Replaced()
        if not isinstance(state, dict):
            replaced.add("data settings", state, "is not a set of values", "the defaults")
            state = {}
        folder = state.get("folder", "")
        if not isinstance(folder, str):
            replaced.add("data folder", folder, "is not a folder name", "")
            folder = ""
        self.folder_edit.setText(folder)
        size = state.get("size", "auto")
        if not image_size_text(size):
            replaced.add("image size", size, "is not auto or WIDTHxHEIGHT", "auto")
            size = "auto"
        self.size_edit.setText(size)
        for combo, key, what in ((self.color_combo, "color", "colour"),
                                 (self.resize_combo, "resize", "resize")):
            items = [combo.itemText(i) for i in range(combo.count())]
            value = replaced.choice(what, state, key, items, combo.currentText())
            if value is not None:
                combo.setCurrentText(value)
        if "val_split" in state:
            lo, hi = self.val_spin.minimum(), self.val_spin.maximum()
            split = number_in(state["val_split"], lo, hi)
            if split is None:
                replaced.add("validation split", state["val_split"],
                             f"is not a number from {lo:g} to {hi:g}", self.val_spin.value())
            else:
                self.val_spin.setValue(split)
        kinds = [kind for _, kind in SCALINGS]
        kind = replaced.choice("scaling", state, "normalisation", kinds, self.normalisation())
        self.set_normalisation(kind or ("scale" if "normalisation" not in state
                                        else self.normalisation()))  # older files: scale
        self.table_source.set_state(state, replaced)
        return replaced.lines

    # ------------------------------------------------------------------ loading
    def set_folder_text(self, folder: str) -> None:
        """Show ``folder`` in the edit. A name Qt cannot hold (bytes that are not UTF-8, which
        Python keeps as surrogates) is shown escaped (``d\\xffata``) and kept as it is, so
        that loading opens the real folder."""
        text = shown(folder)
        self._exact_folder = (text, folder) if text != folder else None
        self.folder_edit.setText(text)

    def folder_text(self) -> str:
        """The folder to load: the edit's text, or the real name behind its escaped form."""
        text = self.folder_edit.text().strip()
        exact = getattr(self, "_exact_folder", None)
        return exact[1] if exact is not None and text == exact[0].strip() else text

    def browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open an image folder",
                                                  self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self.load_from_edit()

    def load_from_edit(self) -> None:
        """Load the folder named in the edit (a slot: clicked(bool) must not reach load())."""
        self.load()

    def is_loading(self) -> bool:
        return self.job is not None

    def load(self, folder: str | None = None, synchronous: bool = False,
             by_user: bool = True) -> None:
        """Load ``folder`` (default: the edit's text) in the background.
        ``synchronous`` loads in this thread (the bundled sample at start-up: a fraction of a
        second, so the window opens with data). ``by_user`` False marks a load the user did not
        ask for (the start-up data, a project's data as it opens): it holds for this load only,
        not for one that fails, is cancelled or is superseded by a newer load."""
        if folder is not None:
            self.set_folder_text(folder)
        source = self.folder_text() or SAMPLE_NAME
        try:
            options = self.options()
        except ValueError as exc:
            self._fail(f"Image size: {exc}")
            self.size_edit.setFocus()
            return
        if self.job is not None:
            # superseded: cancelled, its result (maybe already queued) ignored, and kept
            # referenced until its thread ends
            self.job.cancel()
            self._superseded.append(self.job)
            self.job = None
            self._set_busy(False)
        target = self.table_source.target_for(source)  # None unless a table; sets Scaling
        val_split, normalisation = self.val_spin.value(), self.normalisation()

        def work(job: Job) -> LoadedData:
            return load_training_data(source, options, val_split=val_split,
                                      normalisation=normalisation, target=target,
                                      progress=job.report_progress, cancel=job.cancel_event)

        self.message.setText(f"Loading {source}…")
        self.message.setStyleSheet("")
        if synchronous:
            try:
                self._loaded(load_training_data(source, options, val_split=val_split,
                                                normalisation=normalisation,
                                                target=target), by_user)
            except (ValueError, OSError) as exc:
                self._fail(str(exc))
            return
        job = Job(work, "dataLoadJob")
        # bound methods, not lambdas: their slots then run in the GUI thread (queued)
        job.progress.connect(self._progress)
        job.succeeded.connect(self._job_succeeded)
        job.failed.connect(self._job_failed)
        job.cancelled.connect(self._job_cancelled)
        job.done.connect(self._job_done)
        self.job, self._job_by_user = job, by_user
        self._set_busy(True)
        job.start()

    def cancel(self) -> None:
        """Cancel the load at once: the panel is ready for the next one now, and the load's
        thread, told to stop, is set aside until it ends (its result, if any, ignored)."""
        job = self.job
        if job is None:
            return
        job.cancel()
        self._superseded.append(job)
        self.job = None
        self._set_busy(False)
        self._set_message("Loading cancelled.")

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Cancel every load and wait for their threads, ``timeout_ms`` at most in all (call
        before the window closes). A thread still running then (blocked on a file that never
        answers) is left to end on its own: a daemon thread that holds its job, never
        destroyed while it runs. Whether every load has ended."""
        jobs = [job for job in [self.job, *self._superseded] if job is not None]
        for job in jobs:
            job.cancel()
        deadline = time.monotonic() + timeout_ms / 1000
        for job in jobs:
            job.wait(int(max(0.0, deadline - time.monotonic()) * 1000))
        return not any(job.is_running() for job in jobs)

    # A superseded job (a new load started meanwhile) is ignored: only self.job counts.
    def _job_succeeded(self, data: LoadedData) -> None:
        if self.sender() is self.job:
            self._loaded(data, self._job_by_user)

    def _job_failed(self, message: str) -> None:
        if self.sender() is self.job:
            self._fail(message)

    def _job_cancelled(self) -> None:
        if self.sender() is self.job:  # cancelled other than by cancel()
            self._set_message("Loading cancelled.")

    def _job_done(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.wait(2000)  # the thread is quitting: no real wait
        if job in self._superseded:
            self._superseded.remove(job)
        if job is self.job:
            self.job = None
            self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.load_button.setEnabled(not busy)
        self.progress.setRange(0, 0)
        self.busy_changed.emit(busy)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _set_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c0392b;" if error else "")

    def _fail(self, message: str) -> None:
        self._set_message(message, error=True)
        self.load_failed.emit(message)

    def _loaded(self, data: LoadedData, by_user: bool) -> None:
        self.data = data
        self._show(data)
        self.loaded_by_user = by_user
        try:
            self.loaded.emit(data)
        finally:
            self.loaded_by_user = True

    # ------------------------------------------------------------------ display
    def _show(self, loaded: LoadedData) -> None:
        prepared, folder = loaded.prepared, loaded.folder
        name = Path(loaded.source or SAMPLE_NAME).name if folder is None else Path(
            folder.root).name
        shape = prepared.input_shape
        shape_text = "" if shape is None else f"{shape[1]}x{shape[0]}x{shape[2]} images, "
        n_val = prepared.val.m if prepared.val is not None else 0
        n_test = prepared.test.m if prepared.test is not None else 0
        scaling = {"standardise": "standardised", "none": "inputs as given"}.get(
            prepared.normalisation.kind, "pixels / 255")
        self.summary.setText(f"{name}: {shape_text}n_x = {prepared.train.n_x} ({scaling}); "
                             f"{prepared.train.m} training, {n_val} validation, "
                             f"{n_test} test examples")
        notes = list(loaded.notes)
        if folder is not None and folder.skipped:
            notes.insert(0, f"{len(folder.skipped)} files skipped (listed below)")
        self._set_message("; ".join(notes) if notes else "Loaded.")

        classes = prepared.class_names
        counts = [prepared.train.Y, prepared.val.Y if prepared.val else None,
                  prepared.test.Y if prepared.test else None]
        per = [class_counts(Y, len(classes)) for Y in counts]
        self.class_table.setRowCount(len(classes))
        for r, c in enumerate(classes):
            values = [c] + [str(p[r]) if p is not None else "-" for p in per]
            for col, text in enumerate(values):
                self.class_table.setItem(r, col, QTableWidgetItem(text))

        self.thumbnails.clear()
        for images_only in (self.thumbnails, self.skipped_table):  # none for arrays, points
            images_only.setVisible(folder is not None)
        if folder is not None:
            for label, cname in enumerate(classes):
                rows = np.flatnonzero(folder.labels == label)[:THUMBNAILS_PER_CLASS]
                for i in rows:
                    icon = QIcon(QPixmap.fromImage(to_qimage(folder.pixels[i],
                                                             folder.input_shape)))
                    item = QListWidgetItem(icon, cname)
                    item.setToolTip(folder.paths[i])
                    self.thumbnails.addItem(item)

        skipped = folder.skipped if folder is not None else []
        self.skipped_table.setRowCount(len(skipped))
        for r, s in enumerate(skipped):
            self.skipped_table.setItem(r, 0, QTableWidgetItem(s.path))
            self.skipped_table.setItem(r, 1, QTableWidgetItem(s.reason))

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if dropped_folder(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        folder = dropped_folder(event.mimeData())
        if folder is not None:
            event.acceptProposedAction()
            self.load(folder)
