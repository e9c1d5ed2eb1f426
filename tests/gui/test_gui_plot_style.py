"""Legible plots (issue 22, item 3): no axis rescaled with an SI prefix, log axes labelled at
decades, legends outside the data that follow the design, markers only for few points, the
EMA toggle, the heat map's colour bar, and no plot clipped at the default 1280 x 800."""

from __future__ import annotations

import math
import re

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication

from desktop_nn.examples import EXAMPLES
from desktop_nn.gui.plot_style import (
    MAX_MARKED_POINTS,
    AppAxis,
    BelowLegend,
    log_tick_label,
    log_ticks,
)
from desktop_nn.gui.plots import LivePlots
from desktop_nn.nn.diagnostics import LayerStats
from desktop_nn.train.history import EpochReport, StepReport
from desktop_nn.train.series import ema, smooth

DECADE = re.compile(r"^10[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+$")
MANTISSA = re.compile(r"^(\d(\.\d+)?×)?10[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+$")


# ---------------------------------------------------------------------------- helpers
def step_report(step: int, n_layers: int = 3, rng=None) -> StepReport:
    rng = rng or np.random.default_rng(step)
    layers = [LayerStats(l, grad_norm_W=float(10.0 ** (l - 5 + rng.normal())),
                         grad_norm_b=float(10.0 ** (l - 6 + rng.normal())),
                         update_ratio=1e-3 * l,
                         saturated_share=float(rng.uniform(0, 1)))
              for l in range(1, n_layers + 1)]
    return StepReport(epoch=1, step=step, batch_cost=float(2 + rng.normal()), layers=layers,
                      examples_seen=step, elapsed_s=1.0, examples_per_s=1.0, total_steps=0)


def epoch_report(epoch: int) -> EpochReport:
    return EpochReport(epoch=epoch, step=10 * epoch, train_cost=1 / epoch,
                       train_accuracy=1 - 1 / (epoch + 1), val_cost=1.1 / epoch,
                       val_accuracy=1 - 1.2 / (epoch + 2))


def plot_widgets(window) -> list[pg.PlotWidget]:
    return [w for w in window.findChildren(pg.PlotWidget) if w.isVisible()]


def all_axes(window) -> list[pg.AxisItem]:
    """Every axis in every graphics view of the window (plots, colour bars)."""
    out = []
    for view in window.findChildren(pg.GraphicsView):
        out += [i for i in view.scene().items() if isinstance(i, pg.AxisItem)]
    return out


def inside(widget, ancestor) -> bool:
    """``widget`` lies whole within each of its parents up to ``ancestor`` (a layout that has
    too little room places children past their parent's edge, where they are cut)."""
    w = widget
    while w is not ancestor and w.parentWidget() is not None:
        parent = w.parentWidget()
        if not parent.rect().contains(w.geometry()):
            return False
        w = parent
    return True


def check_every_plot(window, where: str) -> int:
    """Each tab in turn: no axis rescaled, log axes are AppAxis, no plot clipped."""
    checked = 0
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        for _ in range(3):
            QApplication.processEvents()
        for axis in all_axes(window):
            label = axis.labelString()
            assert not axis.autoSIPrefix, f"{where}: SI prefix on in {label!r}"
            assert axis.autoSIPrefixScale == 1.0 and axis.labelUnitPrefix == "", where
            assert "(x" not in label, f"{where}: a scale label {label!r}"
            if axis.logMode:
                assert isinstance(axis, AppAxis), f"{where}: a log axis not labelled at decades"
        for plot in plot_widgets(window):
            item = plot.getPlotItem()
            view = plot.viewport().rect()
            name = f"{where}, tab {window.tabs.tabText(index)}: {plot.objectName()}"
            assert item.geometry().width() <= view.width() + 0.5, f"{name} is clipped"
            assert item.geometry().height() <= view.height() + 0.5, f"{name} is clipped"
            assert inside(plot, window.tabs.currentWidget()), f"{name} is cut by its parents"
            checked += 1
    window.tabs.setCurrentIndex(0)
    return checked


# ---------------------------------------------------------------------------- log ticks
def test_log_ticks_are_decades_with_unlabelled_minor_ticks():
    major, minor = log_ticks(-5.3, -0.2, 400)  # 1e-5.3 .. 1e-0.2 over 400 pixels
    assert major == [-5.0, -4.0, -3.0, -2.0, -1.0]
    labels = [log_tick_label(v) for v in major]
    assert labels == ["10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹"]
    # minor ticks at 2..9 x 10^n, never labelled
    assert any(math.isclose(v, math.log10(2e-3)) for v in minor)
    assert not set(major) & set(minor)


def test_crowded_decades_are_thinned_and_labels_never_overlap():
    for lo, hi, px in ((-20, 5, 120), (-6, 0, 60), (-3, 3, 500), (-0.9, 0.7, 300)):
        major, _ = log_ticks(lo, hi, px, min_gap_px=24)
        assert len(major) >= 1
        gaps = np.diff(major) * px / (hi - lo)
        assert np.all(gaps >= 24), (lo, hi, px, major)
    major, minor = log_ticks(-20, 5, 120)
    assert all(v % 5 == 0 for v in major) or all(v % 10 == 0 for v in major)


