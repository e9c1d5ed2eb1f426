"""The Weights tab: the first layer's units as pictures, and histograms of W[l] and b[l].

All the numbers come from :mod:`desktop_nn.inspect.weights`; this widget only draws them.
Cheap to refresh: the tiles are one uint8 mosaic in one ``ImageItem``, the histogram curves are
created once and fed with ``setData``, and while the widget is hidden :meth:`set_parameters`
only keeps the arrays and the drawing waits until it is shown (or a getter asks).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop_nn.gui.plot_style import new_plot
from desktop_nn.inspect.weights import (
    MAX_TILES,
    Mosaic,
    first_layer_mosaic,
    histogram,
    share,
    summarize,
    tile_at,
)

SCALE_ITEMS = [("shared", "shared"), ("per tile", "per-tile")]
COLOR_ITEMS = [("diverging (blue - white - red)", "diverging"), ("RGB", "rgb")]
HISTOGRAM_BINS = 40


class WeightsView(QWidget):
    """Weight pictures of layer 1 (one tile per hidden unit) and per-layer histograms."""

    def __init__(self, parent: QWidget | None = None, max_tiles: int = MAX_TILES) -> None:
        super().__init__(parent)
        self.setObjectName("weightsView")
        self.max_tiles = max_tiles
        self._W: list[np.ndarray] = []
        self._b: list[np.ndarray] = []
        self._input_shape: tuple[int, int, int] | None = None
        self._mosaic: Mosaic | None = None
        self._tiles_dirty = False
        self._histogram_dirty = False
        self.redraws = 0  # mosaics drawn, for tests and for measuring the cost

        # ---- tiles
        self.scale_combo = QComboBox()
        self.scale_combo.setObjectName("weightsScaleCombo")
        for text, data in SCALE_ITEMS:
            self.scale_combo.addItem(text, data)
        self.scale_combo.setToolTip("shared: one colour scale for all units (compare units); "
                                    "per tile: each unit scaled to its own largest weight")
        self.color_combo = QComboBox()
        self.color_combo.setObjectName("weightsColorCombo")
        for text, data in COLOR_ITEMS:
            self.color_combo.addItem(text, data)
        self.color_combo.setToolTip("diverging: channels averaged, negative blue, positive red; "
                                    "RGB: each channel's weights as that colour around gray")
        self.color_label = QLabel("Colours")
        self.scale_combo.currentIndexChanged.connect(self._tile_options_changed)
        self.color_combo.currentIndexChanged.connect(self._tile_options_changed)

        self.info_label = QLabel("No network yet.")
        self.info_label.setObjectName("weightsInfoLabel")
        self.info_label.setWordWrap(True)
        self.hover_label = QLabel("")
        self.hover_label.setObjectName("weightsHoverLabel")

        self.tiles_widget = pg.GraphicsLayoutWidget()
        self.tiles_widget.setObjectName("weightTilesView")
        self.tiles_widget.setBackground("w")
        self.tiles_box = self.tiles_widget.addViewBox(lockAspect=True, invertY=True,
                                                      enableMenu=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.tiles_box.addItem(self.image_item)
        self.tiles_widget.scene().sigMouseMoved.connect(self._mouse_moved)

        # ---- histograms
        self.layer_combo = QComboBox()
        self.layer_combo.setObjectName("histogramLayerCombo")
        self.layer_combo.currentIndexChanged.connect(self._layer_changed)
        self.histogram_plot = new_plot("weightHistogramPlot", "Weights and biases of one layer",
                                       "value", "share of entries")
        self.w_curve = self.histogram_plot.plot(
            [0.0, 1.0], [0.0], stepMode="center", fillLevel=0, name="W",
            pen=pg.mkPen("#1f77b4", width=1.5), brush=pg.mkBrush(31, 119, 180, 80))
        self.b_curve = self.histogram_plot.plot(
            [0.0, 1.0], [0.0], stepMode="center", fillLevel=0, name="b",
            pen=pg.mkPen("#ff7f0e", width=1.5), brush=pg.mkBrush(255, 127, 14, 80))
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("weightSummaryLabel")
        self.summary_label.setWordWrap(True)

        # ---- layout
        top = QHBoxLayout()
        top.addWidget(QLabel("Layer 1 units, scale"))
        top.addWidget(self.scale_combo)
        top.addWidget(self.color_label)
        top.addWidget(self.color_combo)
        top.addStretch(1)
        top.addWidget(self.hover_label)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Histogram of"))
        bottom.addWidget(self.layer_combo)
        bottom.addStretch(1)
        v = QVBoxLayout(self)
        v.addLayout(top)
        v.addWidget(self.info_label)
        v.addWidget(self.tiles_widget, 3)
        v.addLayout(bottom)
        v.addWidget(self.histogram_plot, 2)
        v.addWidget(self.summary_label)
        self.clear()

    # ------------------------------------------------------------------ data in
    def set_parameters(self, W: list[np.ndarray], b: list[np.ndarray],
                       input_shape: tuple[int, int, int] | None) -> None:
        """Show host arrays W[l] (n_l, n_{l-1}) and b[l] (n_l, 1), l = 1..L (index 0 = layer 1).

        ``input_shape`` (H, W, C) of the images the network reads, or None when the inputs are
        not images (the tiles are hidden then). The arrays are kept, not copied: pass copies
        (``Network.get_parameters`` does). Drawing waits while the widget is hidden.
        """
        if len(W) != len(b):
            raise ValueError(f"{len(W)} weight matrices but {len(b)} bias vectors")
        if not W:
            self.clear()
            return
        self._W, self._b = list(W), list(b)
        self._input_shape = None if input_shape is None else tuple(int(s) for s in input_shape)
        self._sync_layer_combo(len(W))
        self._tiles_dirty = self._histogram_dirty = True
        if self.isVisible():
            self._redraw()

    def clear(self) -> None:
        """Forget the network: no tiles, empty histograms."""
        self._W, self._b = [], []
        self._input_shape = None
        self._mosaic = None
        self._tiles_dirty = self._histogram_dirty = False
        self.image_item.clear()
        self.tiles_widget.hide()
        self.color_label.hide()
        self.color_combo.hide()
        self.info_label.setText("No network yet.")
        self.hover_label.clear()
        self._sync_layer_combo(0)
        self.w_curve.setData([0.0, 1.0], [0.0])
        self.b_curve.setData([0.0, 1.0], [0.0])
        self.summary_label.clear()

    # ------------------------------------------------------------------ for tests and callers
    def tile_count(self) -> int:
        """Tiles drawn: the first layer's units, at most ``max_tiles``; 0 without pictures."""
        self._redraw()
        return 0 if self._mosaic is None else self._mosaic.shown

    def tile_shape(self) -> tuple[int, int, int] | None:
        """(H, W, C) of one tile, None without pictures."""
        self._redraw()
        return None if self._mosaic is None else self._mosaic.tile_shape

    def image(self) -> np.ndarray | None:
        """The mosaic drawn, (rows, cols, 3) uint8, None without pictures."""
        self._redraw()
        return None if self._mosaic is None else self._mosaic.image

    def scale(self) -> str:
        return self.scale_combo.currentData()

    def coloring(self) -> str:
        """The colouring in use: "rgb" only when chosen and the inputs have 3 channels."""
        shape = self._input_shape
        if shape is not None and shape[2] == 3:
            return self.color_combo.currentData()
        return "diverging"

    # ------------------------------------------------------------------ drawing
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._redraw()

    def _tile_options_changed(self) -> None:
        if self._W:
            self._tiles_dirty = True
            if self.isVisible():
                self._redraw()

    def _layer_changed(self) -> None:
        if self._W:
            self._histogram_dirty = True
            if self.isVisible():
                self._redraw()

    def _redraw(self) -> None:
        if self._tiles_dirty:
            self._tiles_dirty = False
            self._draw_tiles()
        if self._histogram_dirty:
            self._histogram_dirty = False
            self._draw_histogram()

    def _draw_tiles(self) -> None:
        shape = self._input_shape
        n_1, n_x = self._W[0].shape
        rgb_input = shape is not None and shape[2] == 3
        self.color_label.setVisible(rgb_input)
        self.color_combo.setVisible(rgb_input)
        if shape is None:
            plane = " the Plane tab shows what each unit computes;" if n_x == 2 else ""
            self._no_tiles(f"The inputs are not images (n_x = {n_x}): no weight pictures;"
                           f"{plane} the histograms below still apply.")
            return
        try:
            mosaic = first_layer_mosaic(self._W[0], shape, self.scale(), self.coloring(),
                                        max_tiles=self.max_tiles)
        except ValueError as exc:
            self._no_tiles(str(exc))
            return
        old = self._mosaic
        self._mosaic = mosaic
        self.image_item.setImage(mosaic.image, autoLevels=False, levels=(0, 255))
        self.redraws += 1
        if old is None or old.image.shape != mosaic.image.shape:
            self.tiles_box.autoRange(padding=0.01)
        h, w, c = mosaic.tile_shape
        what = (f"all {n_1} units" if mosaic.shown == n_1
                else f"the first {mosaic.shown} of {n_1} units")
        self.info_label.setText(f"Layer 1: {what}, one {h}x{w}"
                                f"{'' if c == 1 else f'x{c}'} tile per unit "
                                "(what the unit responds to). Hover a tile for its number.")
        self.tiles_widget.show()

    def _no_tiles(self, message: str) -> None:
        self._mosaic = None
        self.image_item.clear()
        self.tiles_widget.hide()
        self.hover_label.clear()
        self.info_label.setText(message)

    def _sync_layer_combo(self, n_layers: int) -> None:
        if self.layer_combo.count() == n_layers:
            return
        keep = self.layer_combo.currentIndex()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems([f"layer {l}" for l in range(1, n_layers + 1)])
        if n_layers:
            self.layer_combo.setCurrentIndex(min(max(keep, 0), n_layers - 1))
        self.layer_combo.blockSignals(False)

    def _draw_histogram(self) -> None:
        i = max(self.layer_combo.currentIndex(), 0)
        l = i + 1
        for curve, a in ((self.w_curve, self._W[i]), (self.b_curve, self._b[i])):
            counts, edges = histogram(a, HISTOGRAM_BINS)
            curve.setData(edges, share(counts))
        self.summary_label.setText(summarize(self._W[i]).text(f"W[{l}]") + "\n"
                                   + summarize(self._b[i]).text(f"b[{l}]"))

    def _mouse_moved(self, pos: QPointF) -> None:
        m = self._mosaic
        if m is None or not self.tiles_box.sceneBoundingRect().contains(pos):
            self.hover_label.clear()
            return
        p = self.tiles_box.mapSceneToView(pos)
        k = tile_at(p.y(), p.x(), m.tile_shape[:2], m.shown, m.columns, m.pad)
        self.hover_label.setText("" if k is None else f"unit {k + 1} of {m.total}")
