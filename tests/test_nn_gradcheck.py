"""Finite-difference gradient checks of the hand-written backprop, in float64.

Every hidden activation x every valid (output activation, cost) pair x 1, 2 and 4 hidden layers,
with and without L2. Parameters are drawn here (W ~ N(0, 1), b ~ N(0, 0.5^2)), not by init.py, and
the seed is chosen deterministically so that no pre-activation is within 1e-3 of the ReLU kink and
no layer's gradient is vanishingly small (which would make the relative error meaningless).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from desktop_nn.nn import activations as acts
from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS
from desktop_nn.nn.costs import VALID_PAIRS
from desktop_nn.nn.gradcheck import gradcheck
from desktop_nn.nn.network import Network, NetworkSpec

# eps = 1e-5 gives a worst case of ~1.1e-8 over the whole grid below; eps = 1e-6 gives ~6.5e-8
# (rounding of J divided by a smaller step), so 1e-5 is the comfortable choice.
EPS = 1e-5
TOL = 1e-7
N_X, N_OUT, M = 4, 3, 6
DEPTHS = {1: [5], 2: [4, 3], 4: [5, 4, 3, 4]}
PAIRS = [(out, cost) for out, costs in VALID_PAIRS.items() for cost in costs]
L2_CASES = [(0.0, None), (0.7, 50)]


def _targets(out: str, cost: str, rng: np.random.Generator) -> np.ndarray:
    if out == "softmax" and cost == "cross-entropy":
        return np.eye(N_OUT)[:, rng.integers(0, N_OUT, M)]
    if out == "sigmoid" and cost == "cross-entropy":
        return (rng.random((N_OUT, M)) < 0.5).astype(np.float64)
    if out in ("sigmoid", "softmax"):
        return rng.random((N_OUT, M))
    if out == "tanh":
        return rng.uniform(-0.9, 0.9, (N_OUT, M))
    return rng.standard_normal((N_OUT, M))


def _setup(hidden: str, out: str, cost: str, depth: int):
    """A float64 network and (X, Y) away from ReLU kinks and with non-vanishing gradients."""
    spec = NetworkSpec(N_X, DEPTHS[depth], [hidden], N_OUT, out, cost)
    for seed in range(200):
        rng = np.random.default_rng(seed)
        sizes = spec.sizes
        W = [rng.standard_normal((sizes[i + 1], sizes[i])) for i in range(len(sizes) - 1)]
        b = [0.5 * rng.standard_normal((sizes[i + 1], 1)) for i in range(len(sizes) - 1)]
        X = rng.standard_normal((N_X, M))
        Y = _targets(out, cost, rng)
        net = Network(spec, dtype="float64", seed=None)
        net.set_parameters(W, b)
        _, caches = net.forward(X)
        if min(float(np.abs(c.z).min()) for c in caches) < 1e-3:
            continue
        grads = net.backward(caches, Y)
        if min(float(np.linalg.norm(dw)) for dw in grads.dW) < 1e-3:
            continue
        return net, X, Y
    raise AssertionError(f"no usable seed for {hidden}/{out}/{cost}/{depth}")


@pytest.mark.parametrize("l2,n", L2_CASES, ids=["no-l2", "l2"])
@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("out,cost", PAIRS, ids=[f"{o}+{c}" for o, c in PAIRS])
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_gradcheck_passes(hidden, out, cost, depth, l2, n):
    net, X, Y = _setup(hidden, out, cost, depth)
    W_before, b_before = net.get_parameters()
    results = gradcheck(net, X, Y, l2=l2, n=n, eps=EPS)
    assert [r.layer for r in results] == list(range(1, net.spec.n_layers + 1))
    for r, w, bb in zip(results, net.W, net.b, strict=True):
        assert r.n_params == w.size + bb.size  # every entry was checked
        assert r.relative_error < TOL, (r.layer, r.relative_error)
    # gradcheck restores the parameters exactly
    W_after, b_after = net.get_parameters()
    for x, y in zip(W_before + b_before, W_after + b_after, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.gpu
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_gradcheck_passes_on_the_gpu(hidden):
    """The same grid with the network on CuPy (its fused kernels included), in float64."""
    from desktop_nn.backend import select_backend

    gpu = select_backend("gpu")
    for (out, cost), depth, (l2, n) in itertools.product(PAIRS, sorted(DEPTHS), L2_CASES):
        net, X, Y = _setup(hidden, out, cost, depth)
        results = gradcheck(net.to(gpu), X, Y, l2=l2, n=n, eps=EPS)
        for r in results:
            assert r.relative_error < TOL, (out, cost, depth, l2, r.layer, r.relative_error)


def test_grid_covers_every_pair():
    assert set(HIDDEN_ACTIVATIONS) == {"sigmoid", "tanh", "relu", "leaky_relu", "linear"}
    assert set(PAIRS) == {
        ("sigmoid", "cross-entropy"), ("softmax", "cross-entropy"),
        ("sigmoid", "quadratic"), ("softmax", "quadratic"),
        ("linear", "quadratic"), ("tanh", "quadratic"),
    }


def test_l2_gradient_is_checked_against_the_l2_cost():
    """With L2 the backprop gradient really differs from the plain one, and both check."""
    net, X, Y = _setup("tanh", "sigmoid", "cross-entropy", 2)
    _, caches = net.forward(X)
    plain = net.backward(caches, Y)
    reg = net.backward(caches, Y, l2=0.7, n=50)
    assert all(not np.allclose(a, b) for a, b in zip(plain.dW, reg.dW, strict=True))
    assert max(r.relative_error for r in gradcheck(net, X, Y, l2=0.7, n=50, eps=EPS)) < TOL


# ---------------------------------------------------------------- the check can fail


def test_gradcheck_detects_wrong_activation_derivative(monkeypatch):
    net, X, Y = _setup("tanh", "sigmoid", "cross-entropy", 2)
    assert max(r.relative_error for r in gradcheck(net, X, Y, eps=EPS)) < TOL
    monkeypatch.setattr(acts.Tanh, "derivative", lambda self, z, a: 2.0 * (1.0 - a * a))
    results = gradcheck(net, X, Y, eps=EPS)
    errs = [r.relative_error for r in results]
    # layers 1 and 2 sit below a tanh layer, so their gradients are wrong; layer 3 is not.
    assert errs[0] > 1e-3 and errs[1] > 1e-3, errs
    assert errs[2] < TOL, errs


def test_gradcheck_detects_elementwise_softmax_backward(monkeypatch):
    """The classic bug: treating softmax as elementwise (dZ = dA * a(1-a)) with quadratic cost."""
    net, X, Y = _setup("sigmoid", "softmax", "quadratic", 1)
    assert max(r.relative_error for r in gradcheck(net, X, Y, eps=EPS)) < TOL
    monkeypatch.setattr(acts.Softmax, "backward", lambda self, da, z, a: da * a * (1.0 - a))
    errs = [r.relative_error for r in gradcheck(net, X, Y, eps=EPS)]
    assert min(errs) > 1e-3, errs


def test_gradcheck_detects_missing_l2_term(monkeypatch):
    """If backward forgot lambda/n W while the cost has the L2 term, every layer fails."""
    net, X, Y = _setup("relu", "linear", "quadratic", 1)
    original = Network.backward

    def no_l2(self, caches, Y, l2=0.0, n=None):
        return original(self, caches, Y, 0.0, n)

    monkeypatch.setattr(Network, "backward", no_l2)
    errs = [r.relative_error for r in gradcheck(net, X, Y, l2=0.7, n=50, eps=EPS)]
    assert min(errs) > 1e-3, errs


@pytest.mark.parametrize("hidden,depth", list(itertools.product(["relu", "leaky_relu"], [1, 4])))
def test_relu_setups_are_away_from_the_kink(hidden, depth):
    net, X, _ = _setup(hidden, "linear", "quadratic", depth)
    _, caches = net.forward(X)
    assert min(float(np.abs(c.z).min()) for c in caches) >= 1e-3
    # and the ReLU layers are not all dead: some units are active, some are not
    hidden_a = np.concatenate([c.a.ravel() for c in caches[:-1]])
    assert (hidden_a > 0).any()


# ---------------------------------------------------------------- order-4 stencil and kinks


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_order4_stencil_passes_on_deep_nets(hidden):
    net, X, Y = _setup(hidden, "sigmoid", "cross-entropy", 4)
    results = gradcheck(net, X, Y, eps=1e-3, order=4)
    assert max(r.relative_error for r in results) < TOL
    # with the same large eps the order-2 estimate is visibly worse (O(eps^2) truncation)
    coarse = gradcheck(net, X, Y, eps=1e-3, order=2)
    assert max(r.relative_error for r in coarse) > 10 * max(r.relative_error for r in results)


def test_gradcheck_rejects_bad_order():
    net, X, Y = _setup("tanh", "linear", "quadratic", 1)
    with pytest.raises(ValueError):
        gradcheck(net, X, Y, order=3)


def test_gradcheck_counts_relu_kinks():
    net, X, Y = _setup("relu", "linear", "quadratic", 1)
    assert all(r.kinks == 0 for r in gradcheck(net, X, Y, eps=EPS))
    # put Z[1] of hidden unit 0 at exactly 0 for every example: W row 0 = 0, b = 0
    W, b = net.get_parameters()
    W[0][0] = 0.0
    b[0][0] = 0.0
    net.set_parameters(W, b)
    results = gradcheck(net, X, Y, eps=EPS)
    assert results[0].kinks == M
    assert results[1].kinks == 0  # the output layer is linear: no kink to count
