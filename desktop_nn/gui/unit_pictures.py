"""The hidden units' pictures of the Plane tab (decision boundary): for each hidden layer,
one small picture per unit, its activation A[l][j] over the input plane (x₁ across, x₂ up, the same
square as the boundary's picture), in a diverging colour scale (blue, white, red) fixed per
layer by :func:`desktop_nn.inspect.plane.unit_levels`, captioned with the unit and the range
of its values over the plane.

One widget paints every picture (no widget per unit): redrawing 64 units is one paint.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_nn.inspect.plane import unit_levels

TILE = 48  # pixels per picture side
GAP = 8
MAX_UNITS = 64  # pictures per layer; a wider layer shows its first 64 units
UNIT_MAP = pg.ColorMap([0.0, 0.5, 1.0], [(33, 102, 172), (255, 255, 255), (178, 24, 43)])
_LUT = UNIT_MAP.getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)  # (256, 3)


def colour_layer(values: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    """(n, uy, ux) values, row 0 at the lowest x₂ -> (n, uy, ux, 3) uint8 RGB pictures with
    x₂ going up (row 0 at the top), on the scale ``levels``. Plain NumPy: a worker thread
    may colour a layer."""
    lo, hi = levels
    t = np.clip((values[:, ::-1] - lo) / (hi - lo), 0.0, 1.0)
    return _LUT[np.round(t * 255).astype(np.intp)]


def to_qimage(rgb: np.ndarray) -> QImage:
    """(h, w, 3) uint8 -> a QImage (copied)."""
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def layer_pictures(units: list[np.ndarray], activations: list[str]
                   ) -> list[tuple[tuple[float, float], np.ndarray]]:
    """Per hidden layer, its colour scale and its first MAX_UNITS units' pictures
    (:func:`colour_layer`), from ``units[l - 1]`` (n_l, uy, ux) with g[l] =
    ``activations[l - 1]``."""
    out = []
    for u, act in zip(units, activations, strict=True):
        levels = unit_levels(act, u)
        out.append((levels, colour_layer(u[:MAX_UNITS], levels)))
    return out


def format_value(v: float) -> str:
    return f"{v:.2g}".replace("-", "−")


class UnitPictures(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("unitPictures")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        # per layer: (heading, [(picture, caption), ...])
        self.layers: list[tuple[str, list[tuple[QImage, str]]]] = []
        self.values: list[np.ndarray] = []  # what is drawn, per layer (n_l, uy, ux)
        self.levels: list[tuple[float, float]] = []
        self.small = QFont(self.font())
        self.small.setPointSizeF(max(6.0, self.font().pointSizeF() - 2))

    def clear(self) -> None:
        self.layers, self.values, self.levels = [], [], []
        self._fit()
        self.update()

    def set_layers(self, units: list[np.ndarray], activations: list[str],
                   pictures: list[tuple[tuple[float, float], np.ndarray]] | None = None
                   ) -> None:
        """``units[l - 1]`` (n_l, uy, ux): A[l] of hidden layer l over the plane, g[l] =
        ``activations[l - 1]``; ``pictures``: their :func:`layer_pictures` when already made
        (in a worker thread)."""
        pictures = pictures if pictures is not None else layer_pictures(units, activations)
        self.values = [u[:MAX_UNITS] for u in units]
        self.levels = [levels for levels, _ in pictures]
        self.layers = []
        for l, (u, act, ((lo, hi), rgb)) in enumerate(zip(units, activations, pictures,
                                                          strict=True), start=1):
            shown = "" if u.shape[0] <= MAX_UNITS else f", first {MAX_UNITS} of {u.shape[0]}"
            heading = (f"Layer {l} ({act}{shown}): A[{l}] over the plane, colour "
                       f"{format_value(lo)} blue … {format_value((lo + hi) / 2)} white … "
                       f"{format_value(hi)} red")
            tiles = [(to_qimage(rgb[j]),
                      f"unit {l}.{j + 1}\n{format_value(a.min())}…{format_value(a.max())}")
                     for j, a in enumerate(u[:MAX_UNITS])]
            self.layers.append((heading, tiles))
        self._fit()
        self.update()

    # ------------------------------------------------------------------ layout and painting
    def _columns(self, width: int) -> int:
        return max(1, (width - GAP) // (TILE + GAP))

    def _height_for(self, width: int) -> int:
        if not self.layers:
            return 0
        cols = self._columns(width)
        caption = 2 * self._small_line() + 2
        h = GAP
        for heading, tiles in self.layers:
            h += self._heading_height(heading, width) + GAP // 2
            rows = -(-len(tiles) // cols)
            h += rows * (TILE + caption + GAP) + GAP
        return h

    def _small_line(self) -> int:
        return QFontMetrics(self.small).height()

    def _heading_height(self, heading: str, width: int) -> int:
        rect = self.fontMetrics().boundingRect(QRect(0, 0, max(width - 2 * GAP, 50), 1000),
                                               Qt.TextFlag.TextWordWrap, heading)
        return rect.height()

    def _fit(self) -> None:
        self.setMinimumHeight(self._height_for(self.width()))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(3 * (TILE + GAP) + GAP, max(self._height_for(3 * (TILE + GAP) + GAP), 40))

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        if not self.layers:
            p.setPen(QColor("#555555"))
            p.drawText(self.rect().adjusted(GAP, GAP, -GAP, -GAP),
                       Qt.TextFlag.TextWordWrap, "Hidden units' pictures appear here once "
                       "there is a network with hidden layers and 2 inputs.")
            return
        width = self.width()
        cols = self._columns(width)
        caption = 2 * self._small_line() + 2
        y = GAP
        for heading, tiles in self.layers:
            hh = self._heading_height(heading, width)
            p.setPen(QColor("black"))
            p.setFont(self.font())
            p.drawText(QRect(GAP, y, width - 2 * GAP, hh), Qt.TextFlag.TextWordWrap, heading)
            y += hh + GAP // 2
            p.setFont(self.small)
            for k, (image, text) in enumerate(tiles):
                r, c = divmod(k, cols)
                x0, y0 = GAP + c * (TILE + GAP), y + r * (TILE + caption + GAP)
                p.drawImage(QRect(x0, y0, TILE, TILE), image)  # nearest: the grid's cells
                p.setPen(QColor("#999999"))
                p.drawRect(QRect(x0, y0, TILE - 1, TILE - 1))
                p.setPen(QColor("black"))
                p.drawText(QRect(x0 - GAP // 2, y0 + TILE + 1, TILE + GAP, caption),
                           Qt.AlignmentFlag.AlignHCenter, text)
            y += -(-len(tiles) // cols) * (TILE + caption + GAP) + GAP
        p.end()
