"""The Activations tab and the diagnostics' display: the histograms the trainer counted are
what the heat map shows, and layers where a unit measure does not apply say so (no curve, a
note in the legend and the tooltip), never a flat 0."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QPushButton

from desktop_nn.nn.diagnostics import EXPLANATIONS, SATURATION_THRESHOLD, WINDOW_EXAMPLES


def find(window, name: str):
    w = window.findChild(QObject, name)
    assert w is not None, f"no widget named {name!r}"
    return w


def train(qtbot, window, epochs: int = 1) -> None:
    find(window, "epochsSpin").setValue(epochs)
    button = find(window, "startButton")
    assert isinstance(button, QPushButton)
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_activation_heat_map_shows_the_reported_histograms(qtbot, window):
    window.designer.set_layers([(20, "sigmoid"), (12, "relu")])
    view = window.activation_view
    window.tabs.setCurrentWidget(view)
    train(qtbot, window, epochs=2)
    combo = find(window, "activationLayerCombo")
    assert [combo.itemText(i) for i in range(combo.count())] == \
        ["layer 1 (sigmoid)", "layer 2 (relu)", "layer 3 (softmax)"]
    series = view.series
    assert series.n > 0 and series.n_layers == 3
    for index in (0, 1):
        combo.setCurrentIndex(index)
        image = view.shown_image()
        np.testing.assert_array_equal(image, series.shares(index + 1))
        np.testing.assert_allclose(image.sum(axis=1), 1.0)  # shares of each report
        rect = view.image.mapRectToParent(view.image.boundingRect())
        lo, hi = series.ranges[index]
        assert math.isclose(rect.top(), lo) and math.isclose(rect.bottom(), hi)
        assert rect.left() == series.step[0]
    assert series.ranges[0] == (0.0, 1.0) and series.ranges[1][0] == 0.0
    # the last report's histogram is the trainer's own
    last = window.workbench.trainer.history.steps[-1].step
    assert series.step[-1] == last
    assert view.redraws >= 2
    assert "pile up at 0 and 1" in find(window, "activationPlot").toolTip()


def test_the_activation_view_draws_nothing_while_hidden(qtbot, window):
    view = window.activation_view
    assert not view.isVisible()
    train(qtbot, window)
    assert view.series.n > 0  # kept, to draw when the tab is opened
    assert view.redraws == 0
    window.tabs.setCurrentWidget(view)
    assert view.redraws == 1 and view.shown_image() is not None


def test_units_plot_marks_layers_where_it_does_not_apply(qtbot, window):
    """Sample: [hidden sigmoid] -> softmax under cross-entropy. The output has no curve and
    its legend says n/a; the tooltip states the threshold, the window and the reason."""
    window.designer.set_layers([(20, "sigmoid"), (10, "leaky_relu")])
    train(qtbot, window, epochs=3)
    plots = window.plots
    names = [line.name for line in plots.saturation_lines]
    assert names == ["layer 1 (sigmoid): saturated", "layer 2 (leaky_relu): n/a",
                     "layer 3 (softmax): n/a"]
    for line in plots.saturation_lines[1:]:
        for curve in line.items():  # the smoothed curve and the faint raw one
            _, y = curve.getData()
            assert y is None or np.all(np.isnan(y))  # nothing drawn, not a flat 0
    tip = find(window, "saturationPlot").toolTip()
    assert f"{SATURATION_THRESHOLD:g}" in tip and str(WINDOW_EXAMPLES) in tip
    assert "cancels" in tip and "leaky ReLU" in tip
    find(window, "gradientModeCombo").setCurrentText("update ratio")
    assert find(window, "gradientPlot").toolTip() == EXPLANATIONS["update_ratio"]