def test_less_than_two_decades_label_1_2_5_then_round_values():
    major, _ = log_ticks(math.log10(1.5e-3), math.log10(9e-3), 200)  # one decade inside
    assert [log_tick_label(v) for v in major] == ["2×10⁻³", "5×10⁻³"]
    major, minor = log_ticks(math.log10(3.1e-3), math.log10(3.4e-3), 200)  # factor 1.1
    labels = [log_tick_label(v) for v in major]
    assert len(labels) >= 2 and all(MANTISSA.match(s) for s in labels), labels
    assert all(3.1e-3 <= 10 ** v <= 3.4e-3 for v in major)
    assert log_tick_label(math.log10(9.9999e-4)) == "10⁻³"  # rounding reaches the decade


def test_app_axis_on_a_log_plot_shows_only_power_labels(qtbot):
    plot = pg.PlotWidget(axisItems={"left": AppAxis("left")})
    qtbot.addWidget(plot)
    plot.setLogMode(y=True)
    plot.plot(np.arange(50), np.logspace(-5, 0, 50))
    plot.resize(400, 300)
    plot.show()
    qtbot.waitExposed(plot)
    axis = plot.getAxis("left")
    levels = axis.tickValues(axis.range[0], axis.range[1], 250)
    strings = [axis.tickStrings(values, 1.0, spacing) for spacing, values in levels]
    assert strings[0] and all(DECADE.match(s) for s in strings[0]), strings[0]
    assert all(s == [] for s in strings[1:])  # minor ticks: no labels (no 0.9, 0.8, 0.7)


# ---------------------------------------------------------------------------- the window
def test_no_axis_is_rescaled_and_no_plot_clipped_after_a_run_and_each_example(qtbot, window):
    assert (window.width(), window.height()) == (1280, 800)
    window.training_panel.epochs_spin.setValue(2)
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        assert window.start()
    window.plots.saturation_mode.setCurrentText("heat map")
    checked = check_every_plot(window, "after a run")
    window.plots.saturation_mode.setCurrentText("lines")
    for mode in ("update ratio", "||db||"):
        window.plots.gradient_mode.setCurrentText(mode)
        checked += check_every_plot(window, mode)
    for key in EXAMPLES:
        assert window.open_example(key)
        if window.slowdown_view is not None:
            qtbot.waitUntil(lambda: window.slowdown_view.job is None, timeout=20_000)
        checked += check_every_plot(window, f"example {key}")
    window.runs_view.metric_combo.setCurrentText("validation accuracy")
    assert window.runs_view.metric_combo.currentText() == "validation accuracy"
    checked += check_every_plot(window, "runs")
    assert checked >= 20  # the walk saw the plots


def test_a_huge_value_is_not_rescaled(qtbot, window):
    """A diverged run: ||db|| of 1e18 reads as 10¹⁸ on the axis, never "(x1e+18)"."""
    plots = window.plots
    plots.reset(2, ["sigmoid", "sigmoid"])
    for k in range(1, 6):
        r = step_report(k, 2)
        for stats in r.layers:
            stats.grad_norm_b = 10.0 ** (14 + k)
        plots.add([r], [])
    plots.gradient_mode.setCurrentText("||db||")
    plots.refresh()
    check_every_plot(window, "diverged")
    axis = plots.gradient_plot.getAxis("left")
    levels = axis.tickValues(axis.range[0], axis.range[1], 200)
    assert all(MANTISSA.match(s) for s in axis.tickStrings(levels[0][1], 1.0, levels[0][0]))


def test_legends_follow_the_design_at_once(qtbot, window):
    legend = window.plots.gradient_plot.getPlotItem().legend
    assert isinstance(legend, BelowLegend)
    assert window.open_example("vanishing-gradients")
    names = [label.text for _, label in legend.items]
    assert names == [f"layer {l} (sigmoid)" for l in range(1, 6)]  # before Start
    window.designer.set_layers([(20, "relu")])
    assert [label.text for _, label in legend.items] == ["layer 1 (relu)", "layer 2 (sigmoid)"]
    sat_legend = window.plots.saturation_plot.getPlotItem().legend
    assert len(sat_legend.items) == 2
    # a run's curves keep their run's legend until the next run starts
    window.training_panel.epochs_spin.setValue(1)
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        assert window.start()
    window.designer.set_layers([(20, "relu"), (10, "tanh")])
    assert len(legend.items) == 2


# ---------------------------------------------------------------------------- live plots
@pytest.fixture
def plots(qtbot):
    p = LivePlots()
    qtbot.addWidget(p)
    p.resize(700, 600)
    p.show()
    p.reset(3, ["sigmoid", "relu", "softmax"])
    return p


