"""Activations, their derivatives and the numerical safety of activations and costs."""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from desktop_nn.nn.activations import (
    ACTIVATIONS,
    HIDDEN_ACTIVATIONS,
    get_activation,
)
from desktop_nn.nn.costs import CrossEntropy, get_cost
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.nn.optimizers import make_optimizer

SIG = get_activation("sigmoid")
SOFTMAX = get_activation("softmax")


@contextlib.contextmanager
def strict_fp():
    """Turn every warning into an error, and raise on overflow / divide-by-zero / invalid.

    Underflow stays ignored (NumPy's default): exp(-1000) rounding to exactly 0 is the intended,
    harmless result that makes sigmoid(-1000) == 0, and it sets the IEEE underflow flag.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            yield


# ------------------------------------------------------------------ sigmoid


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_extremes_exact_and_silent(dtype):
    z = np.array([[1000.0, -1000.0, 0.0, 50.0, -800.0]], dtype=dtype)
    with strict_fp():
        a = SIG.forward(z)
    assert a.dtype == dtype
    assert a[0, 0] == 1.0 and a[0, 1] == 0.0 and a[0, 4] == 0.0
    assert a[0, 2] == 0.5
    assert np.isfinite(a).all()


def test_sigmoid_matches_closed_form_moderate():
    z = np.linspace(-30, 30, 600).reshape(3, -1)
    expected = 1.0 / (1.0 + np.exp(-z))
    np.testing.assert_allclose(SIG.forward(z), expected, rtol=1e-15, atol=1e-15)
    # and a few values computed with the math module
    for v in (-3.0, -0.5, 0.25, 2.0):
        assert float(SIG.forward(np.array([[v]]))[0, 0]) == pytest.approx(
            1 / (1 + math.exp(-v)), rel=1e-15, abs=1e-15)


def test_sigmoid_keeps_relative_accuracy_for_very_negative_z():
    """For z << 0, sigmoid(z) = e^z / (1 + e^z) ~ e^z: no cancellation as in 1 - sigmoid(-z)."""
    z = np.array([[-40.0, -100.0, -300.0, -700.0]])
    e = np.exp(z)
    np.testing.assert_allclose(SIG.forward(z), e / (1 + e), rtol=1e-14, atol=0)
    assert SIG.forward(np.array([[-745.0]]))[0, 0] > 0  # still a (subnormal) positive number


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (3, 4), elements=st.floats(-700, 700)))
def test_sigmoid_symmetry_and_range(z):
    with strict_fp():
        a = SIG.forward(z)
        b = SIG.forward(-z)
    assert ((a >= 0) & (a <= 1)).all()
    np.testing.assert_allclose(b, 1.0 - a, atol=5e-16, rtol=0)  # a few ulps of 0.5


# ------------------------------------------------------------------ softmax


def test_softmax_columns_sum_to_one_and_match_closed_form():
    z = np.array([[1.0, -2.0, 0.0], [2.0, 0.5, 0.0], [0.5, 3.0, 0.0]])
    a = SOFTMAX.forward(z)
    np.testing.assert_allclose(a.sum(axis=0), np.ones(3), rtol=0, atol=1e-15)
    e = np.exp(z)
    np.testing.assert_allclose(a, e / e.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(a[:, 2], [1 / 3] * 3, rtol=1e-15)


def test_softmax_stable_at_large_inputs():
    z = np.array([[1000.0, -1000.0, 1000.0], [999.0, -1001.0, -1000.0]])
    with strict_fp():
        a = SOFTMAX.forward(z)
    assert np.isfinite(a).all()
    p = 1 / (1 + math.exp(-1.0))  # softmax([t, t - 1]) = [p, 1 - p]
    np.testing.assert_allclose(a[:, 0], [p, 1 - p], rtol=1e-14)
    np.testing.assert_allclose(a[:, 1], [p, 1 - p], rtol=1e-14)
    np.testing.assert_array_equal(a[:, 2], [1.0, 0.0])


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, (4, 5), elements=st.floats(-20, 20)),
    arrays(np.float64, (1, 5), elements=st.floats(-500, 500)),
)
def test_softmax_invariant_to_per_column_constant(z, c):
    a = SOFTMAX.forward(z)
    np.testing.assert_allclose(a.sum(axis=0), 1.0, atol=1e-14)
    with strict_fp():
        shifted = SOFTMAX.forward(z + c)
    np.testing.assert_allclose(shifted, a, atol=1e-12, rtol=0)


def test_softmax_backward_matches_explicit_jacobian():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 6))
    da = rng.standard_normal((4, 6))
    a = SOFTMAX.forward(z)
    expected = np.empty_like(z)
    for i in range(z.shape[1]):
        col = a[:, i]
        J = np.diag(col) - np.outer(col, col)  # J[j, k] = d a_j / d z_k
        expected[:, i] = J.T @ da[:, i]
    np.testing.assert_allclose(SOFTMAX.backward(da, z, a), expected, rtol=1e-13, atol=1e-15)


def test_softmax_jacobian_formula_by_finite_differences():
    """The diag(a) - a a^T used above is itself the finite-difference Jacobian of forward."""
    z = np.array([[0.3], [-1.2], [2.0]])
    a = SOFTMAX.forward(z)[:, 0]
    h = 1e-6
    J_fd = np.empty((3, 3))
    for k in range(3):
        e = np.zeros((3, 1))
        e[k] = h
        J_fd[:, k] = (SOFTMAX.forward(z + e) - SOFTMAX.forward(z - e))[:, 0] / (2 * h)
    np.testing.assert_allclose(J_fd, np.diag(a) - np.outer(a, a), atol=1e-9)
    assert SOFTMAX.elementwise is False


# ------------------------------------------------------------------ elementwise derivatives

# Away from 0 so the ReLU kink is not straddled by the finite difference.
Z_GRID = np.concatenate([np.linspace(-4, -0.01, 40), np.linspace(0.01, 4, 40)]).reshape(8, 10)


@pytest.mark.parametrize("name", HIDDEN_ACTIVATIONS)
def test_elementwise_derivative_matches_finite_difference(name):
    g = get_activation(name)
    assert g.elementwise
    h = 1e-6
    fd = (g.forward(Z_GRID + h) - g.forward(Z_GRID - h)) / (2 * h)
    a = g.forward(Z_GRID)
    np.testing.assert_allclose(g.derivative(Z_GRID, a), fd, rtol=1e-7, atol=1e-9)
    da = np.random.default_rng(1).standard_normal(Z_GRID.shape)
    np.testing.assert_allclose(g.backward(da, Z_GRID, a), da * fd, rtol=1e-7, atol=1e-9)


def test_elementwise_forward_closed_forms():
    z = Z_GRID
    np.testing.assert_allclose(get_activation("tanh").forward(z), np.tanh(z), rtol=1e-15)
    np.testing.assert_array_equal(get_activation("relu").forward(z), np.where(z > 0, z, 0.0))
    np.testing.assert_allclose(get_activation("leaky_relu").forward(z),
                               np.where(z > 0, z, 0.01 * z), rtol=1e-15)
    np.testing.assert_array_equal(get_activation("linear").forward(z), z)
    assert set(ACTIVATIONS) == {"sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"}


def test_relu_backward_at_zero_is_zero_and_leaky_is_slope():
    z = np.array([[0.0, -1.0, 1.0]])
    da = np.array([[5.0, 5.0, 5.0]])
    relu, leaky = get_activation("relu"), get_activation("leaky_relu")
    np.testing.assert_array_equal(relu.backward(da, z, relu.forward(z)), [[0.0, 0.0, 5.0]])
    np.testing.assert_allclose(leaky.backward(da, z, leaky.forward(z)), [[0.05, 0.05, 5.0]])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "linear"])
def test_backward_is_da_times_the_derivative_to_the_bit(name):
    """dZ = dA * g'(Z), literally: each backward (ReLU's multiplies by its 0/1 mask) gives the
    bits of dA times ``derivative`` (-0.0 where dA < 0 is masked), and leaves dA unless it
    returns dA itself."""
    rng = np.random.default_rng(3)
    z = rng.standard_normal((7, 9)).astype(np.float32)
    z[0, :3] = 0.0
    da = rng.standard_normal((7, 9)).astype(np.float32)
    g = get_activation(name)
    a = g.forward(z)
    kept = da.copy()
    dz = g.backward(da, z, a)
    assert dz.dtype == np.float32
    expected = da * g.derivative(z, a)
    assert np.array_equal(dz.view(np.int32), expected.view(np.int32))  # bits, signs of 0 too
    if dz is not da:
        np.testing.assert_array_equal(da, kept)


def test_relu_backward_of_an_overflowed_da_is_nan_even_where_the_unit_is_off():
    """inf * 0 is NaN: an overflow in W^T dZ reaches db, so the NaN guard stops the run."""
    relu = get_activation("relu")
    z = np.array([[-1.0, 2.0, 0.0]], dtype=np.float32)
    with np.errstate(invalid="ignore"):  # as in the trainer, which reports it itself
        dz = relu.backward(np.array([[np.inf, np.inf, 1.0]], dtype=np.float32), z,
                           relu.forward(z))
    assert np.isnan(dz[0, 0]) and dz[0, 1] == np.inf and dz[0, 2] == 0.0


# ------------------------------------------------------------------ cross-entropy safety


def test_sigmoid_cross_entropy_finite_when_outputs_saturate():
    ce = CrossEntropy()
    z = np.array([[1000.0, -1000.0, 1000.0, -1000.0]])
    y = np.array([[1.0, 0.0, 0.0, 1.0]])
    with strict_fp():
        a = SIG.forward(z)
        J = float(ce.value(z, a, y, SIG))
        dz = ce.delta(z, a, y, SIG)
    np.testing.assert_array_equal(a, [[1.0, 0.0, 1.0, 0.0]])  # really exactly 0 and 1
    # per example: 0, 0, 1000, 1000 (-log(1 - s(1000)) = softplus(1000) = 1000)
    assert J == pytest.approx(2000.0 / 4, rel=1e-15)
    np.testing.assert_array_equal(dz, [[0.0, 0.0, 1.0, -1.0]])


def test_softmax_cross_entropy_finite_when_outputs_saturate():
    ce = CrossEntropy()
    z = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [0.0, 0.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    with strict_fp():
        a = SOFTMAX.forward(z)
        J = float(ce.value(z, a, y, SOFTMAX))
    assert a[1, 0] == 0.0  # a log of this would be -inf
    # example 1: right class, loss 0; example 2: lse - z_2 = 1000 - (-1000) = 2000
    assert J == pytest.approx(2000.0 / 2, rel=1e-15)


def test_cross_entropy_through_network_with_saturated_output():
    spec = NetworkSpec(1, [], [], 1, "sigmoid", "cross-entropy")
    net = Network(spec, dtype="float64", seed=None)
    net.set_parameters([np.array([[1000.0]])], [np.zeros((1, 1))])
    X = np.array([[1.0, -1.0]])
    Y = np.array([[0.0, 1.0]])  # both confidently wrong
    with strict_fp():
        A, caches = net.forward(X)
        J = float(net.cost_value(caches, Y))
        grads = net.backward(caches, Y)
    np.testing.assert_array_equal(A, [[1.0, 0.0]])
    assert J == pytest.approx(1000.0, rel=1e-15)
    np.testing.assert_allclose(grads.dW[0], [[(1.0 * 1 + (-1.0) * -1) / 2]])
    assert np.isfinite(grads.db[0]).all()


def test_cross_entropy_closed_form_moderate():
    rng = np.random.default_rng(4)
    z = rng.uniform(-5, 5, (3, 8))
    y = rng.random((3, 8))  # soft targets in [0, 1]
    a = 1 / (1 + np.exp(-z))
    expected = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / 8
    assert float(CrossEntropy().value(z, SIG.forward(z), y, SIG)) == pytest.approx(
        expected, rel=1e-13)
    ys = np.eye(3)[:, rng.integers(0, 3, 8)]
    e = np.exp(z)
    sm = e / e.sum(axis=0)
    expected = -np.sum(ys * np.log(sm)) / 8
    assert float(CrossEntropy().value(z, SOFTMAX.forward(z), ys, SOFTMAX)) == pytest.approx(
        expected, rel=1e-13)


def test_cross_entropy_rejects_other_outputs():
    ce = get_cost("ce")
    z = np.zeros((1, 2))
    with pytest.raises(ValueError):
        ce.value(z, z, z, get_activation("linear"))
    with pytest.raises(ValueError):
        ce.delta(z, z, z, get_activation("tanh"))


# ------------------------------------------------------------------ float32 stays float32


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize(
    "hidden,out,cost",
    [("relu", "softmax", "cross-entropy"), ("sigmoid", "sigmoid", "cross-entropy"),
     ("leaky_relu", "tanh", "quadratic"), ("tanh", "softmax", "quadratic"),
     ("linear", "linear", "quadratic")],
)
def test_float32_network_stays_float32(opt, hidden, out, cost):
    f32 = np.dtype(np.float32)
    spec = NetworkSpec(4, [5, 3], [hidden], 3, out, cost)
    net = Network(spec, dtype="float32", seed=1)
    assert all(w.dtype == f32 for w in net.W) and all(b.dtype == f32 for b in net.b)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((4, 7))  # float64 input gets cast
    Y = np.eye(3)[:, rng.integers(0, 3, 7)]
    A, caches = net.forward(X)
    assert A.dtype == f32
    assert all(c.z.dtype == f32 and c.a.dtype == f32 and c.a_prev.dtype == f32 for c in caches)
    assert np.asarray(net.cost_value(caches, Y, l2=0.1, n=20)).dtype == f32
    grads = net.backward(caches, Y, l2=0.1, n=20)
    assert all(g.dtype == f32 for g in grads.dW + grads.db)
    optimizer = make_optimizer(opt, 0.01)
    before = [w.copy() for w in net.W]
    for _ in range(2):
        optimizer.step(net, grads)
    assert all(w.dtype == f32 for w in net.W) and all(b.dtype == f32 for b in net.b)
    assert any(not np.array_equal(w, w0) for w, w0 in zip(net.W, before, strict=True))
    assert net.predict_proba(X).dtype == f32


def test_float32_cost_with_float64_targets():
    """cost_value casts Y to the network's dtype (and device), as backward does."""
    spec = NetworkSpec(2, [], [], 1, "sigmoid", "cross-entropy")
    net = Network(spec, dtype="float32", seed=0)
    _, caches = net.forward(np.ones((2, 3)))
    assert np.asarray(net.cost_value(caches, np.ones((1, 3)))).dtype == np.float32
