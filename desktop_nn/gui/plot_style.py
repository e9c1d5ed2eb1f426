"""How every plot of the app looks, in one place, for every view to reuse.

- :class:`AppAxis`: never rescales its numbers with an SI prefix (pyqtgraph would write
  "cost (x0.001)" or "||db|| (x1e+18)"), and in log mode is labelled at decades (10⁻⁵, 10⁻⁴,
  ...) with unlabelled minor ticks at 2..9 x 10ⁿ: no overlapping 0.9, 0.8, 0.7 labels, no
  0.0001 next to 1e-05.
- :class:`BelowLegend`: the legend sits under the x axis, outside the data, in as many columns
  as the width allows: it never hides a curve and a curve never hides it.
- :func:`new_plot` makes a PlotWidget with both; :func:`style_plot` converts an existing one.
- :func:`show_markers`: markers only while a curve has few points (one point after one Step is
  visible; a 2500-epoch run does not become a thick band).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from desktop_nn.train.series import smooth

MAX_MARKED_POINTS = 25  # above this, points are too close for markers to help
COLOR_BAR_AXIS_WIDTH = 58  # pixels for "0.8" and a rotated label
LEGEND_ROW = 4  # the PlotItem's layout: 0 title, 1 top axis, 2 view, 3 bottom axis
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


# ---------------------------------------------------------------------------- log ticks
def power_of_ten(n: int) -> str:
    """10ⁿ as text, e.g. "10⁻⁵"."""
    return "10" + str(n).translate(_SUPERSCRIPT)


def log_tick_label(v: float) -> str:
    """The label of a tick at log10 value ``v``: "10⁻³" at a decade, else "m×10ⁿ" with m in
    [1, 10) written with up to 3 significant digits ("2×10⁻³", "3.15×10⁻³")."""
    m = float(f"{10 ** (v - math.floor(v)):.3g}")
    n = math.floor(v)
    if m >= 10:  # rounding reached the next decade
        m, n = m / 10, n + 1
    return power_of_ten(n) if m == 1 else f"{m:g}×{power_of_ten(n)}"


def log_ticks(lo: float, hi: float, length_px: float,
              min_gap_px: float = 24.0) -> tuple[list[float], list[float]]:
    """Labelled and unlabelled tick positions (log10 values) for a log axis showing log10
    values ``lo`` to ``hi`` over ``length_px`` pixels, labels at least ``min_gap_px`` apart.

    Two decades or more in view: the decades are labelled (every 2nd, 3rd, 5th, 10th, ... if
    they are too close), with minor ticks at 2..9 x 10ⁿ (or at the skipped decades).
    Fewer: 1, 2 and 5 x 10ⁿ are labelled, or else every m x 10ⁿ, or else, in a range narrower
    than 1 to 2, round values in between."""
    lo, hi = min(lo, hi), max(lo, hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo <= 0 or length_px <= 0:
        return [], []
    px_per_decade = length_px / (hi - lo)
    decades = list(range(math.ceil(lo), math.floor(hi) + 1))
    if len(decades) >= 2:
        step = next(s for s in _nice_steps() if s * px_per_decade >= min_gap_px)
        major = [float(d) for d in decades if d % step == 0]
        if step == 1:
            minor = [x for x in _multiples(lo, hi, range(2, 10))] \
                if px_per_decade >= 2 * min_gap_px else []
        else:
            minor = [float(d) for d in decades if d % step]
            minor = minor if len(minor) * 3 <= length_px else []  # not a solid bar
        return major, minor
    for labelled in ((1, 2, 5), range(1, 10)):
        major = _multiples(lo, hi, labelled)
        if len(major) >= 2:
            return major, [x for x in _multiples(lo, hi, range(1, 10)) if x not in major]
    return _round_values(lo, hi), []


def _nice_steps():
    k = 1
    while True:
        for m in (1, 2, 3, 5):
            yield m * k
        k *= 10


def _multiples(lo: float, hi: float, ms) -> list[float]:
    """log10(m x 10ⁿ) for each m of ``ms`` and every n, within [lo, hi]."""
    out = []
    for n in range(math.floor(lo), math.ceil(hi) + 1):
        for m in ms:
            x = n + math.log10(m)
            if lo - 1e-9 <= x <= hi + 1e-9:
                out.append(x)
    return out


def _round_values(lo: float, hi: float) -> list[float]:
    """log10 of 3 to 6 round values between 10^lo and 10^hi (a range narrower than 1 to 2)."""
    a, b = 10 ** lo, 10 ** hi
    unit = 10 ** math.floor(math.log10((b - a) / 3))
    spacing = next(unit * m for m in (1, 2, 5, 10) if (b - a) / (unit * m) <= 6)
    first = math.ceil(a / spacing)
    return [math.log10(k * spacing) for k in range(first, int(b / spacing) + 1)
            if k * spacing > 0]


class AppAxis(pg.AxisItem):
    """An axis that shows the plotted numbers as they are: no SI-prefix scaling, and in log
    mode labels from :func:`log_ticks` / :func:`log_tick_label`."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802 (pyqtgraph's name)
        gap = 24.0 if self.orientation in ("left", "right") else 56.0
        major, minor = log_ticks(minVal, maxVal, size, gap)
        if not major:
            return super().logTickValues(minVal, maxVal, size, stdTicks)
        return [(1.0, major), (None, minor)]

    def logTickStrings(self, values, scale, spacing):  # noqa: N802
        if spacing is None:  # the minor ticks: no labels
            return []
        return [log_tick_label(v) for v in values]


