"""layer_stats against the definitions in diagnostics.py's docstring, computed independently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_nn.nn.diagnostics import layer_stats, saturation
from desktop_nn.nn.network import Gradients, LayerCache, Network, NetworkSpec


def _frobenius(a) -> float:
    return math.sqrt(sum(float(x) ** 2 for x in np.asarray(a).ravel()))


def _sat_by_loops(activation: str, A: np.ndarray) -> float:
    n, m = A.shape
    if activation == "sigmoid":
        return sum(A[i, j] * (1 - A[i, j]) < 0.01 for i in range(n) for j in range(m)) / (n * m)
    if activation == "tanh":
        return sum(abs(A[i, j]) > 0.99 for i in range(n) for j in range(m)) / (n * m)
    if activation == "relu":
        return sum(all(A[i, j] == 0 for j in range(m)) for i in range(n)) / n
    return 0.0


# ------------------------------------------------------------------ hand-made numbers


def test_saturation_hand_made():
    sig = np.array([[0.5, 0.999, 0.001, 0.98]])  # a(1-a): .25, .000999, .000999, .0196
    assert float(saturation("sigmoid", sig)) == pytest.approx(0.5)
    tanh = np.array([[0.995, -0.999], [0.5, -0.98]])
    assert float(saturation("tanh", tanh)) == pytest.approx(0.5)
    relu = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 3.0, 4.0]])
    assert float(saturation("relu", relu)) == pytest.approx(0.5)  # rows 0 and 2 dead
    for name in ("linear", "leaky_relu", "softmax"):
        assert float(saturation(name, relu)) == 0.0


def test_layer_stats_hand_made_numbers():
    """One layer, W = [[3, 4]] (norm 5), dW = [[0.6, 0.8]] (norm 1), db = [[-2]] (norm 2)."""
    spec = NetworkSpec(2, [], [], 1, "sigmoid", "cross-entropy")
    net = Network(spec, dtype="float64", seed=None)
    net.set_parameters([np.array([[3.0, 4.0]])], [np.array([[0.0]])])
    a = np.array([[0.5, 0.9999, 0.2, 0.00001]])
    cache = LayerCache(a_prev=np.zeros((2, 4)), z=np.zeros((1, 4)), a=a)
    grads = Gradients(dW=[np.array([[0.6, 0.8]])], db=[np.array([[-2.0]])])
    (row,) = layer_stats(net, [cache], grads, lr=0.1)
    assert row.layer == 1
    assert row.grad_norm_W == pytest.approx(1.0, rel=1e-15)
    assert row.grad_norm_b == pytest.approx(2.0, rel=1e-15)
    assert row.update_ratio == pytest.approx(0.1 * 1.0 / 5.0, rel=1e-15)
    assert row.saturation == pytest.approx(0.5)
    d = row.to_dict()
    assert set(d) == {"layer", "grad_norm_W", "grad_norm_b", "update_ratio", "saturation"}


# ------------------------------------------------------------------ a real pass


def _network(dtype: str) -> tuple[Network, np.ndarray, np.ndarray]:
    """sigmoid, tanh, relu hidden layers with big weights (so saturation is partial), two dead
    ReLU units forced by large negative biases, and a sigmoid output."""
    spec = NetworkSpec(4, [6, 5, 4], ["sigmoid", "tanh", "relu"], 2, "sigmoid", "cross-entropy")
    rng = np.random.default_rng(0)
    sizes = spec.sizes
    W = [3.0 * rng.standard_normal((sizes[i + 1], sizes[i])) for i in range(4)]
    b = [rng.standard_normal((sizes[i + 1], 1)) for i in range(4)]
    b[2][[0, 3]] = -100.0  # relu units 1 and 4 dead for every example
    net = Network(spec, dtype=dtype, seed=None)
    net.set_parameters(W, b)
    X = 2.0 * rng.standard_normal((4, 30))
    Y = (rng.random((2, 30)) < 0.5).astype(np.float64)
    return net, X, Y


def _forward_by_hand(net: Network, X: np.ndarray) -> list[np.ndarray]:
    W, b = net.get_parameters()
    funcs = {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0),
    }
    a, out = X.astype(np.float64), []
    for w, bb, name in zip(W, b, net.spec.activations, strict=True):
        a = funcs[name](w.astype(np.float64) @ a + bb)
        out.append(a)
    return out


def test_layer_stats_real_pass_float64():
    net, X, Y = _network("float64")
    _, caches = net.forward(X)
    grads = net.backward(caches, Y)
    lr = 0.3
    stats = layer_stats(net, caches, grads, lr)
    assert [s.layer for s in stats] == [1, 2, 3, 4]
    A_hand = _forward_by_hand(net, X)
    W, _ = net.get_parameters()
    for s, name, dW, db, w, a in zip(stats, net.spec.activations, grads.dW, grads.db, W, A_hand,
                                     strict=True):
        assert s.grad_norm_W == pytest.approx(_frobenius(dW), rel=1e-12)
        assert s.grad_norm_b == pytest.approx(_frobenius(db), rel=1e-12)
        assert s.update_ratio == pytest.approx(lr * _frobenius(dW) / _frobenius(w), rel=1e-12)
        assert s.saturation == pytest.approx(_sat_by_loops(name, a), abs=1e-12)
    # the set-up really exercises the saturation measures
    assert 0 < stats[0].saturation < 1  # sigmoid layer partly saturated
    assert 0 < stats[1].saturation < 1  # tanh layer partly saturated
    assert stats[2].saturation == pytest.approx(0.5)  # 2 of 4 relu units dead (only those)
    assert all(isinstance(getattr(s, f), float) for s in stats
               for f in ("grad_norm_W", "grad_norm_b", "update_ratio", "saturation"))


def test_layer_stats_float32_network():
    net, X, Y = _network("float32")
    _, caches = net.forward(X)
    grads = net.backward(caches, Y)
    stats = layer_stats(net, caches, grads, lr=0.1)
    for s, dW, w in zip(stats, grads.dW, net.W, strict=True):
        assert s.grad_norm_W == pytest.approx(_frobenius(dW), rel=1e-5)
        assert s.update_ratio == pytest.approx(0.1 * _frobenius(dW) / _frobenius(w), rel=1e-5)
    assert stats[2].saturation == pytest.approx(0.5)


def test_other_activations_report_zero_saturation():
    spec = NetworkSpec(3, [4, 4], ["leaky_relu", "linear"], 3, "softmax", "cross-entropy")
    net = Network(spec, dtype="float64", seed=1)
    X = np.random.default_rng(1).standard_normal((3, 5))
    _, caches = net.forward(X)
    grads = net.backward(caches, np.eye(3)[:, [0, 1, 2, 0, 1]])
    assert [s.saturation for s in layer_stats(net, caches, grads, 0.1)] == [0.0, 0.0, 0.0]
