"""File > Examples in the window: the learning slowdown tab and the vanishing gradients
setup."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject


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
    assert "Learning slowdown" in view.explanation.text.toPlainText()


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
