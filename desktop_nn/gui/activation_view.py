"""The Activations tab: for one layer at a time, the distribution of its activations A[l]
over each reported batch, as a heat map over time (x: step, y: activation value, colour:
share of the layer's entries in that bin). Sigmoid units that saturate pile up at 0 and 1,
ReLU units that die at 0 (docs/diagnostics.md, "Activation histograms").

The histograms are counted on the device by the trainer (nn/histograms.py) and kept in a
bounded :class:`HistogramSeries`; the view only draws, and only when it is visible and has
new data, at most once per :data:`MIN_REDRAW_S` (the training progress calls
:meth:`ActivationView.add` and :meth:`ActivationView.redraw` from its timer).
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop_nn.gui.plot_style import new_plot, quiet_color_bar
from desktop_nn.nn.histograms import HISTOGRAM_BINS
from desktop_nn.train.series import HistogramSeries

MIN_REDRAW_S = 0.2  # at most 5 redraws a second: a heat map of 1024 x 40 is dear to draw
EXPLANATION = (
    "Distribution of layer l's activations A[l] over the examples of each reported batch: x "
    f"is the step, y the activation value ({HISTOGRAM_BINS} equal bins), colour the share "
    "of the layer's entries (units x examples) in the bin. Saturated sigmoid units pile up "
    "at 0 and 1, tanh at -1 and 1; dead ReLU units at 0. For relu, leaky ReLU and linear "
    "layers the range is set at the first report (values beyond it are counted in the top "
    "or bottom bin)."
)


class ActivationView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("activationView")
        self.series = HistogramSeries()
        self.redraws = 0
        self._drawn_version = -1
        self._last_draw = 0.0
        self._activations: list[str] = []

        self.layer_combo = QComboBox()
        self.layer_combo.setObjectName("activationLayerCombo")
        self.layer_combo.currentIndexChanged.connect(lambda _: self.redraw(force=True))
        self.plot = new_plot("activationPlot", "Activations of the layer over time", "step",
                             "activation A[l]", legend=False)
        self.plot.setToolTip(EXPLANATION)
        self.image = pg.ImageItem()
        self.colormap = pg.colormap.get("viridis")
        self.image.setColorMap(self.colormap)
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=self.colormap, interactive=False,
                                        label="share of entries")
        self.colorbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        quiet_color_bar(self.colorbar)
        self.note = QLabel("Train a network to see its activations here.")
        self.note.setObjectName("activationNote")
        self.note.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.note, 1)
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)

    # ------------------------------------------------------------------ data in
    def reset(self, activations: list[str]) -> None:
        """A new run: one entry per layer (``activations``: g[1..L])."""
        self.series.clear()
        self._activations = list(activations)
        current = max(self.layer_combo.currentIndex(), 0)
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems([f"layer {l} ({a})" for l, a in
                                   enumerate(activations, start=1)])
        self.layer_combo.setCurrentIndex(min(current, len(activations) - 1))
        self.layer_combo.blockSignals(False)
        self.image.clear()
        self.redraw(force=True)

    def add(self, steps: list) -> None:
        for r in steps:
            self.series.add(r)

    # ------------------------------------------------------------------ drawing
    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.redraw(force=True)  # the tab was opened: show what arrived meanwhile

    def redraw(self, force: bool = False) -> bool:
        """Draw the chosen layer's heat map when visible, changed and not drawn in the last
        MIN_REDRAW_S (``force``: whenever visible). Whether it drew."""
        now = time.perf_counter()
        s = self.series
        if not self.isVisible() or s.version == self._drawn_version and not force:
            return False
        if not force and now - self._last_draw < MIN_REDRAW_S:
            return False
        self._drawn_version, self._last_draw = s.version, now
        layer = self.layer_combo.currentIndex() + 1
        if s.n == 0 or not 1 <= layer <= s.n_layers:
            self.image.clear()
            return False
        shares = s.shares(layer)  # (n, bins): x = report, y = bin
        lo, hi = s.ranges[layer - 1]
        steps = s.step
        x0 = float(steps[0])
        width = float(steps[-1] - steps[0]) if s.n > 1 else 1.0
        # each column spans one kept report: widen by one report so the last one shows
        width += width / max(s.n - 1, 1) if s.n > 1 else 0.0
        self.image.setImage(shares, levels=(0, 1), autoLevels=False)
        self.image.setRect(x0, lo, max(width, 1.0), hi - lo)
        name = self._activations[layer - 1] if layer <= len(self._activations) else ""
        self.note.setText(f"Layer {layer} ({name}): A[l] from {lo:g} to {hi:g}, "
                          f"{s.bins} bins; colour = share of units x examples per bin.")
        self.redraws += 1
        self.plot.repaint()
        return True

    def shown_image(self) -> np.ndarray | None:
        """The image drawn (for tests): (n, bins)."""
        return self.image.image
