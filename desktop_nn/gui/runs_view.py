"""The Runs tab: every run of the session in a list; the checked ones are overlaid in one plot
(cost, accuracy or a layer's gradient curve), and a run's history can be exported as CSV."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.gui.plot_style import new_plot, show_markers
from desktop_nn.gui.plots import LAYER_COLORS
from desktop_nn.train.runs import EPOCH_METRICS, LAYER_METRICS, METRICS, Run, RunLog
from desktop_nn.train.series import finite_or_nan

LOG_METRICS = {"||dW[l]||", "||db[l]||", "update ratio[l]"}


class RunsView(QWidget):
    """Shows a :class:`RunLog`. The main window adds runs and calls :meth:`refresh`."""

    removed = Signal(int)  # a run's number

    def __init__(self, runs: RunLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsView")
        self.runs = runs
        self.curves: dict[int, pg.PlotDataItem] = {}

        self.list = QListWidget()
        self.list.setObjectName("runsList")
        self.list.itemChanged.connect(lambda _: self.refresh_plot())
        self.metric_combo = QComboBox()
        self.metric_combo.setObjectName("runsMetricCombo")
        self.metric_combo.addItems(METRICS)
        self.metric_combo.currentTextChanged.connect(self._metric_changed)
        self.layer_spin = QSpinBox()
        self.layer_spin.setObjectName("runsLayerSpin")
        self.layer_spin.setRange(1, 1)
        self.layer_spin.setPrefix("layer ")
        self.layer_spin.valueChanged.connect(lambda _: self.refresh_plot())
        self.export_button = QPushButton("Export history as CSV…")
        self.export_button.setObjectName("exportRunCsvButton")
        self.export_button.clicked.connect(self._ask_export)
        self.remove_button = QPushButton("Remove run")
        self.remove_button.setObjectName("removeRunButton")
        self.remove_button.clicked.connect(self._remove_selected)
        self.plot = new_plot("runsPlot", "Runs compared", "epoch", "")

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(QLabel("Runs of this session (checked ones are overlaid):"))
        lv.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.export_button)
        row.addWidget(self.remove_button)
        lv.addLayout(row)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Compare"))
        top.addWidget(self.metric_combo)
        top.addWidget(self.layer_spin)
        top.addStretch(1)
        rv.addLayout(top)
        rv.addWidget(self.plot, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 3)
        QVBoxLayout(self).addWidget(splitter)
        self._metric_changed()

    # ------------------------------------------------------------------ list
    def refresh(self) -> None:
        """Bring the list in line with the run log (new runs are checked), then the plot."""
        shown = {self.list.item(i).data(Qt.ItemDataRole.UserRole): self.list.item(i)
                 for i in range(self.list.count())}
        numbers = [r.number for r in self.runs.runs]
        self.list.blockSignals(True)
        for number, item in list(shown.items()):
            if number not in numbers:
                self.list.takeItem(self.list.row(item))
        for run in self.runs.runs:
            item = shown.get(run.number)
            if item is None:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, run.number)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
                self.list.addItem(item)
            item.setText(self._label(run))
            item.setToolTip(run.summary)
        self.list.blockSignals(False)
        layers = max((r.n_layers for r in self.runs.runs), default=1)
        self.layer_spin.setRange(1, max(1, layers))
        self.refresh_plot()

    def _label(self, run: Run) -> str:
        final = run.final()
        acc = final["val_accuracy"]
        if acc != acc:  # NaN: no validation set
            acc = final["train_accuracy"]
        tail = f" — {final['epochs']} epochs, accuracy {acc:.3f}" if final["epochs"] else ""
        return f"{run.name}: {run.summary}{tail}"

    def checked_runs(self) -> list[Run]:
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                run = self.runs.get(item.data(Qt.ItemDataRole.UserRole))
                if run is not None:
                    out.append(run)
        return out

    def selected_run(self) -> Run | None:
        item = self.list.currentItem()
        if item is None and self.list.count():
            item = self.list.item(self.list.count() - 1)
        return self.runs.get(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def set_checked(self, numbers: list[int]) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in numbers
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    # ------------------------------------------------------------------ plot
    def _metric_changed(self) -> None:
        metric = self.metric_combo.currentText()
        self.layer_spin.setEnabled(metric in LAYER_METRICS)
        self.plot.setLogMode(y=metric in LOG_METRICS)
        self.plot.setLabel("left", metric)
        self.refresh_plot()

    def refresh_plot(self) -> None:
        metric = self.metric_combo.currentText()
        plot_item = self.plot.getPlotItem()
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.curves.clear()
        plot_item.legend.clear()
        for run in self.checked_runs():
            x, y = run.curve(metric, self.layer_spin.value())
            y = finite_or_nan(y)
            if metric in LOG_METRICS:
                y[y <= 0] = float("nan")
            color = LAYER_COLORS[(run.number - 1) % len(LAYER_COLORS)]
            curve = self.curves[run.number] = self.plot.plot(
                x, y, pen=pg.mkPen(color, width=2), name=run.name)  # the list says the rest
            if metric in EPOCH_METRICS:
                show_markers(curve, len(x))

    def curve_count(self) -> int:
        return len(self.curves)

    # ------------------------------------------------------------------ export, remove
    def _ask_export(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, f"Export {run.name} as CSV", f"run{run.number}-epochs.csv",
            "Per-epoch history (*.csv);;Per-step history with layer diagnostics (*.csv)")
        if path:
            self.export(run, path, "steps" if chosen.startswith("Per-step") else "epochs")

    def export(self, run: Run, path: str | Path, kind: str = "epochs") -> Path:
        """Write ``run``'s history as CSV (``kind`` "epochs" or "steps"), atomically."""
        return run.history.save_csv(path, kind)

    def _remove_selected(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.runs.remove(run.number)
            self.refresh()
            self.removed.emit(run.number)
