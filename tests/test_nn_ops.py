"""Every device op against the reference DeviceOps (desktop_nn/nn/ops/reference.py).

Each op of NumpyOps and of CupyOps (its kernels emulated in NumPy, tests/fake_cupy.py) must
give the reference's numbers, on the awkward cases its speed work takes other paths for:
arrays above the block size (so that NumpyOps' blocks run, with a partial last block),
example-major batches (F-contiguous A_prev: the layout trick), gradients in another layout,
reused output buffers, float32 and float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from fake_cupy import fake_cupy

from desktop_nn.nn.activations import ACTIVATIONS, get_activation
from desktop_nn.nn.costs import VALID_PAIRS, get_cost
from desktop_nn.nn.ops import CupyOps, DeviceOps, NumpyOps
from desktop_nn.nn.ops.numpy_ops import BLOCK

REFERENCE = DeviceOps()
BIG = (600, 500)  # 300000 elements: one whole block of 262144 and a partial one
SMALL = (7, 5)

# The ops compared below: a new op of DeviceOps must be added here, with a test.
COMPARED = {"layer_forward", "activation_backward", "layer_gradients", "cost_value",
            "sum_of_squares", "scratch_like", "sgd", "momentum", "adam", "gather",
            "adam_step_sum_of_squares"}


@pytest.fixture(params=["numpy", "cupy"])
def ops(request) -> DeviceOps:
    return NumpyOps() if request.param == "numpy" else CupyOps(fake_cupy())


@pytest.fixture(params=["float32", "float64"])
def dtype(request) -> np.dtype:
    return np.dtype(request.param)


def _rtol(dtype: np.dtype) -> float:
    return 2e-5 if dtype == np.float32 else 1e-12


def _random(rng, shape, dtype, layout="C"):
    a = rng.standard_normal(shape).astype(dtype)
    return np.asfortranarray(a) if layout == "F" else a


def _close(got, expected, dtype):
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=_rtol(dtype), atol=_rtol(dtype))


def test_every_op_of_the_interface_is_compared():
    public = {name for name in vars(DeviceOps)
              if not name.startswith("_") and callable(getattr(DeviceOps, name))}
    assert public == COMPARED
    assert BLOCK < BIG[0] * BIG[1] < 2 * BLOCK


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("layout", ["column-major", "example-major"])
def test_layer_forward(ops, dtype, act, layout):
    """Example-major: A_prev is the transpose of an (m, n_in) batch, F-contiguous, and the
    layer has few units for many inputs: NumpyOps computes Z^T = A_prev^T W^T."""
    rng = np.random.default_rng(1)
    W, b = _random(rng, (10, 600), dtype), _random(rng, (10, 1), dtype)
    a_prev = _random(rng, (64, 600), dtype).T if layout == "example-major" else \
        _random(rng, (600, 64), dtype)
    if layout == "example-major":
        assert a_prev.flags.f_contiguous and not a_prev.flags.c_contiguous
    g = get_activation(act)
    z, a = ops.layer_forward(W, b, a_prev, g)
    z_ref, a_ref = REFERENCE.layer_forward(W, b, a_prev, g)
    _close(z, z_ref, dtype)
    _close(a, a_ref, dtype)
    assert z.flags.c_contiguous  # the layers after get row-major Z and A


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activation_backward(ops, dtype, act):
    rng = np.random.default_rng(2)
    g = get_activation(act)
    z = 3 * _random(rng, (9, 33), dtype)
    z[0, :3] = 0.0  # the kink of the ReLUs
    a, da = g.forward(z), _random(rng, (9, 33), dtype)
    expected = REFERENCE.activation_backward(da.copy(), z, a, g)
    _close(ops.activation_backward(da.copy(), z, a, g), expected, dtype)


@pytest.mark.parametrize("shape", [BIG, SMALL])
@pytest.mark.parametrize("decay", [0.0, 0.03])
@pytest.mark.parametrize("reuse", [False, True])
def test_layer_gradients(ops, dtype, shape, decay, reuse):
    """dW = dZ A_prev^T / m + decay W and db = sum(dZ) / m; into the given arrays when they
    fit (a big W adds its L2 term block by block on the CPU)."""
    rng = np.random.default_rng(3)
    n_out, n_in = shape
    m = 32
    W = _random(rng, shape, dtype)
    dz = _random(rng, (n_out, m), dtype)
    a_prev = _random(rng, (m, n_in), dtype).T  # example-major, as a trainer's batch
    dW_ref, db_ref = REFERENCE.layer_gradients(dz.copy(), a_prev, W, m, decay)
    old_dW, old_db = (np.empty_like(W), np.empty((n_out, 1), dtype)) if reuse else (None, None)
    dW, db = ops.layer_gradients(dz.copy(), a_prev, W, m, decay, old_dW, old_db)
    _close(dW, dW_ref, dtype)
    _close(db, db_ref, dtype)
    if reuse:
        assert dW is old_dW and db is old_db
    # arrays that do not fit (another dtype) are left alone
    other = np.float64 if dtype == np.float32 else np.float32
    wrong = np.zeros(shape, other), np.zeros((n_out, 1), other)
    dW, db = ops.layer_gradients(dz.copy(), a_prev, W, m, decay, *wrong)
    _close(dW, dW_ref, dtype)
    assert not np.any(wrong[0]) and not np.any(wrong[1])


@pytest.mark.parametrize("output, cost", [(out, cost) for out, costs in VALID_PAIRS.items()
                                          for cost in costs])
def test_cost_value(ops, dtype, output, cost):
    rng = np.random.default_rng(4)
    g, c = get_activation(output), get_cost(cost)
    z = 4 * _random(rng, (3, 20), dtype)
    a = g.forward(z)
    y = np.eye(3, dtype=dtype)[:, rng.integers(0, 3, 20)]
    got = ops.cost_value(c, z, a, y, g)
    expected = REFERENCE.cost_value(c, z, a, y, g)
    np.testing.assert_allclose(float(got), float(expected), rtol=_rtol(dtype))


@pytest.mark.parametrize("shape, layout", [(BIG, "C"), (BIG, "F"), (SMALL, "C")])
def test_sum_of_squares(ops, dtype, shape, layout):
    a = _random(np.random.default_rng(5), shape, dtype, layout)
    got = ops.sum_of_squares(a)
    assert got.shape == ()
    np.testing.assert_allclose(float(got), float(REFERENCE.sum_of_squares(a)),
                               rtol=_rtol(dtype))
    np.testing.assert_allclose(float(got), float(np.sum(a.astype(np.float64) ** 2)),
                               rtol=_rtol(dtype))


@pytest.mark.parametrize("shape", [BIG, SMALL])
def test_scratch_like(ops, dtype, shape):
    p = np.zeros(shape, dtype)
    scratch = ops.scratch_like(p)
    assert scratch.dtype == p.dtype and scratch.flags.c_contiguous
    # one block for a big parameter on the CPU (its updates go block by block), else p's shape
    big_on_cpu = isinstance(ops, NumpyOps) and p.size > BLOCK
    assert scratch.shape == ((BLOCK,) if big_on_cpu else p.shape)


@pytest.mark.parametrize("update", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("shape, grad_layout", [(BIG, "C"), (BIG, "F"), (SMALL, "C")])
def test_updates(ops, dtype, update, shape, grad_layout):
    """Three steps of each update, in place on the parameter and its state, with the scratch
    the ops asked for (a big parameter with an F-contiguous gradient cannot go by blocks)."""
    rng = np.random.default_rng(6)
    p0 = _random(rng, shape, dtype)
    n_state = {"sgd": 0, "momentum": 1, "adam": 2}[update]
    states0 = [np.abs(_random(rng, shape, dtype)) for _ in range(n_state)]
    grads = [_random(rng, shape, dtype, grad_layout) for _ in range(3)]
    hyper = {"sgd": (0.1,), "momentum": (0.1, 0.8), "adam": (0.01, 0.9, 0.999, 1e-8)}[update]
    results = []
    for each in (ops, REFERENCE):
        p, states = p0.copy(), [s.copy() for s in states0]
        scratch = each.scratch_like(p)
        for g in grads:
            getattr(each, update)(p, g, *states, *hyper, scratch)
        results.append([p, *states])
    for got, expected in zip(*results, strict=True):
        _close(got, expected, dtype)
    assert not np.array_equal(results[0][0], p0)


@pytest.mark.parametrize("shape", [BIG, SMALL])
def test_adam_step_sum_of_squares_is_the_steps_norm(ops, dtype, shape):
    """||p before - p after||^2 of an Adam update, from the state it left: the same as
    subtracting the two parameters (in float64, from the update's own bits)."""
    rng = np.random.default_rng(8)
    p = _random(rng, shape, dtype)
    v, s = _random(rng, shape, dtype), np.abs(_random(rng, shape, dtype))
    g = _random(rng, shape, dtype)
    scratch = ops.scratch_like(p)
    before = p.astype(np.float64)
    ops.adam(p, g, v, s, 0.01, 0.9, 0.999, 1e-8, scratch)
    got = ops.adam_step_sum_of_squares(v, s, 0.01, 1e-8, scratch)
    assert got.shape == ()
    expected = REFERENCE.adam_step_sum_of_squares(v, s, 0.01, 1e-8, None)
    np.testing.assert_allclose(float(got), float(expected), rtol=_rtol(dtype))
    moved = float(np.sum((p.astype(np.float64) - before) ** 2))
    np.testing.assert_allclose(float(got), moved, rtol=1e-3 if dtype == np.float32 else 1e-9)


def test_gather(ops, dtype):
    rng = np.random.default_rng(7)
    rows = _random(rng, (100, 7), dtype)
    idx = rng.permutation(100)[10:42]
    out = np.empty((40, 7), dtype)
    got = ops.gather(rows, idx, out[:32])
    expected = REFERENCE.gather(rows, idx, np.empty((32, 7), dtype))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(out[:32], rows[idx])  # written into the buffer given