# ---------------------------------------------------------------------------- legend
class BelowLegend(pg.LegendItem):
    """A legend in its own row under the x axis of a PlotItem, outside the data, as wide as
    the plot: entries flow into as many columns as fit (see :meth:`fit_columns`)."""

    def __init__(self) -> None:
        super().__init__(offset=None, frame=False, labelTextSize="8pt", horSpacing=12,
                         brush=None, pen=None)
        self._shown = True

    def attach(self, plot_item: pg.PlotItem) -> None:
        plot_item.legend = self  # plot(name=...) adds its entry here
        plot_item.layout.addItem(self, LEGEND_ROW, 0, 1, 3)  # under the axes, full width
        plot_item.geometryChanged.connect(self.fit_columns)

    def updateSize(self) -> None:  # noqa: N802 (pyqtgraph's name): size from the layout
        self._fix_height()

    def entry_width(self) -> float:
        """Width of the widest entry (sample and label)."""
        return max((s.boundingRect().width() + l.minimumWidth() + self.layout.horizontalSpacing()
                    for s, l in self.items), default=0.0)

    def fit_columns(self) -> None:
        """As many columns as fit the width of the plot (at least one)."""
        parent = self.parentItem()
        width = parent.width() - 8 if parent is not None else self.width()
        fit = max(1, int(width // max(1.0, self.entry_width() + 4)))
        cols = min(fit, max(1, len(self.items)))
        if cols != self.columnCount:
            self.setColumnCount(cols)
        self._fix_height()

    def set_shown(self, shown: bool) -> None:
        """Show or hide the legend; hidden, it takes no room."""
        self._shown = shown
        self.setVisible(shown)
        self._fix_height()

    def _fix_height(self) -> None:
        w = h = 0.0
        if self.items and self._shown:
            self.layout.invalidate()
            size = self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
            w, h = size.width(), size.height()
        self.setMinimumHeight(h)
        self.setMaximumHeight(h)
        # no width of its own (it must not widen the axes' columns): as wide as its entries
        # where the row allows, from the left
        self.setMinimumWidth(0)
        self.setPreferredWidth(0)
        self.setMaximumWidth(max(w, 1.0))
        self.updateGeometry()

    def addItem(self, item, name) -> None:  # noqa: N802
        super().addItem(item, name)
        self.fit_columns()

    def clear(self) -> None:
        super().clear()
        self.setColumnCount(1)
        self._fix_height()


# ---------------------------------------------------------------------------- plots
def new_plot(name: str, title: str, x: str, y: str, *, log_y: bool = False,
             legend: bool = True) -> pg.PlotWidget:
    """A white PlotWidget named ``name`` with :class:`AppAxis` axes labelled ``x`` and
    ``y``, a :class:`BelowLegend` (with ``legend``) and ``title`` that never widens it."""
    w = pg.PlotWidget()
    w.setObjectName(name)
    style_plot(w, legend=legend)
    set_title(w, title)
    w.setLabel("bottom", x)
    w.setLabel("left", y)
    if log_y:
        w.setLogMode(y=True)
    return w


def style_plot(plot: pg.PlotWidget | pg.PlotItem, legend: bool = True) -> pg.PlotItem:
    """Give an existing plot the app's look: :class:`AppAxis` axes (labels kept), a white
    background and, with ``legend``, a :class:`BelowLegend` (an old legend's entries move)."""
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    if isinstance(plot, pg.PlotWidget):
        plot.setBackground("w")
    for k in ("left", "bottom", "right", "top"):
        old = item.getAxis(k)
        if isinstance(old, AppAxis):
            continue
        axis = AppAxis(k)
        shown = old.isVisible()
        label, units = old.labelText, old.labelUnits
        item.setAxisItems({k: axis})
        axis.setVisible(shown)
        axis.setStyle()  # recompute its size now that it is hidden or shown (0 when hidden)
        if label or units:
            axis.setLabel(label, units)
        axis.setLogMode(item.ctrl.logXCheck.isChecked(), item.ctrl.logYCheck.isChecked())
    if legend and not isinstance(item.legend, BelowLegend):
        entries = [(s.item, l.text) for s, l in item.legend.items] if item.legend else []
        if item.legend is not None:
            item.legend.clear()
            if item.legend.scene() is not None:
                item.legend.scene().removeItem(item.legend)
        below = BelowLegend()
        below.attach(item)
        for curve, text in entries:
            below.addItem(curve, text)
    return item


class TitleLabel(pg.LabelItem):
    """A plot title whose text never sets a minimum width: pyqtgraph's does (again on every
    resize), so a long title made the whole plot wider than its widget, which clipped it."""

    def updateMin(self) -> None:  # noqa: N802 (pyqtgraph's name)
        super().updateMin()
        self.setMinimumWidth(0)
        self._sizeHint[Qt.SizeHint.MinimumSize] = (0, self._sizeHint[Qt.SizeHint.MinimumSize][1])


def set_title(plot: pg.PlotWidget | pg.PlotItem, title: str) -> None:
    """Set the title, in a :class:`TitleLabel` (put in place of pyqtgraph's the first time)."""
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    if not isinstance(item.titleLabel, TitleLabel):
        old = item.titleLabel
        item.layout.removeItem(old)
        if old.scene() is not None:
            old.scene().removeItem(old)
        item.titleLabel = TitleLabel("", size="11pt", parent=item)
        item.layout.addItem(item.titleLabel, 0, 1)
    item.setTitle(title)


def show_markers(curve: pg.PlotDataItem, n_points: int, symbol: str = "o",
                 size: int = 5) -> None:
    """Markers on ``curve`` while it has at most MAX_MARKED_POINTS points, none beyond; filled
    with the colour of the curve's pen."""
    wanted = symbol if 0 < n_points <= MAX_MARKED_POINTS else None
    pen = curve.opts.get("pen")
    color = pg.mkPen(pen).color() if pen is not None else pg.mkColor("k")
    if curve.opts.get("symbol") != wanted:
        if wanted is not None:
            curve.setSymbolBrush(color)
            curve.setSymbolPen(color)
            curve.setSymbolSize(size)
        curve.setSymbol(wanted)
        _repaint_legend(curve)
    elif wanted is not None and n_points and not getattr(curve, "_legend_has_markers", False):
        # the markers' brush reaches the legend's sample only with the first data
        curve._legend_has_markers = True
        _repaint_legend(curve)


def _repaint_legend(curve: pg.PlotDataItem) -> None:
    """A legend paints its samples from the curve's options but is not told they changed."""
    vb = curve.getViewBox()
    plot_item = vb.parentItem() if vb is not None else None
    legend = getattr(plot_item, "legend", None)
    if legend is not None:
        for sample, _ in legend.items:
            sample.update()


def faint_pen(color: str, width: float = 1.0) -> pg.QtGui.QPen:
    """The pen of a raw curve drawn behind its smoothed version."""
    # an opaque colour mixed with the white background, not a transparent one: blending every
    # pixel of thousands of segments made each redraw twice as slow in software rendering
    c = pg.mkColor(color)
    mix = 70 / 255
    faint = pg.QtGui.QColor(*(round(mix * v + (1 - mix) * 255) for v in c.getRgb()[:3]))
    return pg.mkPen(faint, width=width)


def axes(plot: pg.PlotWidget | pg.PlotItem) -> list[pg.AxisItem]:
    """The plot's four axes."""
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    return [item.getAxis(k) for k in ("left", "bottom", "right", "top")]


class SmoothedCurve:
    """A per-step curve in two items: ``curve`` (in the legend) shows the EMA of the values
    (:func:`desktop_nn.train.series.smooth`) when smoothing is on, with the raw values faint
    behind it in ``raw``; smoothing off, ``curve`` shows the raw values and ``raw`` is
    empty. ``log``: the plot's y axis is logarithmic (the average is then geometric)."""

    def __init__(self, plot: pg.PlotWidget, color: str, name: str, width: float = 1.5,
                 log: bool = False) -> None:
        self.name, self.log = name, log
        self.raw = plot.plot([], [], pen=faint_pen(color, width))
        self.raw.setZValue(-1)  # every raw curve under every smoothed one
        self.raw.opts["name"] = f"{name} (raw)"  # for CSV export; set after: not in the legend
        self.curve = plot.plot([], [], pen=pg.mkPen(color, width=width), name=name)

    def items(self) -> list[pg.PlotDataItem]:
        return [self.raw, self.curve]

    def set_data(self, x: np.ndarray, y: np.ndarray, smoothed: bool) -> None:
        """Show ``y`` (n,) against ``x`` (n,), smoothed or not."""
        if smoothed:
            self.raw.setData(x, y)
            self.curve.setData(x, smooth(y, log=self.log))
            self.curve.opts["name"] = f"{self.name} (smoothed)"
        else:
            self.raw.setData([], [])
            self.curve.setData(x, y)
            self.curve.opts["name"] = self.name
        # counted where there are values: an all-NaN curve (n/a) gets no markers to scatter
        show_markers(self.curve, int(np.count_nonzero(np.isfinite(y))))

    def setVisible(self, visible: bool) -> None:  # noqa: N802 (Qt's spelling)
        for item in self.items():
            item.setVisible(visible)


def quiet_color_bar(bar: pg.ColorBarItem) -> pg.ColorBarItem:
    """A colour bar's axes without SI-prefix scaling, its scale wide enough for its numbers
    and its label (pyqtgraph fixes it at 45 pixels, which cuts them)."""
    for k in ("left", "bottom", "right", "top"):
        bar.getAxis(k).enableAutoSIPrefix(False)
    if not bar.horizontal:
        bar.axis.setWidth(COLOR_BAR_AXIS_WIDTH)
    return bar
