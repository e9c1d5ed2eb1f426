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
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.io.atomic import atomic_write_text
from desktop_nn.train.series import EpochSeries, StepSeries, finite_or_nan

LAYER_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]
GRADIENT_MODES = {"||dW||": "grad_norm_W", "||db||": "grad_norm_b",
                  "update ratio": "update_ratio"}
FEW_POINTS = 30  # a step curve with this many points or fewer shows each one (Step, F10)
CHANGE_PEN = pg.mkPen("#555", width=1, style=pg.QtCore.Qt.PenStyle.DashLine)


def show_few_points(curve: pg.PlotDataItem, n: int) -> None:
    """A dot on each point while a curve has few (a line through one point draws nothing:
    the first steps taken one at a time would be invisible)."""
    few = 0 < n <= FEW_POINTS
    if few != (curve.opts.get("symbol") is not None):
        curve.setSymbol("o" if few else None)
        if few:
            curve.setSymbolSize(5)
            curve.setSymbolPen(curve.opts["pen"])
            curve.setSymbolBrush(pg.mkPen(curve.opts["pen"]).color())


def layer_pen(l: int) -> pg.QtGui.QPen:
    return pg.mkPen(LAYER_COLORS[(l - 1) % len(LAYER_COLORS)], width=1.5)


def _plot(name: str, title: str, x: str, y: str) -> pg.PlotWidget:
    w = pg.PlotWidget(title=title)
    w.setObjectName(name)
    w.setBackground("w")
    # no grid: in software rendering its lines cost more than the curves
    w.setLabel("bottom", x)
    w.setLabel("left", y)
    w.getPlotItem().setClipToView(True)
    w.getPlotItem().setDownsampling(auto=True, mode="peak")
    w.addLegend(offset=(-10, 10))
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

        self.cost_plot = _plot("costPlot", "Cost", "step", "cost")
        self.step_cost = self.cost_plot.plot([], [], pen=pg.mkPen("#9ab", width=1),
                                             name="batch (train)")
        self.epoch_train_cost = self.cost_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2),
                                                    symbol="o", symbolSize=5, name="train")
        self.epoch_val_cost = self.cost_plot.plot([], [], pen=pg.mkPen("#d62728", width=2),
                                                  symbol="s", symbolSize=5, name="validation")

        self.accuracy_plot = _plot("accuracyPlot", "Accuracy", "epoch", "accuracy")
        self.accuracy_plot.setYRange(0, 1)
        self.train_acc = self.accuracy_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2),
                                                 symbol="o", symbolSize=5, name="train")
        self.val_acc = self.accuracy_plot.plot([], [], pen=pg.mkPen("#d62728", width=2),
                                               symbol="s", symbolSize=5, name="validation")

        self.gradient_plot = _plot("gradientPlot", "Gradient magnitude per layer", "step",
                                   "||dW[l]||")
        self.gradient_plot.setLogMode(y=True)
        self.gradient_mode = QComboBox()
        self.gradient_mode.setObjectName("gradientModeCombo")
        self.gradient_mode.addItems(list(GRADIENT_MODES))
        self.gradient_mode.currentTextChanged.connect(self._gradient_mode_changed)
        self.gradient_curves: list[pg.PlotDataItem] = []

        self.saturation_plot = _plot("saturationPlot", "Saturated / dead units per layer",
                                     "step", "share of units")
        self.saturation_plot.setYRange(0, 1)
        self.saturation_mode = QComboBox()
        self.saturation_mode.setObjectName("saturationModeCombo")
        self.saturation_mode.addItems(["lines", "heat map"])
        self.saturation_mode.currentTextChanged.connect(self._saturation_mode_changed)
        self.saturation_curves: list[pg.PlotDataItem] = []
        self.saturation_image = pg.ImageItem()
        self.saturation_image.setColorMap(pg.colormap.get("viridis"))
        self.saturation_image.hide()
        self.saturation_plot.addItem(self.saturation_image)

        grid = QGridLayout(self)
        grid.addWidget(self._with_header(self.cost_plot), 0, 0)
        grid.addWidget(self._with_header(self.accuracy_plot), 0, 1)
        grid.addWidget(self._with_header(self.gradient_plot, "Show", self.gradient_mode), 1, 0)
        grid.addWidget(self._with_header(self.saturation_plot, "As", self.saturation_mode),
                       1, 1)
        for plot in self.plots():
            self._add_export_actions(plot)

    def plots(self) -> list[pg.PlotWidget]:
        return [self.cost_plot, self.accuracy_plot, self.gradient_plot, self.saturation_plot]

    def _with_header(self, plot: pg.PlotWidget, label: str = "", combo=None) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        if combo is not None:
            h = QHBoxLayout()
            h.addStretch(1)
            h.addWidget(QLabel(label))
            h.addWidget(combo)
            v.addLayout(h)
        v.addWidget(plot, 1)
        return box

    # ------------------------------------------------------------------ data in
    def reset(self, n_layers: int, activations: list[str]) -> None:
        """A new run of a network with ``n_layers`` weight layers."""
        self.steps.clear()
        self.epochs.clear()
        for plot, mark in self.change_marks:
            plot.removeItem(mark)
        self.change_marks.clear()
        for curves, plot in ((self.gradient_curves, self.gradient_plot),
                             (self.saturation_curves, self.saturation_plot)):
            for c in curves:
                plot.removeItem(c)
            curves.clear()
        for plot in (self.gradient_plot, self.saturation_plot):
            plot.getPlotItem().legend.clear()
        for l in range(1, n_layers + 1):
            name = f"layer {l} ({activations[l - 1]})" if l <= len(activations) else f"layer {l}"
            self.gradient_curves.append(self.gradient_plot.plot([], [], pen=layer_pen(l),
                                                                name=name))
            self.saturation_curves.append(self.saturation_plot.plot([], [], pen=layer_pen(l),
                                                                    name=name))
        self._saturation_mode_changed()
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
        self.step_cost.setData(s.step, finite_or_nan(s.cost))
        show_few_points(self.step_cost, s.n)
        ex = e.column("step")
        self.epoch_train_cost.setData(ex, finite_or_nan(e.column("train_cost")))
        self.epoch_val_cost.setData(ex, finite_or_nan(e.column("val_cost")))

    def _refresh_accuracy(self) -> None:
        e = self.epochs
        epoch = e.column("epoch")
        self.train_acc.setData(epoch, finite_or_nan(e.column("train_accuracy")))
        self.val_acc.setData(epoch, finite_or_nan(e.column("val_accuracy")))

    def _refresh_gradient(self) -> None:
        s = self.steps
        values = s.layer_values(GRADIENT_MODES[self.gradient_mode.currentText()])
        for l, curve in enumerate(self.gradient_curves):
            if l < values.shape[0]:
                curve.setData(s.step, _positive(values[l]))
                show_few_points(curve, s.n)

    def _refresh_saturation(self) -> None:
        s = self.steps
        x, sat = s.step, s.layer_values("saturation")
        if self.saturation_mode.currentText() == "lines":
            for l, curve in enumerate(self.saturation_curves):
                if l < sat.shape[0]:
                    curve.setData(x, finite_or_nan(sat[l]))
                    show_few_points(curve, s.n)
        elif sat.size:
            # layers x time: rows are layers (layer 1 at the bottom), columns are kept steps
            self.saturation_image.setImage(np.nan_to_num(sat.T), levels=(0, 1), autoLevels=False)
            x0, x1 = float(x[0]), float(x[-1]) if x.size > 1 else float(x[0]) + 1
            self.saturation_image.setRect(x0, 0.5, max(x1 - x0, 1.0), sat.shape[0])

    def _gradient_mode_changed(self) -> None:
        self.gradient_plot.setLabel("left", self.gradient_mode.currentText().replace(
            "||dW||", "||dW[l]||").replace("||db||", "||db[l]||"))
        self.refresh()

    def _saturation_mode_changed(self) -> None:
        heat = self.saturation_mode.currentText() == "heat map"
        for c in self.saturation_curves:
            c.setVisible(not heat)
        self.saturation_image.setVisible(heat)
        n = max(1, len(self.saturation_curves))
        if heat:
            self.saturation_plot.setLabel("left", "layer")
            self.saturation_plot.setYRange(0.5, n + 0.5)
        else:
            self.saturation_plot.setLabel("left", "share of units")
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
