"""File > Examples: the learning slowdown (core and tab) and the vanishing gradients setup."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from desktop_nn.examples import EXAMPLES, learning_slowdown


def test_learning_slowdown_quadratic_is_slow_cross_entropy_is_fast():
    c = learning_slowdown(epochs=300)
    quad, xent = c.cost["quadratic"], c.cost["cross-entropy"]
    assert len(quad) == len(xent) == 301 and c.epochs[-1] == 300
    # a saturated start: the quadratic cost hardly moves for the first 50 epochs ...
    assert quad[50] > 0.95 * quad[0]
    # ... while cross-entropy has already done most of its learning
    assert xent[50] < 0.05 * xent[0]
    assert c.output["quadratic"][0] == c.output["cross-entropy"][0] > 0.98  # sigma(4)
    assert c.output["cross-entropy"][-1] < c.output["quadratic"][-1] < 0.5


def test_learning_slowdown_matches_the_update_rule_by_hand():
    """One epoch of plain gradient descent on one example, computed by hand."""
    c = learning_slowdown(epochs=1, eta=0.15, w=2.0, b=2.0)
    a = 1 / (1 + np.exp(-4.0))
    delta = {"quadratic": (a - 0) * a * (1 - a), "cross-entropy": a - 0}
    for cost, d in delta.items():
        w, b = 2.0 - 0.15 * d, 2.0 - 0.15 * d  # x = 1: dW = db = delta
        a1 = 1 / (1 + np.exp(-(w + b)))
        assert abs(c.output[cost][1] - a1) < 1e-12


def test_every_example_has_an_explanation():
    for e in EXAMPLES.values():
        assert e.title and len(e.explanation) > 200


def test_vanishing_gradients_example_shows_the_early_layers_learning_slower(qtbot, window):
    assert window.open_example("vanishing-gradients")
    assert window.designer.layers() == [(30, "sigmoid")] * 4
    assert window.designer.output_combo.currentText() == "sigmoid"
    panel = window.findChild(QObject, "exampleExplanation")
    assert panel.isVisible() and "Vanishing gradients" in panel.toPlainText()
    assert window.plots.gradient_mode.currentText() == "||db||"
    window.training_panel.epochs_spin.setValue(1)
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        assert window.start()
    db = window.plots.steps.layer_values("grad_norm_b")  # (layers, steps)
    first, last_hidden = np.nanmean(db[0]), np.nanmean(db[3])
    assert first < last_hidden / 10  # ~100x in the book, at initialisation


def test_learning_slowdown_example_tab(qtbot, window):
    with qtbot.waitSignal(window.tabs.currentChanged, timeout=5000):
        pass_through = window.open_example("learning-slowdown")
    assert pass_through
    view = window.slowdown_view
    qtbot.waitUntil(lambda: view.curves is not None and view.job is None, timeout=20_000)
    assert window.tabs.currentWidget() is view
    quad_x, quad_y = view.lines["quadratic"][0].getData()
    xent_x, xent_y = view.lines["cross-entropy"][0].getData()
    assert len(quad_x) == len(xent_x) == 301
    assert "Learning slowdown" in view.explanation.text()
