"""The Predict tab: drop image files (or choose them) and see each one's class probabilities
as bars, the image shown as the network sees it (same size, colour, flatten order, scaling).

Decoding and the forward pass run in a background :class:`Job` on a snapshot of the model, so
the window never waits and a training run is not disturbed. The predictions follow the model:
when it changes (:meth:`PredictView.model_changed`) the files shown are classified again with
the new one (at once while the tab is shown, else when it is), or cleared with a note when
there is no model any more; they are never left showing an earlier model's answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.data.image_folder import IMAGE_EXTENSIONS
from desktop_nn.gui.data_helpers import to_qimage
from desktop_nn.gui.worker import Job
from desktop_nn.predict import FilePrediction, Predictor, predict_files

THUMB = 84


class ProbabilityBars(QWidget):
    """Horizontal bars, one per class, the predicted class highlighted."""

    def __init__(self, names: list[str], probabilities: list[float],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names, self.probabilities = names, probabilities
        self.setMinimumHeight(16 * len(names) + 4)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(320, 16 * len(self.names) + 4)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        best = max(range(len(self.probabilities)), key=self.probabilities.__getitem__)
        label_w = min(140, max(40, self.fontMetrics().horizontalAdvance(
            max(self.names, key=len)) + 8))
        bar_w = max(10, self.width() - label_w - 56)
        for k, (name, prob) in enumerate(zip(self.names, self.probabilities, strict=True)):
            y = 2 + 16 * k
            p.setPen(QColor("#222"))
            p.drawText(QRectF(0, y, label_w - 4, 14), Qt.AlignmentFlag.AlignRight
                       | Qt.AlignmentFlag.AlignVCenter, name)
            p.fillRect(QRectF(label_w, y + 2, bar_w, 10), QColor("#eee"))
            color = QColor("#d62728") if k == best else QColor("#1f77b4")
            p.fillRect(QRectF(label_w, y + 2, bar_w * max(0.0, min(1.0, prob)), 10), color)
            p.drawText(QRectF(label_w + bar_w + 4, y, 52, 14), Qt.AlignmentFlag.AlignVCenter,
                       f"{prob:.3f}")
        p.end()


def _model_label(training: dict | None) -> str:
    """Which model made the predictions: "the model at epoch 3 (step 270)"."""
    training = training if isinstance(training, dict) else {}
    epochs, steps = training.get("epochs"), training.get("steps")
    if isinstance(epochs, int) and isinstance(steps, int):
        return f"the model at epoch {epochs} (step {steps})"
    return "the model"


class PredictView(QWidget):
    """``set_model_source(fn)``: ``fn()`` returns a :class:`Predictor` for the current model
    (a snapshot, safe to use from another thread) or raises ValueError saying why there is
    none. Emits ``predicted(list[FilePrediction])`` when a batch of files is done."""

    predicted = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictView")
        self.setAcceptDrops(True)
        self.model_source: Callable[[], Predictor] | None = None
        self.job: Job | None = None
        self.results: list[FilePrediction] = []
        self.class_names: list[str] = []
        self.paths: list[str] = []  # the files shown, to classify again when the model changes
        self.stale = False  # the results shown are of an earlier model
        self._replacing = False  # the job under way classifies the shown files again
        self._job_paths: list[str] = []
        self._made_by = "the model"

        self.choose_button = QPushButton("Choose images…")
        self.choose_button.setObjectName("choosePredictImagesButton")
        self.choose_button.clicked.connect(self.choose)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearPredictionsButton")
        self.clear_button.clicked.connect(self.clear)
        self.status = QLabel("Drop image files here, or choose them, to see what the network "
                             "makes of them.")
        self.status.setObjectName("predictStatusLabel")
        self.status.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("predictList")
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setSpacing(2)

        top = QHBoxLayout()
        top.addWidget(self.choose_button)
        top.addWidget(self.clear_button)
        top.addStretch(1)
        v = QVBoxLayout(self)
        v.addLayout(top)
        v.addWidget(self.status)
        v.addWidget(self.list, 1)

    def set_model_source(self, fn: Callable[[], Predictor] | None) -> None:
        self.model_source = fn

    # ------------------------------------------------------------------ input
    def choose(self) -> None:
        patterns = " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS))
        paths, _ = QFileDialog.getOpenFileNames(self, "Images to classify", "",
                                                f"Images ({patterns});;All files (*)")
        if paths:
            self.predict(paths)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        files = [p for p in paths if Path(p).is_file()]
        if files:
            event.acceptProposedAction()
            self.predict(files)

    # ------------------------------------------------------------------ work
    def predict(self, paths: list[str]) -> bool:
        """Classify ``paths`` in the background. False (with the reason shown) when refused."""
        if self.job is not None:
            self.status.setText("Still working on the previous files…")
            return False
        if self.stale and self.paths:  # what is shown goes with the new files, in one model
            paths = [*self.paths, *paths]
            self.stale, self._replacing = False, True
        return self._start(list(paths))

    def model_changed(self) -> None:
        """The model changed (it trained on, a new run, an import, a reset, a project opened):
        the predictions shown are computed again, now when the tab is shown, else when it
        is."""
        if not self.paths:
            return
        self.stale = True
        if self.isVisible():
            # once the change is complete (an import resets the model first, then takes the
            # new one): never in between
            QTimer.singleShot(0, self.refresh)

    def refresh(self) -> bool:
        """Classify the files shown again when the model changed since; with no model any
        more, clear them and say why. True when a new classification started."""
        if not self.stale or not self.paths or self.job is not None:
            return False  # a job under way: its end looks again (_done)
        self.stale, self._replacing = False, True
        return self._start(list(self.paths))

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.refresh()

    def _start(self, paths: list[str]) -> bool:
        if self.model_source is None:
            self.status.setText("Train a network (or import a model) first.")
            return False
        try:
            predictor = self.model_source()
        except ValueError as exc:
            if self._replacing:
                self._cleared(str(exc).rstrip("."))
            else:
                self.status.setText(str(exc))
            self._replacing = False
            return False
        self.class_names = list(predictor.class_names)
        self._made_by = _model_label(predictor.model.training)
        self._job_paths = paths
        self.status.setText(f"Classifying {len(paths)} file(s)…")
        job = Job(lambda job: predict_files(predictor, list(paths)), "predictJob")
        job.succeeded.connect(self._succeeded)  # bound methods: they run in the GUI thread
        job.failed.connect(self._failed)
        job.done.connect(self._done)
        self.job = job
        job.start()
        return True

    def _succeeded(self, results: list[FilePrediction]) -> None:
        if self._replacing:  # the same files, classified by the model as it is now
            self.list.clear()
            self.results.clear()
            self.paths.clear()
        for r in results:
            self._add(r)
        self.results.extend(results)
        self.paths.extend(self._job_paths)
        bad = sum(r.error is not None for r in results)
        self.status.setText(f"{len(self.results) - bad} classified by {self._made_by}"
                            + (f", {bad} could not be read" if bad else "") + ".")
        self.predicted.emit(results)

    def _failed(self, message: str) -> None:
        if self._replacing:  # the old answers must not stay as if they were the new model's
            self._cleared(f"classifying them again failed: {message}")
        else:
            self.status.setText(f"Prediction failed: {message}")

    def _cleared(self, why: str) -> None:
        n = len(self.paths)
        self.clear()
        self.status.setText(f"The {n} prediction(s) of an earlier model were cleared ({why}). "
                            "Drop the files again to classify them with a new model.")

    def _done(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.wait(5000)
        self.job = None
        self._replacing = False
        if self.stale and self.isVisible():  # the model changed while these were classified
            self.refresh()

    def _add(self, r: FilePrediction) -> None:
        item = QListWidgetItem()
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(4, 2, 4, 2)
        thumb = QLabel()
        thumb.setFixedSize(THUMB, THUMB)
        if r.pixels is not None and r.input_shape is not None:
            pix = QPixmap.fromImage(to_qimage(r.pixels, r.input_shape)).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation)
            thumb.setPixmap(pix)
        h.addWidget(thumb)
        text = QVBoxLayout()
        name = QLabel(f"<b>{Path(r.path).name}</b>")
        name.setToolTip(r.path)
        text.addWidget(name)
        if r.error is not None:
            err = QLabel(r.error)
            err.setStyleSheet("color: #b00")
            err.setWordWrap(True)
            text.addWidget(err)
        else:
            assert r.probabilities is not None and r.predicted is not None
            names = self.class_names[:len(r.probabilities)]
            text.addWidget(QLabel(f"→ {names[r.predicted]} "
                                  f"(p = {r.probabilities[r.predicted]:.3f})"))
            text.addWidget(ProbabilityBars(names, r.probabilities))
        text.addStretch(1)
        h.addLayout(text, 1)
        item.setSizeHint(row.sizeHint().expandedTo(QSize(0, THUMB + 8)))
        self.list.addItem(item)
        self.list.setItemWidget(item, row)

    def clear(self) -> None:
        self.list.clear()
        self.results.clear()
        self.paths.clear()
        self.stale = False

    def shutdown(self, timeout_ms: int = 2000) -> None:
        """Wait for the files being read, ``timeout_ms`` at most: a read that never ends (a
        file that never answers) is left to its daemon thread, which holds its job."""
        if self.job is not None:
            self.job.wait(timeout_ms)
