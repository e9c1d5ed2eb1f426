"""The Evaluation tab: confusion matrix, per-class precision / recall, and a gallery of
mistakes, most confident first.

The view shows precomputed data only: the main window runs the network in a worker thread and
hands host arrays to :meth:`EvaluationView.set_sets`; every number shown comes from
:mod:`desktop_nn.inspect.evaluation`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.data.image_folder import flatten_planes
from desktop_nn.gui.data_helpers import to_qimage
from desktop_nn.inspect.evaluation import Evaluation, evaluate

SET_ORDER = ("validation", "test", "train")
MODES = ("counts", "row-normalised")
MAX_GALLERY = 200  # items in the mistakes gallery; the label says how many of how many
ICON_SIZE = 64  # gallery icons: small images scaled up by a whole factor, nearest neighbour
CORRECT_COLOR = QColor("#2e86de")  # diagonal cells
MISTAKE_COLOR = QColor("#c0392b")  # off-diagonal cells


def _blend(base: QColor, t: float) -> QColor:
    """White at t = 0 to ``base`` at t = 1 (t clipped to [0, 1])."""
    t = min(max(t, 0.0), 1.0) if math.isfinite(t) else 0.0
    return QColor(round(255 + (base.red() - 255) * t), round(255 + (base.green() - 255) * t),
                  round(255 + (base.blue() - 255) * t))


def _fraction(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.3f}"


def image_icon(image: np.ndarray) -> QIcon:
    """(H, W, C) or (H, W) uint8 -> an icon: scaled up by a whole factor with nearest
    neighbour so the pixels stay sharp, or down (smoothly) to fit ICON_SIZE."""
    a = np.asarray(image, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    qimg = to_qimage(flatten_planes(a), (h, w, c))
    factor = ICON_SIZE // max(h, w)
    if factor >= 1:
        qimg = qimg.scaled(w * factor, h * factor, Qt.AspectRatioMode.IgnoreAspectRatio,
                           Qt.TransformationMode.FastTransformation)
    else:
        qimg = qimg.scaled(ICON_SIZE, ICON_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation)
    return QIcon(QPixmap.fromImage(qimg))


class EvaluationView(QWidget):
    """Evaluation of a trained network on the sets it has (validation / test / train).

    ``mistake_activated(set_name, example_index)`` is emitted when a gallery item is activated
    (double-click or Enter), for a window that wants to show that example elsewhere.
    """

    mistake_activated = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationView")
        self._evaluations: dict[str, Evaluation] = {}
        self._images: dict[str, Any] = {}
        self._filter: tuple[int, int] | None = None

        self.set_combo = QComboBox()
        self.set_combo.setObjectName("evaluationSetCombo")
        self.set_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.set_combo.setToolTip("The set to evaluate on")
        self.set_combo.currentTextChanged.connect(self._set_changed)
        self.mode_combo = QComboBox()
        self.mode_combo.setObjectName("confusionModeCombo")
        self.mode_combo.addItems(MODES)
        self.mode_combo.setToolTip("counts: examples per cell; row-normalised: each row (a true "
                                   "class) divided by its number of examples")
        self.mode_combo.currentTextChanged.connect(self._show_matrix)
        self.summary = QLabel()
        self.summary.setObjectName("evaluationSummaryLabel")
        self.summary.setWordWrap(True)

        axes = QLabel("Rows: true class · columns: predicted class · click a cell to see its "
                      "mistakes")
        axes.setObjectName("confusionAxesLabel")
        axes.setWordWrap(True)
        self.matrix = QTableWidget(0, 0)
        self.matrix.setObjectName("confusionMatrix")
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.matrix.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.matrix.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.matrix.horizontalHeader().setMinimumSectionSize(30)  # ten classes fit
        self.matrix.cellClicked.connect(self._cell_clicked)

        self.metrics = QTableWidget(0, 3)
        self.metrics.setObjectName("classMetricsTable")
        self.metrics.setHorizontalHeaderLabels(["Precision", "Recall", "Support"])
        self.metrics.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.metrics.setToolTip("Precision: of the examples predicted as the class, the share "
                                "that are it. Recall: of the examples of the class, the share "
                                "found. — where undefined (nothing predicted as the class, or "
                                "no example of it).")

        self.gallery_label = QLabel()
        self.gallery_label.setObjectName("mistakesCountLabel")
        self.gallery_label.setWordWrap(True)
        self.show_all_button = QPushButton("Show all")
        self.show_all_button.setObjectName("showAllMistakesButton")
        self.show_all_button.setToolTip("Show the mistakes of every cell")
        self.show_all_button.setEnabled(False)
        self.show_all_button.clicked.connect(self.show_all_mistakes)
        self.gallery = QListWidget()
        self.gallery.setObjectName("mistakesGallery")
        self.gallery.setViewMode(QListWidget.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.gallery.setGridSize(QSize(ICON_SIZE + 64, ICON_SIZE + 44))
        self.gallery.setMovement(QListWidget.Movement.Static)
        self.gallery.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.gallery.setWordWrap(True)
        self.gallery.itemActivated.connect(self._item_activated)

        top = QHBoxLayout()
        top.addWidget(QLabel("Set"))
        top.addWidget(self.set_combo)
        top.addWidget(QLabel("Show"))
        top.addWidget(self.mode_combo)
        top.addWidget(self.summary, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(axes)
        left_layout.addWidget(self.matrix, 3)
        left_layout.addWidget(QLabel("Per class"))
        left_layout.addWidget(self.metrics, 2)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(self.gallery_label, 1)
        head.addWidget(self.show_all_button)
        right_layout.addLayout(head)
        right_layout.addWidget(self.gallery, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self.clear()

    # ------------------------------------------------------------------ public API
    def set_sets(self, sets: Mapping[str, tuple[np.ndarray, np.ndarray, Any]],
                 class_names: Sequence[str]) -> None:
        """Show new results. ``sets`` maps a set name ("validation", "test", "train"; others
        are listed after those) to (probabilities (C_out, m) host array, labels (m,),
        images or None), where images is indexable by example index giving an (H, W, C)
        uint8 picture, e.g. an (m, H, W, C) array. The set shown stays selected if it is
        still there."""
        if not sets:
            self.clear()
            return
        previous = self.set_combo.currentText()
        names = list(class_names)
        evaluations, pictures = {}, {}
        for name in sorted(sets, key=lambda s: SET_ORDER.index(s) if s in SET_ORDER
                           else len(SET_ORDER)):
            probabilities, labels, images = sets[name]
            evaluations[name] = evaluate(probabilities, labels, names)  # may raise: keep old
            pictures[name] = images
        self._evaluations, self._images = evaluations, pictures
        self.set_combo.blockSignals(True)
        self.set_combo.clear()
        self.set_combo.addItems(list(self._evaluations))
        if previous in self._evaluations:
            self.set_combo.setCurrentText(previous)
        self.set_combo.blockSignals(False)
        self.set_combo.setEnabled(True)
        self._set_changed()

    def clear(self) -> None:
        """Forget every result (a new network or new data)."""
        self._evaluations = {}
        self._images = {}
        self._filter = None
        self.set_combo.blockSignals(True)
        self.set_combo.clear()
        self.set_combo.blockSignals(False)
        self.set_combo.setEnabled(False)
        self.matrix.clear()
        self.matrix.setRowCount(0)
        self.matrix.setColumnCount(0)
        self.metrics.setRowCount(0)
        self.gallery.clear()
        self.show_all_button.setEnabled(False)
        self.gallery_label.setText("")
        self.summary.setText("No evaluation yet: train or load a network, then evaluate.")

    def current_set(self) -> str | None:
        return self.set_combo.currentText() or None

    def evaluation(self) -> Evaluation | None:
        """The evaluation shown (None when there is none)."""
        return self._evaluations.get(self.set_combo.currentText())

    def gallery_count(self) -> int:
        return self.gallery.count()

    def cell_filter(self) -> tuple[int, int] | None:
        """(true class, predicted class) the gallery is filtered to, or None for all."""
        return self._filter

    def set_cell_filter(self, true_class: int, predicted_class: int) -> None:
        """Show only the mistakes of one cell; a diagonal cell (no mistakes) shows all."""
        if true_class == predicted_class:
            self.show_all_mistakes()
            return
        self._filter = (true_class, predicted_class)
        self._show_gallery()

    def show_all_mistakes(self) -> None:
        self._filter = None
        self.matrix.clearSelection()
        self._show_gallery()

    # ------------------------------------------------------------------ showing
    def _set_changed(self, *_: object) -> None:
        self._filter = None
        ev = self.evaluation()
        if ev is None:
            return
        name = self.set_combo.currentText()
        if ev.m == 0:
            self.summary.setText(f"{name}: no examples")
        else:
            self.summary.setText(f"{name}: accuracy {ev.accuracy:.1%} ({ev.correct} of "
                                 f"m = {ev.m} right, {ev.n_mistakes} mistakes)")
        self._show_matrix()
        self._show_metrics()
        self._show_gallery()

    def _show_matrix(self, *_: object) -> None:
        ev = self.evaluation()
        if ev is None:
            return
        normalised = self.mode_combo.currentText() == "row-normalised"
        fractions = ev.row_normalised()
        shown = fractions if normalised else ev.confusion
        top = max(int(ev.confusion.max(initial=0)), 1)
        names = ev.class_names
        t = self.matrix
        t.setRowCount(ev.n_classes)
        t.setColumnCount(ev.n_classes)
        t.setHorizontalHeaderLabels(names)
        t.setVerticalHeaderLabels(names)
        for r in range(ev.n_classes):
            for c in range(ev.n_classes):
                count = int(ev.confusion[r, c])
                text = f"{shown[r, c]:.2f}" if normalised else str(count)
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                strength = float(fractions[r, c]) if normalised else count / top
                color = _blend(CORRECT_COLOR if r == c else MISTAKE_COLOR, strength)
                item.setBackground(QBrush(color))
                item.setForeground(QBrush(QColor("white" if strength > 0.55 else "black")))
                item.setToolTip(f"true {names[r]}, predicted {names[c]}: {count} "
                                f"({fractions[r, c]:.1%} of the {names[r]} examples)")
                t.setItem(r, c, item)
        self._mark_filtered_cell()

    def _mark_filtered_cell(self) -> None:
        """The cell the gallery is filtered to in bold (the others plain)."""
        for r in range(self.matrix.rowCount()):
            for c in range(self.matrix.columnCount()):
                item = self.matrix.item(r, c)
                if item is not None:
                    font = item.font()
                    font.setBold(self._filter == (r, c))
                    item.setFont(font)

    def _show_metrics(self) -> None:
        ev = self.evaluation()
        if ev is None:
            return
        precision, recall, support = ev.precision(), ev.recall(), ev.support()
        t = self.metrics
        t.setRowCount(ev.n_classes)
        t.setVerticalHeaderLabels(ev.class_names)
        for r in range(ev.n_classes):
            cells = [
                (_fraction(precision[r]), "undefined: no example was predicted as this class"),
                (_fraction(recall[r]), "undefined: the set holds no example of this class"),
                (str(int(support[r])), ""),
            ]
            for c, (text, undefined) in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if text == "—":
                    item.setToolTip(undefined)
                t.setItem(r, c, item)

    def _show_gallery(self) -> None:
        self.gallery.clear()
        self.show_all_button.setEnabled(self._filter is not None)
        self._mark_filtered_cell()
        ev = self.evaluation()
        if ev is None:
            self.gallery_label.setText("")
            return
        names = ev.class_names
        where = ""
        if self._filter is None:
            idx = ev.mistakes()
        else:
            idx = ev.mistakes(*self._filter)
            where = f" (true {names[self._filter[0]]} → predicted {names[self._filter[1]]})"
        images = self._images.get(self.set_combo.currentText())
        # a grid of pictures for images; one line per mistake for other inputs (2-D points)
        icons = images is not None
        self.gallery.setViewMode(QListWidget.ViewMode.IconMode if icons
                                 else QListWidget.ViewMode.ListMode)
        self.gallery.setGridSize(QSize(ICON_SIZE + 64, ICON_SIZE + 44) if icons else QSize())
        self.gallery.setMovement(QListWidget.Movement.Static)
        self.gallery.setWordWrap(icons)
        self.gallery.setStyleSheet("" if icons else "QListWidget { padding-left: 24px; }")  # "?"
        shown = idx[:MAX_GALLERY]
        for i in shown:
            i = int(i)
            text = f"{names[ev.labels[i]]} → {names[ev.predicted[i]]} (p={ev.confidence[i]:.2f})"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setToolTip(f"example {i}\ntrue: {names[ev.labels[i]]} "
                            f"(p={ev.true_probability[i]:.2f})\npredicted: "
                            f"{names[ev.predicted[i]]} (p={ev.confidence[i]:.2f})")
            if images is not None:
                item.setIcon(image_icon(images[i]))
            self.gallery.addItem(item)
        if idx.size == 0:
            self.gallery_label.setText(f"No mistakes{where}")
        elif idx.size > shown.size:
            self.gallery_label.setText(f"Showing the {shown.size} most confident of {idx.size} "
                                       f"mistakes{where}")
        else:
            self.gallery_label.setText(f"Showing all {idx.size} mistakes{where}, most "
                                       "confident first")

    # ------------------------------------------------------------------ slots
    def _cell_clicked(self, row: int, column: int) -> None:
        if row == column:
            self.show_all_mistakes()
        else:
            self.set_cell_filter(row, column)

    def _item_activated(self, item: QListWidgetItem) -> None:
        self.mistake_activated.emit(self.set_combo.currentText(),
                                    int(item.data(Qt.ItemDataRole.UserRole)))
