"""Live plots (pyqtgraph): cost, accuracy, gradient magnitude per layer, saturation per layer.

Curves are created once per run and fed with ``setData`` from the bounded arrays of
:mod:`desktop_nn.train.series`; the main window calls :meth:`LivePlots.refresh` from a timer,
so redraws are capped whatever the step rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.gui.plot_style import (
    SmoothedCurve,
    new_plot,
    quiet_color_bar,
    show_markers,
)
from desktop_nn.io.atomic import atomic_write_text
from desktop_nn.nn.diagnostics import EXPLANATIONS, unit_measure
from desktop_nn.train.series import EpochSeries, StepSeries, finite_or_nan

LAYER_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]
GRADIENT_MODES = {"||dW||": "grad_norm_W", "||db||": "grad_norm_b",
                  "update ratio": "update_ratio"}
CHANGE_PEN = pg.mkPen("#555", width=1, style=pg.QtCore.Qt.PenStyle.DashLine)


def layer_pen(l: int) -> pg.QtGui.QPen:
    return pg.mkPen(LAYER_COLORS[(l - 1) % len(LAYER_COLORS)], width=1.5)


def _plot(name: str, title: str, x: str, y: str, log_y: bool = False) -> pg.PlotWidget:
    w = new_plot(name, title, x, y, log_y=log_y)  # no SI prefixes, legend under the axis
    # no grid: in software rendering its lines cost more than the curves
    w.getPlotItem().setClipToView(True)
    w.getPlotItem().setDownsampling(auto=True, mode="peak")
    return w


def _positive(a: np.ndarray) -> np.ndarray:
    """For a log axis: zeros and negatives become NaN (not plotted) rather than -inf."""
    a = finite_or_nan(a)
    return np.where(a > 0, a, np.nan)


class LivePlots(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("livePlots")
        self.steps = StepSeries()
        self.epochs = EpochSeries()
        self.redraws = 0
        # (plot, line): one per plot and setting changed (mark_change)
        self.change_marks: list[tuple[pg.PlotWidget, pg.InfiniteLine]] = []

        # EMA of the per-step curves, the raw values faint behind: on by default, as one
        # mini-batch's values scatter over a decade and hide the trend (and which layer is
        # which) that the plots are there to show; nothing is hidden, the raw stay visible
        self.smooth_check = QCheckBox("Smooth")
        self.smooth_check.setObjectName("smoothCheck")
        self.smooth_check.setChecked(True)
        self.smooth_check.setToolTip(
            "Per-step curves (batch cost, gradients) as an exponential moving average over "
            "about the last 20 plotted points, the raw values faint behind; on a log axis the "
            "average is taken of the logarithms (a geometric mean). The saturated / dead "
            "shares are window averages already, never smoothed")
        self.smooth_check.toggled.connect(lambda _: self.refresh())

        self.cost_plot = _plot("costPlot", "Cost", "step", "cost")
        self.step_cost_curve = SmoothedCurve(self.cost_plot, "#5f6b78", "batch (train)", 1.2)
        self.step_cost = self.step_cost_curve.curve
        self.epoch_train_cost = self.cost_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2),
                                                    name="train")
        self.epoch_val_cost = self.cost_plot.plot([], [], pen=pg.mkPen("#d62728", width=2),
                                                  name="validation")

        self.accuracy_plot = _plot("accuracyPlot", "Accuracy", "epoch", "accuracy")
        self.accuracy_plot.setYRange(0, 1)
        self.train_acc = self.accuracy_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2),
                                                 name="train")
        self.val_acc = self.accuracy_plot.plot([], [], pen=pg.mkPen("#d62728", width=2),
                                               name="validation")

        self.gradient_plot = _plot("gradientPlot", "Gradient magnitude per layer", "step",
                                   "||dW[l]||", log_y=True)
        self.gradient_mode = QComboBox()
        self.gradient_mode.setObjectName("gradientModeCombo")
        self.gradient_mode.addItems(list(GRADIENT_MODES))
        self.gradient_mode.currentTextChanged.connect(self._gradient_mode_changed)
        self.gradient_lines: list[SmoothedCurve] = []
        self.gradient_curves: list[pg.PlotDataItem] = []  # the lines' legend items
        self.gradient_plot.setToolTip(EXPLANATIONS["grad_norm_W"])

        self.saturation_plot = _plot("saturationPlot", "Saturated / dead units per layer",
                                     "step", "share of units")
        self.saturation_plot.setToolTip(EXPLANATIONS["units"])
        self.saturation_plot.setYRange(0, 1)
        self.saturation_mode = QComboBox()
        self.saturation_mode.setObjectName("saturationModeCombo")
        self.saturation_mode.addItems(["lines", "heat map"])
        self.saturation_mode.currentTextChanged.connect(self._saturation_mode_changed)
        self.saturation_lines: list[SmoothedCurve] = []
        self.saturation_curves: list[pg.PlotDataItem] = []  # the lines' legend items
        self.saturation_image = pg.ImageItem()
        self.saturation_image.setColorMap(pg.colormap.get("viridis"))
        self.saturation_image.hide()
        self.saturation_plot.addItem(self.saturation_image)
        self.saturation_bar = quiet_color_bar(pg.ColorBarItem(
            values=(0, 1), colorMap=pg.colormap.get("viridis"), interactive=False, width=12,
            label="share of units", colorMapMenu=False))
        self.saturation_bar.setImageItem(self.saturation_image,
                                         insert_in=self.saturation_plot.getPlotItem())
        self.saturation_bar.hide()
        self._activations: list[str] = []

        grid = QGridLayout(self)
        grid.addWidget(self._with_header(self.cost_plot), 0, 0)
        grid.addWidget(self._with_header(self.accuracy_plot), 0, 1)
        grid.addWidget(self._with_header(self.gradient_plot, "Show", self.gradient_mode,
                                         self.smooth_check), 1, 0)
        grid.addWidget(self._with_header(self.saturation_plot, "As", self.saturation_mode),
                       1, 1)
        for plot in self.plots():
            self._add_export_actions(plot)

    def plots(self) -> list[pg.PlotWidget]:
        return [self.cost_plot, self.accuracy_plot, self.gradient_plot, self.saturation_plot]

    def _with_header(self, plot: pg.PlotWidget, label: str = "", combo=None,
                     left: QWidget | None = None) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        if combo is not None:
            h = QHBoxLayout()
            if left is not None:
                h.addWidget(left)
            h.addStretch(1)
            h.addWidget(QLabel(label))
            h.addWidget(combo)
            v.addLayout(h)
        v.addWidget(plot, 1)
        return box

    # ------------------------------------------------------------------ data in
    def reset(self, n_layers: int, activations: list[str], cost: str = "") -> None:
        """A new run of a network with ``n_layers`` weight layers (``cost``: the network's,
        which decides whether its output's saturation means anything)."""
        self.steps.clear()
        self.epochs.clear()
        for plot, mark in self.change_marks:
            plot.removeItem(mark)
        self.change_marks.clear()
        self._activations = list(activations)
        for lines, plot in ((self.gradient_lines, self.gradient_plot),
                            (self.saturation_lines, self.saturation_plot)):
            for line in lines:
                for item in line.items():
                    plot.removeItem(item)
            lines.clear()
        for plot in (self.gradient_plot, self.saturation_plot):
            plot.getPlotItem().legend.clear()
        notes = []
        for l in range(1, n_layers + 1):
            name = f"layer {l} ({activations[l - 1]})" if l <= len(activations) else f"layer {l}"
            color = LAYER_COLORS[(l - 1) % len(LAYER_COLORS)]
            self.gradient_lines.append(SmoothedCurve(self.gradient_plot, color, name, log=True))
            unit_name = name
            if l <= len(activations):
                kind, why = unit_measure(activations[l - 1], l == n_layers, cost)
                unit_name += {"saturation": ": saturated", "dead": ": dead"}.get(kind, ": n/a")
                notes.append(f"layer {l}: {why}")
            # an n/a layer's values are NaN: no curve, only its legend entry
            self.saturation_lines.append(SmoothedCurve(self.saturation_plot, color, unit_name))
        self.gradient_curves[:] = [line.curve for line in self.gradient_lines]
        self.saturation_curves[:] = [line.curve for line in self.saturation_lines]
        self.saturation_plot.setToolTip(EXPLANATIONS["units"] + "\n\n" + "\n".join(notes))
        self._saturation_mode_changed()

    def follow_design(self, activations: list[str]) -> None:
        """The designer changed: while no run's points are shown, the per-layer legends
        follow it at once ([g_1, ..., g_L], one per weight layer). Points of a run stay
        labelled as that run's layers until the next run starts."""
        if self.steps.n == 0 and not self.epochs.reports and activations != self._activations:
            self.reset(len(activations), activations)
        self.refresh()

    def add(self, steps: list, epochs: list) -> None:
        for r in steps:
            self.steps.add(r)
        for r in epochs:
            self.epochs.add(r)

    def mark_change(self, step: int, epoch: float, text: str) -> None:
        """A setting changed after ``step`` steps (``epoch`` = examples seen / training
        examples): a dashed vertical line labelled ``text`` ("lr 0.1 -> 0.01") on the cost
        plot (x: step) and the accuracy plot (x: epoch), and unlabelled on the per-layer
        plots."""
        for plot, x, label in ((self.cost_plot, step, text), (self.accuracy_plot, epoch, text),
                               (self.gradient_plot, step, None),
                               (self.saturation_plot, step, None)):
            mark = pg.InfiniteLine(pos=x, angle=90, pen=CHANGE_PEN, movable=False, label=label,
                                   labelOpts={"position": 0.95, "color": "#333",
                                              "anchors": [(0, 0), (0, 0)],  # right of it
                                              "fill": (255, 255, 255, 200)})
            mark.setObjectName("changeMark")
            mark.setToolTip(text)
            plot.addItem(mark)  # the view takes it in: a change before the first epoch
            self.change_marks.append((plot, mark))

    def refresh(self, only: int | None = None) -> None:
        """Push the series into the curves: every plot, or only plot number ``only`` (0 cost,
        1 accuracy, 2 gradient, 3 saturation), so a caller can spread one redraw over
        several event-loop turns."""
        self.redraws += 1
        parts = (self._refresh_cost, self._refresh_accuracy, self._refresh_gradient,
                 self._refresh_saturation)
        for k, part in enumerate(parts):
            if only is None or only == k:
                part()

    def _refresh_cost(self) -> None:
        s, e = self.steps, self.epochs
        self.step_cost_curve.set_data(s.step, finite_or_nan(s.cost), self.smoothed())
        ex = e.column("step")
        self.epoch_train_cost.setData(ex, finite_or_nan(e.column("train_cost")))
        self.epoch_val_cost.setData(ex, finite_or_nan(e.column("val_cost")))
        show_markers(self.epoch_train_cost, ex.size, "o")
        show_markers(self.epoch_val_cost, ex.size, "s")

    def smoothed(self) -> bool:
        return self.smooth_check.isChecked()

    def _refresh_accuracy(self) -> None:
        e = self.epochs
        epoch = e.column("epoch")
        self.train_acc.setData(epoch, finite_or_nan(e.column("train_accuracy")))
        self.val_acc.setData(epoch, finite_or_nan(e.column("val_accuracy")))
        show_markers(self.train_acc, epoch.size, "o")
        show_markers(self.val_acc, epoch.size, "s")

    def _refresh_gradient(self) -> None:
        s = self.steps
        values = s.layer_values(GRADIENT_MODES[self.gradient_mode.currentText()])
        for l, line in enumerate(self.gradient_lines):
            if l < values.shape[0]:
                line.set_data(s.step, _positive(values[l]), self.smoothed())

    def _refresh_saturation(self) -> None:
        s = self.steps
        # one value per layer: its saturated share (sigmoid, tanh) or dead share (relu); NaN
        # where neither applies
        x = s.step
        sat = np.fmax(s.layer_values("saturated_share"), s.layer_values("dead_share"))
        if self.saturation_mode.currentText() == "lines":
            for l, line in enumerate(self.saturation_lines):
                if l < sat.shape[0]:
                    # a window value already averages over >= 1000 examples: drawn as it is,
                    # a staircase (smoothing it drew ramps that no window measured)
                    line.set_data(x, finite_or_nan(sat[l]), smoothed=False)
        elif sat.size:
            # layers x time: rows are layers (layer 1 at the bottom), columns are kept steps
            # NaN (n/a, or no window closed yet) is drawn transparent, not as 0
            self.saturation_image.setImage(sat.T, levels=(0, 1), autoLevels=False)
            x0, x1 = float(x[0]), float(x[-1]) if x.size > 1 else float(x[0]) + 1
            self.saturation_image.setRect(x0, 0.5, max(x1 - x0, 1.0), sat.shape[0])

    def _gradient_mode_changed(self) -> None:
        mode = self.gradient_mode.currentText()
        self.gradient_plot.setLabel("left", mode.replace(
            "||dW||", "||dW[l]||").replace("||db||", "||db[l]||"))
        self.gradient_plot.setToolTip(EXPLANATIONS[GRADIENT_MODES[mode]])
        self.refresh()

    def _saturation_mode_changed(self) -> None:
        heat = self.saturation_mode.currentText() == "heat map"
        for line in self.saturation_lines:
            line.setVisible(not heat)
        self.saturation_image.setVisible(heat)
        # the heat map has a colour bar instead of a line legend, and whole layer numbers
        self.saturation_bar.setVisible(heat)
        self.saturation_plot.getPlotItem().legend.set_shown(not heat)
        n = max(1, len(self.saturation_lines))
        left = self.saturation_plot.getAxis("left")
        if heat:
            self.saturation_plot.setLabel("left", "layer")
            left.setTicks([[(float(l), str(l)) for l in range(1, n + 1)]])
            self.saturation_plot.setYRange(0.5, n + 0.5, padding=0)
        else:
            self.saturation_plot.setLabel("left", "share of units")
            left.setTicks(None)
            self.saturation_plot.setYRange(0, 1)
        self.refresh()

    # ------------------------------------------------------------------ export
    def _add_export_actions(self, plot: pg.PlotWidget) -> None:
        menu: QMenu = plot.getPlotItem().getViewBox().menu
        menu.addSeparator()
        menu.addAction("Save plot as PNG…", lambda: self._ask_and_save(plot, "png"))
        menu.addAction("Save data as CSV…", lambda: self._ask_and_save(plot, "csv"))

    def _ask_and_save(self, plot: pg.PlotWidget, kind: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Save {kind.upper()}",
                                              f"{plot.objectName()}.{kind}",
                                              f"{kind.upper()} (*.{kind})")
        if path:
            (self.save_png if kind == "png" else self.save_csv)(plot, path)

    def save_png(self, plot: pg.PlotWidget, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp.png")
        pg.exporters.ImageExporter(plot.getPlotItem()).export(str(tmp))
        tmp.replace(path)
        return path

    def save_csv(self, plot: pg.PlotWidget, path: str | Path) -> Path:
        """Every curve of ``plot`` as columns curve,x,y (one row per point)."""
        lines = ["curve,x,y"]
        for item in plot.getPlotItem().listDataItems():
            name = item.name() or "curve"
            xs, ys = item.getData()
            if xs is None:
                continue
            lines += [f"{name},{x!r},{y!r}" for x, y in zip(xs.tolist(), ys.tolist(),
                                                           strict=True)]
        return atomic_write_text(path, "\n".join(lines) + "\n")
