"""layer_stats and the unit window on hand-made numbers (the definitions of
docs/diagnostics.md; tests/test_diagnostics_definitions.py checks them on real training)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_nn.nn.diagnostics import (
    EXPLANATIONS,
    SATURATION_THRESHOLD,
    WINDOW_EXAMPLES,
    UnitWindow,
    layer_stats,
)
from desktop_nn.nn.network import Gradients, LayerCache, Network, NetworkSpec


def test_layer_stats_hand_made_numbers():
    """One layer, W before = [[3, 4]] (norm 5), dW = [[0.6, 0.8]] (norm 1), db = [[-2]]
    (norm 2), a step of norm 0.25: update ratio 0.05."""
    spec = NetworkSpec(2, [], [], 1, "sigmoid", "cross-entropy")
    net = Network(spec, dtype="float64", seed=None)
    net.set_parameters([np.array([[3.0, 4.0]])], [np.array([[0.0]])])
    cache = LayerCache(a_prev=np.zeros((2, 4)), z=np.zeros((1, 4)), a=np.full((1, 4), 0.5))
    grads = Gradients(dW=[np.array([[0.6, 0.8]])], db=[np.array([[-2.0]])])
    (row,), rest = layer_stats(net, [cache], grads, [np.asarray(0.0625)], [np.asarray(25.0)],
                               extra=[np.array([1.0, 2.0])])
    assert row.layer == 1
    assert row.grad_norm_W == pytest.approx(1.0, rel=1e-15)
    assert row.grad_norm_b == pytest.approx(2.0, rel=1e-15)
    assert row.update_ratio == pytest.approx(0.05, rel=1e-15)
    assert math.isnan(row.saturated_share) and math.isnan(row.dead_share)
    assert rest.tolist() == [1.0, 2.0]
    assert set(row.to_dict()) == {"layer", "grad_norm_W", "grad_norm_b", "update_ratio",
                                  "saturated_share", "dead_share"}


def test_unit_window_hand_made():
    """A tanh layer of 3 units and a relu layer of 2 over a window of 4 examples in 2
    batches: tanh unit 0 sits at |A| = 0.999 (g' = 0.002), unit 1 at 0 (g' = 1), unit 2 half
    and half; relu unit 0 is active in the second batch only, unit 1 never."""
    spec = NetworkSpec(2, [3, 2], ["tanh", "relu"], 2, "softmax", "cross-entropy")
    net = Network(spec, dtype="float64", seed=0)
    window = UnitWindow(net, window_examples=4)
    tanh_a = [np.array([[0.999, -0.999], [0.0, 0.0], [0.0, 0.0]]),
              np.array([[0.999, 0.999], [0.0, 0.0], [1.0, 1.0]])]
    relu_a = [np.zeros((2, 2)), np.array([[0.0, 3.0], [0.0, 0.0]])]
    out = np.full((2, 2), 0.5)
    for t, r in zip(tanh_a, relu_a, strict=True):
        assert not window.full
        window.observe(net, [LayerCache(None, np.arctanh(np.clip(t, -0.9999, 0.9999)), t),
                             LayerCache(None, r, r), LayerCache(None, out, out)])
    assert window.full and window.examples == 4
    host = [float(x) for x in window.shares(np)]
    sat, dead = host[0::2], host[1::2]
    # tanh unit 2: mean g' = (1 + 1 + 0 + 0) / 4 = 0.5: not saturated; unit 0: 0.002 < 0.04
    assert sat[0] == pytest.approx(1 / 3) and math.isnan(dead[0])
    assert dead[1] == pytest.approx(1 / 2) and math.isnan(sat[1])
    assert math.isnan(sat[2]) and math.isnan(dead[2])  # softmax output: n/a
    window.close(host)
    assert window.examples == 0 and window.closed == 1
    assert not window.active[1].any() and not window.derivative_sum[0].any()
    assert window.dead[1] == pytest.approx(0.5)


def test_explanations_state_the_thresholds():
    assert f"{SATURATION_THRESHOLD:g}" in EXPLANATIONS["units"]
    assert str(WINDOW_EXAMPLES) in EXPLANATIONS["units"]
    assert "after the step" in EXPLANATIONS["update_ratio"]
