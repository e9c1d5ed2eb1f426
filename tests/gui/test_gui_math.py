"""The Math tab (pytest-qt, offscreen): equations of the design, and the background gradient
check with its per-layer table, pass/fail marks and status."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt

from desktop_nn.gui import math_view
from desktop_nn.gui.math_view import FAIL, PASS, CheckProblem, MathView
from desktop_nn.nn.gradcheck import LayerCheck
from desktop_nn.nn.network import Network, NetworkSpec

TIMEOUT = 10_000


@pytest.fixture
def view(qtbot):
    v = MathView()
    qtbot.addWidget(v)  # closed after the test: closeEvent waits for a running check
    v.show()
    return v


def _problem(out="softmax", cost="cross-entropy", act="tanh", m=24, l2=0.0):
    """A small float32 network [4, 5, 3] with random data, as the main window would hold."""
    spec = NetworkSpec(4, [5], [act], 3, out, cost, bias_init="normal")
    net = Network(spec, seed=3)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, m)).astype(np.float32)
    Y = np.eye(3)[:, rng.integers(0, 3, m)].astype(np.float32)
    return CheckProblem(net, X, Y, l2, n=100 if l2 else None)


def _run(qtbot, view) -> list[LayerCheck]:
    with qtbot.waitSignal(view.gradcheck_finished, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(view.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.button.isEnabled(), timeout=TIMEOUT)
    return blocker.args[0]


def _column(view, col: int) -> list[str]:
    return [view.table.item(r, col).text() for r in range(view.table.rowCount())]


def test_object_names(view):
    for name in ("equationsText", "gradcheckButton", "gradcheckTable", "gradcheckStatusLabel"):
        assert view.findChild(QObject, name) is not None, name
    assert view.objectName() == "mathView"
    assert view.findChild(QObject, "gradcheckButton").text() == "Check gradients"


def test_set_spec_shows_the_equations(view):
    assert "Design a network" in view.text.toPlainText()
    spec = NetworkSpec(12288, [20, 7, 5], ["relu"], 1, "sigmoid", "cross-entropy")
    view.set_spec(spec)
    text = view.text.toPlainText()
    assert "Z[1] = W[1] X + b[1]" in text
    assert "(20, m) = (20, 12288)(12288, m) + (20, 1)" in text
    assert "dZ[4] = A[4] - Y" in text
    assert "Layer 4 backward" in text and "(λ/n)" not in text
    view.set_spec(spec, batch_label="32", l2=0.1)
    text = view.text.toPlainText()
    assert "(20, 32) = (20, 12288)(12288, 32) + (20, 1)" in text and "(λ/n) W[1]" in text
    view.set_spec(None)
    assert "Design a network" in view.text.toPlainText()


def test_button_needs_a_source(view):
    assert not view.button.isEnabled()
    view.set_check_source(_problem)
    assert view.button.isEnabled()
    view.set_check_source(None)
    assert not view.button.isEnabled()
    assert view.run_gradcheck() is False


def test_correct_backprop_passes_every_layer(qtbot, view):
    problem = _problem(l2=0.3)
    before = problem.network.get_parameters()
    view.set_check_source(lambda: problem)
    results = _run(qtbot, view)
    assert [r.layer for r in results] == [1, 2]
    assert all(math_view.passes(r) for r in results)
    assert view.table.rowCount() == 2
    assert _column(view, 0) == ["1", "2"]
    assert _column(view, 4) == [PASS, PASS]
    assert _column(view, 2) == ["25", "18"]  # every entry of W and b of these small layers
    assert view.status.text().startswith("all layers pass")
    assert view.job is None
    # the source network is untouched (float32, same values)
    after = problem.network.get_parameters()
    assert problem.network.dtype == np.float32
    for x, y in zip(before[0] + before[1], after[0] + after[1], strict=True):
        np.testing.assert_array_equal(x, y)


def test_a_tuple_source_and_quadratic_cost(qtbot, view):
    p = _problem(out="sigmoid", cost="quadratic", act="sigmoid")
    view.set_check_source(lambda: (p.network, p.X, p.Y, 0.0))
    results = _run(qtbot, view)
    assert _column(view, 4) == [PASS, PASS], results


def test_wrong_backprop_fails(qtbot, view, monkeypatch):
    backward = Network.backward

    def wrong(self, caches, Y, l2=0.0, n=None):
        grads = backward(self, caches, Y, l2, n)
        grads.dW[0] = grads.dW[0] * 1.5  # layer 1 only
        return grads

    monkeypatch.setattr(Network, "backward", wrong)
    view.set_check_source(_problem)
    results = _run(qtbot, view)
    assert results[0].relative_error > 1e-2
    assert _column(view, 4) == [FAIL, PASS]
    assert view.status.text().startswith("layer 1 fails")


def test_button_disabled_while_running(qtbot, view, monkeypatch):
    gate = threading.Event()
    real = math_view.check_gradients

    def gated(snap, *args):
        gate.wait(TIMEOUT / 1000)
        return real(snap, *args)

    monkeypatch.setattr(math_view, "check_gradients", gated)
    view.set_check_source(_problem)
    with qtbot.waitSignal(view.gradcheck_started, timeout=TIMEOUT):
        qtbot.mouseClick(view.button, Qt.MouseButton.LeftButton)
    assert view.is_checking()
    assert not view.button.isEnabled()
    assert view.status.text().startswith("running")
    assert view.run_gradcheck() is False  # one check at a time
    with qtbot.waitSignal(view.gradcheck_finished, timeout=TIMEOUT):
        gate.set()
    qtbot.waitUntil(lambda: view.button.isEnabled(), timeout=TIMEOUT)
    assert not view.is_checking()


def test_shutdown_during_a_check_cancels_it(qtbot, view, monkeypatch):
    started = threading.Event()
    real = math_view.check_gradients

    def slow(snap, cancel, *args):
        started.set()
        cancel.wait(TIMEOUT / 1000)  # until shutdown cancels
        return real(snap, cancel, *args)  # raises Cancelled at its first forward pass

    monkeypatch.setattr(math_view, "check_gradients", slow)
    view.set_check_source(_problem)
    assert view.run_gradcheck()
    assert started.wait(5)
    job = view.job
    view.shutdown()
    assert not job.is_running()
    qtbot.waitUntil(lambda: not view.is_checking(), timeout=TIMEOUT)
    assert view.status.text() == "check cancelled"
    assert view.button.isEnabled()


def test_source_problems_are_reported(qtbot, view):
    view.set_check_source(lambda: None)
    assert view.run_gradcheck() is False
    assert view.status.text().startswith("nothing to check")
    p = _problem()
    view.set_check_source(lambda: (p.network, p.X[:3], p.Y, 0.0))  # X has the wrong n_x
    with qtbot.waitSignal(view.gradcheck_failed, timeout=TIMEOUT):
        assert view.run_gradcheck() is False
    assert view.status.text().startswith("cannot check")
    assert view.button.isEnabled()


def test_examples_at_a_relu_kink_are_left_out(qtbot, view):
    """Zero biases and a black image give Z[1] = 0 exactly: finite differences straddle the
    kink there, so such examples are not used."""
    spec = NetworkSpec(6, [5], ["relu"], 1, "sigmoid", "cross-entropy")
    net = Network(spec, seed=0)
    rng = np.random.default_rng(2)
    X = rng.random((6, 10)).astype(np.float32)
    X[:, [0, 3]] = 0  # two black images
    Y = rng.integers(0, 2, (1, 10)).astype(np.float32)
    bad = math_view.check_gradients(math_view.snapshot((net, X[:, [0, 3]], Y[:, [0, 3]])))
    assert bad.skipped == 0 and bad.checks[0].kinks > 0  # only kinks: checked anyway
    assert not math_view.passes(bad.checks[0])
    assert "kink" in math_view.verdict(bad.checks)
    view.set_check_source(lambda: (net, X, Y, 0.0))
    results = _run(qtbot, view)
    assert all(math_view.passes(r) for r in results)
    assert "8 examples (2 left out: at a ReLU kink)" in view.status.text()


def test_a_new_design_clears_old_results(qtbot, view):
    view.set_check_source(_problem)
    view.set_spec(_problem().network.spec)
    _run(qtbot, view)
    assert view.table.rowCount() == 2
    view.set_spec(_problem().network.spec, batch_label="8")  # same design: kept
    assert view.table.rowCount() == 2
    view.set_spec(NetworkSpec(4, [6], ["relu"], 3, "softmax", "cross-entropy"))
    assert view.table.rowCount() == 0 and view.status.text() == ""
