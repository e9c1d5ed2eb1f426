"""The Math tab's gradient check without Qt (inspect/gradient_check.py): the snapshot it
works on, progress, and the examples at a ReLU kink it leaves out."""

from __future__ import annotations

import numpy as np

from desktop_nn.inspect import gradient_check
from desktop_nn.inspect.gradient_check import CheckProblem
from desktop_nn.nn.network import Network, NetworkSpec


def _problem(m=24):
    """A small float32 network [4, 5, 3] with random data, as the main window would hold."""
    spec = NetworkSpec(4, [5], ["tanh"], 3, "softmax", "cross-entropy", bias_init="normal")
    net = Network(spec, seed=3)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, m)).astype(np.float32)
    Y = np.eye(3)[:, rng.integers(0, 3, m)].astype(np.float32)
    return CheckProblem(net, X, Y)


def test_snapshot_is_a_small_float64_copy():
    p = _problem(m=100)
    snap = gradient_check.snapshot(p)
    assert snap.X.shape == (4, gradient_check.CANDIDATES) and snap.X.dtype == np.float64
    assert snap.Y.shape == (3, gradient_check.CANDIDATES)
    assert all(w.dtype == np.float64 for w in snap.W + snap.b)
    snap.W[0][...] = 0
    assert np.abs(p.network.get_parameters()[0][0]).sum() > 0
    progress = []
    run = gradient_check.check_gradients(snap, progress=lambda done, total: progress.append(
        (done, total)))
    assert run.examples == gradient_check.MAX_EXAMPLES and run.skipped == 0
    assert progress and all(0 < d <= t for d, t in progress)


def test_examples_at_a_relu_kink_are_left_out_and_said():
    """Zero biases and a black image give Z[1] = 0 exactly: finite differences straddle the
    kink there, so such examples are left out; when there are only those, the verdict says
    why the check fails."""
    spec = NetworkSpec(6, [5], ["relu"], 1, "sigmoid", "cross-entropy")
    net = Network(spec, seed=0)
    rng = np.random.default_rng(2)
    X = rng.random((6, 10)).astype(np.float32)
    X[:, [0, 3]] = 0  # two black images
    Y = rng.integers(0, 2, (1, 10)).astype(np.float32)
    bad = gradient_check.check_gradients(gradient_check.snapshot((net, X[:, [0, 3]],
                                                                  Y[:, [0, 3]])))
    assert bad.skipped == 0 and bad.checks[0].kinks > 0  # only kinks: checked anyway
    assert not gradient_check.passes(bad.checks[0])
    assert "kink" in gradient_check.verdict(bad.checks)
    run = gradient_check.check_gradients(gradient_check.snapshot((net, X, Y)))
    assert run.skipped == 2 and run.examples == 8
    assert all(gradient_check.passes(c) for c in run.checks)
