"""NumpyOps' block-by-block elementwise work on big CPU arrays (desktop_nn/nn/ops/numpy_ops.py):
the same numbers as the whole-array expressions it replaces, with a partial last block.
(tests/test_nn_ops.py compares every op with the reference DeviceOps.)"""

from __future__ import annotations

import numpy as np
import pytest

from desktop_nn.nn.diagnostics import layer_stats, weight_sums_of_squares
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.nn.ops import NumpyOps, numpy_ops
from desktop_nn.nn.optimizers import make_optimizer

BLOCK = 4096  # small, so that test arrays span several blocks


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(numpy_ops, "BLOCK", BLOCK)


def _array(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sum_of_squares_in_blocks_matches_the_exact_sum(small_blocks, dtype):
    a = _array((37, 301), dtype)  # 11137 elements: 2 whole blocks and a partial one
    assert numpy_ops.blockable(a) and 2 * BLOCK < a.size < 3 * BLOCK
    exact = float(np.sum(a.astype(np.float64) ** 2))
    got = NumpyOps().sum_of_squares(a)
    assert got.dtype == np.float64 and got.shape == ()
    assert float(got) == pytest.approx(exact, rel=1e-7 if dtype == "float32" else 1e-14)
    # no less accurate than the whole-array float32 sum it replaces
    assert abs(float(got) - exact) <= abs(float((a * a).sum()) - exact) * 1.01 + 1e-12 * exact


def test_sum_of_squares_of_small_or_strided_arrays_is_the_plain_sum(small_blocks):
    small = _array((10, 10), "float32")
    assert NumpyOps().sum_of_squares(small) == (small * small).sum()
    strided = np.asfortranarray(_array((37, 301), "float32"))
    assert not numpy_ops.blockable(strided)
    assert NumpyOps().sum_of_squares(strided) == (strided * strided).sum()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_add_scaled_in_blocks_gives_the_bits_of_the_whole_array_expression(small_blocks,
                                                                         dtype):
    a, out = _array((37, 301), dtype, 1), _array((37, 301), dtype, 2)
    expected = out + 0.37 * a
    numpy_ops.add_scaled(out, a, 0.37)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, expected)
    out2 = _array((37, 301), "float32", 2)
    expected = out2 + np.float32(0.37) * a.astype(np.float32)
    numpy_ops.add_scaled(out2, a.astype(np.float32), np.float64(0.37))  # a NumPy float64 scale
    np.testing.assert_array_equal(out2, expected)  # computed in float32 all the same
    strided = np.asfortranarray(_array((37, 301), dtype, 3))
    expected = strided + 0.37 * a
    numpy_ops.add_scaled(strided, a, 0.37)  # not blockable: the whole-array expression
    np.testing.assert_array_equal(strided, expected)


def test_flat_blocks_cover_every_element_once(small_blocks):
    a = np.arange(2 * BLOCK + 5, dtype=np.float64).reshape(1, -1)
    sizes = [v.size for (v,) in numpy_ops.flat_blocks(a)]
    assert sizes == [BLOCK, BLOCK, 5]
    for (v,) in numpy_ops.flat_blocks(a):
        v += 1  # views: written through to the array
    np.testing.assert_array_equal(a.ravel(), np.arange(1, 2 * BLOCK + 6))


def test_layer_stats_and_l2_backward_unchanged_by_blocking(monkeypatch):
    """A network whose first layer spans several blocks: the diagnostics' norms, the L2
    gradient and the L2 cost are the same with blocks as with blocking off."""
    spec = NetworkSpec(300, [40], ["relu"], 3, "softmax", "cross-entropy")
    rng = np.random.default_rng(5)
    X = rng.random((300, 16), dtype=np.float32)
    Y = np.eye(3, dtype=np.float32)[:, rng.integers(0, 3, 16)]

    def run(block):
        monkeypatch.setattr(numpy_ops, "BLOCK", block)
        net = Network(spec, dtype="float32", seed=2)
        _, caches = net.forward(X)
        grads = net.backward(caches, Y, l2=0.3, n=50)
        cost = float(net.cost_value(caches, Y, l2=0.3, n=50))
        before = weight_sums_of_squares(net)
        adam = make_optimizer("adam", 0.1)
        adam.allocate(net)
        adam.step(net, grads)
        stats = layer_stats(net, caches, grads, adam.step_sums_of_squares(net, grads),
                            before)[0]
        return grads, stats, cost

    g_blocked, s_blocked, cost_blocked = run(BLOCK)
    g_whole, s_whole, cost_whole = run(10**9)
    assert cost_blocked == pytest.approx(cost_whole, rel=1e-6)  # its L2 term in blocks
    assert spec.sizes[0] * spec.sizes[1] > 2 * BLOCK
    for a, b in zip(g_blocked.dW, g_whole.dW, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(s_blocked, s_whole, strict=True):
        assert a.grad_norm_W == pytest.approx(b.grad_norm_W, rel=1e-6)
        assert a.update_ratio == pytest.approx(b.update_ratio, rel=1e-6)  # Adam's, in blocks