def test_markers_only_while_few_points(plots):
    plots.add([step_report(1)], [epoch_report(1)])
    plots.refresh()
    for curve in (plots.gradient_curves[0], plots.saturation_curves[2], plots.step_cost,
                  plots.train_acc, plots.epoch_val_cost):
        assert curve.opts["symbol"] is not None  # one point after one Step is visible
        assert len(curve.getData()[0]) == 1
    plots.add([step_report(k) for k in range(2, 2 + MAX_MARKED_POINTS)],
              [epoch_report(e) for e in range(2, 2 + MAX_MARKED_POINTS)])
    plots.refresh()
    for curve in (plots.gradient_curves[0], plots.step_cost, plots.train_acc, plots.val_acc):
        assert curve.opts["symbol"] is None  # many points: lines, not bands of markers


def test_smoothing_toggle_draws_the_ema_over_the_faint_raw_curve(plots):
    rng = np.random.default_rng(1)
    plots.add([step_report(k, rng=rng) for k in range(1, 200)], [])
    plots.refresh()
    s = plots.steps
    assert plots.smooth_check.isChecked()  # on by default
    raw_W = s.layer_values("grad_norm_W")
    line = plots.gradient_lines[1]
    np.testing.assert_allclose(10 ** line.raw.getData()[1], raw_W[1], rtol=1e-9)
    np.testing.assert_allclose(10 ** line.curve.getData()[1], smooth(raw_W[1], log=True),
                               rtol=1e-9)
    # faint: the line's colour mixed with the white background (opaque: cheap to draw)
    raw_rgb = line.raw.opts["pen"].color().getRgb()[:3]
    line_rgb = line.curve.opts["pen"].color().getRgb()[:3]
    assert all(r >= c for r, c in zip(raw_rgb, line_rgb, strict=True)) and raw_rgb != line_rgb
    assert sum(raw_rgb) > sum(line_rgb) + 200 and line.raw.zValue() < 0
    sat = s.layer_values("saturated_share")
    # the saturated / dead shares are window values (docs/diagnostics.md): never smoothed
    np.testing.assert_allclose(plots.saturation_curves[0].getData()[1], sat[0])
    np.testing.assert_allclose(plots.step_cost.getData()[1], ema(s.cost))
    # the raw curves never take a legend entry of their own
    assert len(plots.gradient_plot.getPlotItem().legend.items) == 3

    plots.smooth_check.setChecked(False)
    np.testing.assert_allclose(10 ** line.curve.getData()[1], raw_W[1], rtol=1e-9)
    assert len(line.raw.getData()[0] if line.raw.getData()[0] is not None else []) == 0
    np.testing.assert_allclose(plots.step_cost.getData()[1], s.cost)


def test_heat_map_has_a_colour_bar_whole_layer_numbers_and_no_line_legend(plots):
    plots.add([step_report(k) for k in range(1, 30)], [])
    legend = plots.saturation_plot.getPlotItem().legend
    assert legend.isVisible() and legend.maximumHeight() > 0
    plots.saturation_mode.setCurrentText("heat map")
    assert plots.saturation_bar.isVisible() and plots.saturation_image.isVisible()
    assert not legend.isVisible() and legend.maximumHeight() == 0
    axis = plots.saturation_plot.getAxis("left")
    ticks = axis._tickLevels[0]
    assert [v for v, _ in ticks] == [1.0, 2.0, 3.0] and [s for _, s in ticks] == ["1", "2", "3"]
    assert plots.saturation_plot.getViewBox().viewRange()[1] == pytest.approx([0.5, 3.5])
    plots.saturation_mode.setCurrentText("lines")
    assert not plots.saturation_bar.isVisible() and legend.isVisible()
    assert axis._tickLevels is None


def test_the_example_text_folds_away_and_gives_the_plots_room(qtbot, window):
    assert window.open_example("vanishing-gradients")
    panel = window.example_panel
    QApplication.processEvents()
    height = window.plots.gradient_plot.height()
    assert panel.is_expanded() and panel.text.isVisible()
    qtbot.mouseClick(panel.toggle_button, pg.QtCore.Qt.MouseButton.LeftButton)
    assert not panel.is_expanded() and not panel.text.isVisible() and panel.isVisible()
    qtbot.waitUntil(lambda: window.plots.gradient_plot.height() > height + 40, timeout=5000)
    qtbot.mouseClick(panel.toggle_button, pg.QtCore.Qt.MouseButton.LeftButton)
    assert panel.is_expanded() and panel.text.isVisible()


def test_every_tab_title_shows_at_1280x800(qtbot, window):
    """Nine tabs: with Qt's own padding the last ones hid behind scroll arrows."""
    assert (window.width(), window.height()) == (1280, 800)
    bar = window.tabs.tabBar()
    assert bar.count() == 9
    assert bar.sizeHint().width() <= window.tabs.width(), (bar.sizeHint().width(),
                                                           window.tabs.width())
