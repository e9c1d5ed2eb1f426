"""Backprop against quantities written out by hand (plain NumPy or scalar arithmetic), float64."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_nn.nn.network import Network, NetworkSpec

RTOL = 1e-12
ATOL = 1e-14


def _net(spec: NetworkSpec, W, b) -> Network:
    net = Network(spec, dtype="float64", seed=None)
    net.set_parameters([np.asarray(w, dtype=np.float64) for w in W],
                       [np.asarray(x, dtype=np.float64).reshape(-1, 1) for x in b])
    return net


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _close(actual, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol)


# ------------------------------------------------------------ (a) logistic regression

X_LR = np.array([[0.5, -1.0, 2.0, 0.0, 1.5],
                 [1.0, 0.25, -0.5, -2.0, 0.75],
                 [-0.3, 0.8, 0.1, 1.2, -1.1]])
Y_LR = np.array([[1.0, 0.0, 1.0, 0.0, 1.0]])
W_LR = np.array([[0.2, -0.5, 0.1]])
B_LR = np.array([0.3])


def test_logistic_regression_gradients_and_cost():
    spec = NetworkSpec(3, [], [], 1, "sigmoid", "cross-entropy")
    net = _net(spec, [W_LR], [B_LR])
    A, caches = net.forward(X_LR)
    grads = net.backward(caches, Y_LR)
    J = float(net.cost_value(caches, Y_LR))

    m = X_LR.shape[1]
    z = W_LR @ X_LR + B_LR.reshape(1, 1)
    a = _sigmoid(z)
    dZ = a - Y_LR
    _close(A, a)
    _close(grads.dW[0], dZ @ X_LR.T / m)
    _close(grads.db[0], np.array([[dZ.mean()]]))
    _close(J, -np.mean(Y_LR * np.log(a) + (1 - Y_LR) * np.log(1 - a)))
    assert grads.dW[0].shape == (1, 3) and grads.db[0].shape == (1, 1)


def test_logistic_regression_one_example_by_scalars():
    """m = 1, two inputs: every number written out."""
    spec = NetworkSpec(2, [], [], 1, "sigmoid", "cross-entropy")
    net = _net(spec, [[[0.4, -0.7]]], [[0.1]])
    x1, x2, y = 1.5, 2.0, 1.0
    z = 0.4 * x1 - 0.7 * x2 + 0.1  # = -0.7
    a = 1.0 / (1.0 + math.exp(-z))
    _, caches = net.forward(np.array([[x1], [x2]]))
    grads = net.backward(caches, np.array([[y]]))
    _close(caches[0].z, [[-0.7]])
    _close(grads.dW[0], [[(a - y) * x1, (a - y) * x2]])
    _close(grads.db[0], [[a - y]])
    _close(float(net.cost_value(caches, np.array([[y]]))), -math.log(a))


# ------------------------------------------------------------ (b) 2-2-1 network by hand


def test_one_hidden_layer_tanh_sigmoid_by_hand():
    """2 inputs, 2 tanh hidden units, 1 sigmoid output, cross-entropy, m = 2."""
    W1 = [[0.1, -0.2], [0.4, 0.3]]
    b1 = [0.05, -0.1]
    W2 = [[0.7, -0.6]]
    b2 = [0.2]
    xs = [(1.0, -2.0), (0.5, 1.5)]  # columns of X
    ys = [1.0, 0.0]
    m = 2

    dW1 = [[0.0, 0.0], [0.0, 0.0]]
    db1 = [0.0, 0.0]
    dW2 = [[0.0, 0.0]]
    db2 = [0.0]
    J = 0.0
    Z1, A1, Z2, A2 = [], [], [], []
    for (x0, x1), y in zip(xs, ys, strict=True):
        # forward
        z1 = [W1[j][0] * x0 + W1[j][1] * x1 + b1[j] for j in range(2)]
        a1 = [math.tanh(v) for v in z1]
        z2 = W2[0][0] * a1[0] + W2[0][1] * a1[1] + b2[0]
        a2 = 1.0 / (1.0 + math.exp(-z2))
        J += -(y * math.log(a2) + (1 - y) * math.log(1 - a2)) / m
        Z1.append(z1)
        A1.append(a1)
        Z2.append(z2)
        A2.append(a2)
        # backward (per example, averaged)
        dz2 = a2 - y
        for j in range(2):
            dW2[0][j] += dz2 * a1[j] / m
        db2[0] += dz2 / m
        for j in range(2):
            da1 = W2[0][j] * dz2
            dz1 = da1 * (1.0 - a1[j] ** 2)
            dW1[j][0] += dz1 * x0 / m
            dW1[j][1] += dz1 * x1 / m
            db1[j] += dz1 / m

    spec = NetworkSpec(2, [2], ["tanh"], 1, "sigmoid", "cross-entropy")
    net = _net(spec, [W1, W2], [b1, b2])
    X = np.array(xs).T
    Y = np.array([ys])
    A, caches = net.forward(X)
    grads = net.backward(caches, Y)

    _close(caches[0].z, np.array(Z1).T)
    _close(caches[0].a, np.array(A1).T)
    _close(caches[1].z, [Z2])
    _close(A, [A2])
    _close(float(net.cost_value(caches, Y)), J)
    _close(grads.dW[0], dW1, atol=1e-12)
    _close(grads.db[0], np.array(db1).reshape(2, 1), atol=1e-12)
    _close(grads.dW[1], dW2, atol=1e-12)
    _close(grads.db[1], np.array(db2).reshape(1, 1), atol=1e-12)
    # sanity on the hand numbers themselves: first example's hidden pre-activations
    assert Z1[0] == pytest.approx([0.1 * 1.0 - 0.2 * -2.0 + 0.05, 0.4 * 1.0 + 0.3 * -2.0 - 0.1])
    assert Z1[0] == pytest.approx([0.55, -0.3])


def test_one_hidden_layer_sigmoid_quadratic_by_hand():
    """2-2-1 with sigmoid hidden and output, quadratic cost, m = 2, by scalars."""
    W1 = [[0.3, -0.1], [-0.25, 0.6]]
    b1 = [0.0, 0.2]
    W2 = [[-0.4, 0.9]]
    b2 = [-0.05]
    xs = [(0.2, 0.7), (-1.0, 0.4)]
    ys = [0.9, 0.1]
    m = 2

    def s(v):
        return 1.0 / (1.0 + math.exp(-v))

    dW1 = [[0.0, 0.0], [0.0, 0.0]]
    db1 = [0.0, 0.0]
    dW2 = [[0.0, 0.0]]
    db2 = 0.0
    J = 0.0
    for (x0, x1), y in zip(xs, ys, strict=True):
        a1 = [s(W1[j][0] * x0 + W1[j][1] * x1 + b1[j]) for j in range(2)]
        a2 = s(W2[0][0] * a1[0] + W2[0][1] * a1[1] + b2[0])
        J += (y - a2) ** 2 / (2 * m)
        dz2 = (a2 - y) * a2 * (1 - a2)
        db2 += dz2 / m
        for j in range(2):
            dW2[0][j] += dz2 * a1[j] / m
            dz1 = W2[0][j] * dz2 * a1[j] * (1 - a1[j])
            dW1[j][0] += dz1 * x0 / m
            dW1[j][1] += dz1 * x1 / m
            db1[j] += dz1 / m

    spec = NetworkSpec(2, [2], ["sigmoid"], 1, "sigmoid", "quadratic")
    net = _net(spec, [W1, W2], [b1, b2])
    Y = np.array([ys])
    _, caches = net.forward(np.array(xs).T)
    grads = net.backward(caches, Y)
    _close(float(net.cost_value(caches, Y)), J)
    _close(grads.dW[0], dW1, atol=1e-12)
    _close(grads.db[0], np.array(db1).reshape(2, 1), atol=1e-12)
    _close(grads.dW[1], dW2, atol=1e-12)
    _close(grads.db[1], [[db2]], atol=1e-12)


# ------------------------------------------------------------ output layer deltas

X4 = np.array([[0.5, -1.0, 2.0, 0.3],
               [1.0, 0.2, -0.5, -1.5]])
W_OUT = np.array([[0.3, -0.8], [1.1, 0.4], [-0.6, 0.9]])
B_OUT = np.array([0.1, -0.2, 0.05])


def _softmax_by_hand(z):
    e = np.exp(z)
    return e / e.sum(axis=0, keepdims=True)


def _output_layer(out: str, cost: str):
    spec = NetworkSpec(2, [], [], 3, out, cost)
    net = _net(spec, [W_OUT], [B_OUT])
    Z = W_OUT @ X4 + B_OUT.reshape(3, 1)
    return net, Z


def test_softmax_cross_entropy_delta_and_cost():
    """(c) dZ[L] = A - Y and J = -1/m sum y log a."""
    net, Z = _output_layer("softmax", "cross-entropy")
    Y = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0]])
    m = X4.shape[1]
    A_hand = _softmax_by_hand(Z)
    A, caches = net.forward(X4)
    _close(A, A_hand)
    dZ = net.cost.delta(caches[-1].z, caches[-1].a, Y, net.activations[-1])
    _close(dZ, A_hand - Y)
    grads = net.backward(caches, Y)
    _close(grads.dW[0], (A_hand - Y) @ X4.T / m)
    _close(grads.db[0], (A_hand - Y).mean(axis=1, keepdims=True))
    _close(float(net.cost_value(caches, Y)), -np.sum(Y * np.log(A_hand)) / m)


def test_softmax_cross_entropy_soft_targets():
    net, Z = _output_layer("softmax", "cross-entropy")
    Y = np.array([[0.2, 0.5, 0.0, 1 / 3], [0.3, 0.5, 1.0, 1 / 3], [0.5, 0.0, 0.0, 1 / 3]])
    A_hand = _softmax_by_hand(Z)
    _, caches = net.forward(X4)
    _close(float(net.cost_value(caches, Y)), -np.sum(Y * np.log(A_hand)) / 4)
    _close(net.backward(caches, Y).db[0], (A_hand - Y).mean(axis=1, keepdims=True))


def test_sigmoid_cross_entropy_multi_output_sums_units():
    net, Z = _output_layer("sigmoid", "cross-entropy")
    Y = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    A = _sigmoid(Z)
    _, caches = net.forward(X4)
    expected = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / 4
    _close(float(net.cost_value(caches, Y)), expected)
    _close(net.backward(caches, Y).dW[0], (A - Y) @ X4.T / 4)


def test_quadratic_sigmoid_delta_and_cost():
    """(d) dZ[L] = (A - Y) * a (1 - a) and J = 1/(2m) sum ||y - a||^2."""
    net, Z = _output_layer("sigmoid", "quadratic")
    Y = np.array([[0.9, 0.1, 0.5, 0.0], [0.2, 0.8, 1.0, 0.3], [0.0, 0.4, 0.6, 0.7]])
    m = 4
    A = _sigmoid(Z)
    _, caches = net.forward(X4)
    dZ_hand = (A - Y) * A * (1 - A)
    _close(net.cost.delta(caches[-1].z, caches[-1].a, Y, net.activations[-1]), dZ_hand)
    grads = net.backward(caches, Y)
    _close(grads.dW[0], dZ_hand @ X4.T / m)
    _close(grads.db[0], dZ_hand.sum(axis=1, keepdims=True) / m)
    cost_hand = sum(np.sum((Y[:, i] - A[:, i]) ** 2) for i in range(m)) / (2 * m)
    _close(float(net.cost_value(caches, Y)), cost_hand)


def test_quadratic_linear_and_tanh_deltas():
    Y = np.array([[0.9, -0.1, 0.5, 0.0], [0.2, 0.8, -1.0, 0.3], [0.0, 0.4, 0.6, -0.7]])
    net, Z = _output_layer("linear", "quadratic")
    _, caches = net.forward(X4)
    _close(net.backward(caches, Y).dW[0], (Z - Y) @ X4.T / 4)
    _close(float(net.cost_value(caches, Y)), np.sum((Z - Y) ** 2) / 8)

    net, Z = _output_layer("tanh", "quadratic")
    _, caches = net.forward(X4)
    A = np.tanh(Z)
    _close(net.backward(caches, Y).dW[0], ((A - Y) * (1 - A**2)) @ X4.T / 4)


def test_quadratic_softmax_delta_uses_full_jacobian():
    net, Z = _output_layer("softmax", "quadratic")
    Y = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0]])
    A = _softmax_by_hand(Z)
    dZ = np.empty_like(A)
    for i in range(A.shape[1]):
        a = A[:, i]
        jac = np.diag(a) - np.outer(a, a)  # d a_j / d z_k
        dZ[:, i] = jac.T @ (a - Y[:, i])
    _, caches = net.forward(X4)
    _close(net.cost.delta(caches[-1].z, caches[-1].a, Y, net.activations[-1]), dZ)
    _close(net.backward(caches, Y).dW[0], dZ @ X4.T / 4)


# ------------------------------------------------------------ (e) L2


@pytest.mark.parametrize("n", [50, None])
def test_l2_adds_exact_terms(n):
    rng = np.random.default_rng(3)
    spec = NetworkSpec(3, [4, 2], ["tanh", "relu"], 2, "softmax", "cross-entropy")
    W = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 2))]
    b = [rng.standard_normal(4), rng.standard_normal(2), rng.standard_normal(2)]
    net = _net(spec, W, b)
    X = rng.standard_normal((3, 7))
    Y = np.eye(2)[:, rng.integers(0, 2, 7)]
    lam = 0.7
    n_eff = 7 if n is None else n
    _, caches = net.forward(X)
    J0 = float(net.cost_value(caches, Y))
    J1 = float(net.cost_value(caches, Y, l2=lam, n=n))
    sq = sum(float(np.sum(w**2)) for w in W)
    assert J1 - J0 == pytest.approx(lam / (2 * n_eff) * sq, rel=1e-12)
    g0 = net.backward(caches, Y)
    g1 = net.backward(caches, Y, l2=lam, n=n)
    for l in range(3):
        _close(g1.dW[l] - g0.dW[l], lam / n_eff * W[l], atol=1e-13)
        np.testing.assert_array_equal(g1.db[l], g0.db[l])  # biases are not decayed


def test_l2_closed_form_number():
    """One weight: W = [[2]], lambda = 0.5, n = 10 -> extra cost 0.5/20 * 4 = 0.1, extra dW 0.1."""
    spec = NetworkSpec(1, [], [], 1, "linear", "quadratic")
    net = _net(spec, [[[2.0]]], [[0.0]])
    X = np.array([[1.0, -1.0]])
    Y = np.array([[2.0, -2.0]])  # fits exactly: data cost 0, data gradient 0
    _, caches = net.forward(X)
    assert float(net.cost_value(caches, Y)) == 0.0
    assert float(net.cost_value(caches, Y, l2=0.5, n=10)) == pytest.approx(0.1, rel=1e-15)
    grads = net.backward(caches, Y, l2=0.5, n=10)
    _close(grads.dW[0], [[0.1]])
    _close(grads.db[0], [[0.0]])


# ------------------------------------------------------------ (f) all-linear network


def test_all_linear_network_is_one_affine_map():
    rng = np.random.default_rng(11)
    spec = NetworkSpec(3, [4, 5], ["linear", "linear"], 2, "linear", "quadratic",
                       bias_init="normal")
    net = Network(spec, dtype="float64", seed=5)
    W1, W2, W3 = net.get_parameters()[0]
    b1, b2, b3 = net.get_parameters()[1]
    assert all(np.abs(x).sum() > 0 for x in (b1, b2, b3))
    X = rng.standard_normal((3, 9))
    A, _ = net.forward(X)
    expected = (W3 @ W2 @ W1) @ X + (W3 @ W2 @ b1 + W3 @ b2 + b3)
    _close(A, expected, atol=1e-12)


def test_all_linear_network_gradient_of_first_layer_closed_form():
    """For A = M X + c with M = W3 W2 W1, dJ/dW1 = (W3 W2)^T (A - Y) X^T / m."""
    rng = np.random.default_rng(12)
    spec = NetworkSpec(3, [4, 5], ["linear"], 2, "linear", "quadratic", bias_init="normal")
    net = Network(spec, dtype="float64", seed=6)
    (W1, W2, W3), (b1, b2, _) = net.get_parameters()
    X = rng.standard_normal((3, 9))
    Y = rng.standard_normal((2, 9))
    A, caches = net.forward(X)
    grads = net.backward(caches, Y)
    E = A - Y
    A2 = W2 @ (W1 @ X + b1) + b2  # input of the last layer
    _close(grads.dW[0], (W3 @ W2).T @ E @ X.T / 9, atol=1e-12)
    _close(grads.db[0], (W3 @ W2).T @ E.mean(axis=1, keepdims=True), atol=1e-12)
    _close(grads.dW[2], E @ A2.T / 9, atol=1e-12)


# ------------------------------------------------------------ shapes and errors


def test_gradient_shapes_match_parameters():
    spec = NetworkSpec(4, [3, 5], ["relu", "sigmoid"], 2, "sigmoid", "cross-entropy")
    net = Network(spec, dtype="float64", seed=0)
    X = np.random.default_rng(0).standard_normal((4, 6))
    _, caches = net.forward(X)
    grads = net.backward(caches, np.ones((2, 6)))
    for w, b, dw, db in zip(net.W, net.b, grads.dW, grads.db, strict=True):
        assert dw.shape == w.shape and db.shape == b.shape


def test_backward_rejects_wrong_target_shape():
    spec = NetworkSpec(2, [], [], 1, "sigmoid", "cross-entropy")
    net = Network(spec, dtype="float64", seed=0)
    _, caches = net.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        net.backward(caches, np.zeros((3, 1)))


def test_backward_into_reused_buffers_equals_fresh_and_reuses_them():
    rng = np.random.default_rng(0)
    net = Network(NetworkSpec(6, [5, 4], ["relu", "tanh"], 3, "softmax", "cross-entropy"),
                  seed=0, dtype="float32")
    X = rng.normal(size=(6, 8)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[:, rng.integers(0, 3, 8)]
    _, caches = net.forward(X)
    fresh = net.backward(caches, Y, l2=0.1, n=100)
    buffers = net.backward(caches, Y, l2=0.1, n=100)
    ids = [id(a) for a in buffers.dW + buffers.db]
    X2 = rng.normal(size=(6, 8)).astype(np.float32)
    _, caches2 = net.forward(X2)
    again = net.backward(caches2, Y, l2=0.1, n=100, out=buffers)
    assert [id(a) for a in again.dW + again.db] == ids  # written in place
    expected = net.backward(caches2, Y, l2=0.1, n=100)
    for a, b in zip(again.dW + again.db, expected.dW + expected.db, strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.float32
    assert not np.array_equal(fresh.dW[0], again.dW[0])


@pytest.mark.parametrize("output, cost", [("sigmoid", "cross-entropy"),
                                          ("softmax", "cross-entropy"),
                                          ("softmax", "quadratic"), ("linear", "quadratic"),
                                          ("tanh", "quadratic")])
def test_backward_leaves_the_caches_and_targets_untouched(output, cost):
    """backward scales dZ by 1/m in place: dZ must be its own array, never a cache's Z or A
    (the diagnostics read them after backward)."""
    rng = np.random.default_rng(2)
    n_out = 1 if output == "sigmoid" else 3
    net = Network(NetworkSpec(5, [4, 3], ["relu", "linear"], n_out, output, cost), seed=1,
                  dtype="float64")  # Y float64 too: backward works on Y itself, not a copy
    X = rng.normal(size=(5, 6))
    Y = rng.random((n_out, 6))
    _, caches = net.forward(X)
    kept = [(c.a_prev.copy(), c.z.copy(), c.a.copy()) for c in caches]
    Y_kept = Y.copy()
    net.backward(caches, Y, l2=0.1, n=20)
    for c, (a_prev, z, a) in zip(caches, kept, strict=True):
        np.testing.assert_array_equal(c.a_prev, a_prev)
        np.testing.assert_array_equal(c.z, z)
        np.testing.assert_array_equal(c.a, a)
    np.testing.assert_array_equal(Y, Y_kept)


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_example_major_batches_give_the_same_pass_as_column_major(dtype, tol):
    """A trainer's batch is the transpose of an (m, n_x) array. A layer of few units fed by
    many inputs then computes Z^T = A_prev^T W^T on the CPU (faster in OpenBLAS): the same
    numbers, and Z still row-major for the layers after."""
    rng = np.random.default_rng(4)
    net = Network(NetworkSpec(96, [3, 5], ["relu", "tanh"], 2, "softmax"), dtype=dtype, seed=1)
    XT = rng.normal(size=(30, 96)).astype(dtype)  # examples as rows, as the trainer keeps them
    Y = np.eye(2, dtype=dtype)[:, rng.integers(0, 2, 30)]
    by_rows = XT.T
    by_columns = np.ascontiguousarray(by_rows)
    assert by_rows.flags.f_contiguous and not by_rows.flags.c_contiguous
    _, caches_r = net.forward(by_rows)
    _, caches_c = net.forward(by_columns)
    assert caches_r[0].z.flags.c_contiguous
    np.testing.assert_allclose(caches_r[0].z, net.W[0] @ by_columns + net.b[0], rtol=tol,
                               atol=tol)
    grads_r, grads_c = net.backward(caches_r, Y), net.backward(caches_c, Y)
    for a, b in zip(grads_r.dW + grads_r.db, grads_c.dW + grads_c.db, strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
