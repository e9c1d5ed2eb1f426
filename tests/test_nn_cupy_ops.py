"""CupyOps' choice of kernel or reference, and the kernels' self-check, on any machine.

The CUDA code itself runs only on a GPU (tests/test_backend.py and the GPU gradcheck, marked
``gpu``). Here a stand-in for CuPy (tests/fake_cupy.py) runs each kernel as NumPy code, right
or deliberately wrong, to test what CupyOps does with them: a kernel that agrees with the
reference is used, one that disagrees or fails to compile is switched off with a warning, and
the reference then runs in its place.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from fake_cupy import fake_cupy
from fake_gpu import fake_gpu

from desktop_nn.nn.activations import get_activation
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.nn.ops import CupyOps, NumpyOps, device_ops
from desktop_nn.train.trainer import TrainConfig, Trainer

SIGMOID, TANH, SOFTMAX, LINEAR = (get_activation(n) for n in
                                  ("sigmoid", "tanh", "softmax", "linear"))


def test_ops_are_chosen_by_the_array_module_one_per_network():
    assert isinstance(device_ops(np), NumpyOps)
    assert isinstance(device_ops(fake_cupy()), CupyOps)
    spec = NetworkSpec(3, [2], ["relu"], 1)
    # the tests' stand-in GPU holds NumPy arrays: it gets the NumPy ops, as a CPU does
    nets = [Network(spec), Network(spec), Network(spec, fake_gpu())]
    assert all(type(net.ops) is NumpyOps for net in nets)
    assert len({id(net.ops) for net in nets}) == 3
    with pytest.raises(ValueError, match="no device ops"):
        device_ops(pytest)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_that_agree_with_the_reference_are_used(dtype):
    ops = CupyOps(fake_cupy())
    rng = np.random.default_rng(1)
    W, a_prev = rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=(3, 6)).astype(dtype)
    b = rng.normal(size=(4, 1)).astype(dtype)
    z, a = ops.layer_forward(W, b, a_prev, SIGMOID)
    np.testing.assert_array_equal(z, W @ a_prev + b)  # Z = W A_prev + b, in place
    np.testing.assert_allclose(a, SIGMOID.forward(W @ a_prev + b), rtol=1e-6)
    p, g = rng.normal(size=(3, 3)).astype(dtype), rng.normal(size=(3, 3)).astype(dtype)
    before = p.copy()
    ops.sgd(p, g, 0.5, ops.scratch_like(p))
    np.testing.assert_allclose(p, before - 0.5 * g, rtol=1e-6)
    da = rng.normal(size=(4, 6)).astype(dtype)
    assert ops.activation_backward(da, z, a, LINEAR) is da
    expected = SOFTMAX.backward(da, z, a)
    np.testing.assert_array_equal(ops.activation_backward(da, z, a, SOFTMAX), expected)
    z, a = ops.layer_forward(W, b, a_prev, SOFTMAX)  # not elementwise: the reference
    np.testing.assert_array_equal(a, SOFTMAX.forward(W @ a_prev + b))
    assert ops.disabled == {}
    assert ops._state == {("forward:sigmoid", dtype): True, ("sgd", dtype): True}


@pytest.mark.parametrize("how", ["wrong", "compile"])
def test_a_kernel_that_disagrees_or_fails_is_switched_off_with_a_warning(how):
    ops = CupyOps(fake_cupy({"dnn_momentum": how, "dnn_back_tanh": how}))
    p, v, g = np.ones((2, 2)), np.full((2, 2), 0.5), np.full((2, 2), 2.0)
    with pytest.warns(RuntimeWarning, match="fused GPU kernel 'momentum' is switched off"):
        ops.momentum(p, g, v, 0.1, 0.9, ops.scratch_like(p))
    # the reference ran instead: v = 0.9 * 0.5 + 0.1 * 2, p = 1 - 0.1 v
    np.testing.assert_allclose(v, 0.65, rtol=1e-15)
    np.testing.assert_allclose(p, 1 - 0.065, rtol=1e-15)
    z = np.array([[0.5, -1.0], [2.0, 0.0]])
    da, a = g.copy(), TANH.forward(z)
    with pytest.warns(RuntimeWarning, match="'backward:tanh'"):
        dz = ops.activation_backward(da, z, a, TANH)
    np.testing.assert_array_equal(dz, TANH.backward(g, z, a))
    assert set(ops.disabled) == {"momentum", "backward:tanh"}
    reason = ops.disabled["momentum"]
    assert ("differs from the reference" in reason) if how == "wrong" else \
        ("CompileException" in reason)
    # asked again: no second check, no second warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops.momentum(p, g, v, 0.1, 0.9, ops.scratch_like(p))
    ops.sgd(p, g, 0.1, ops.scratch_like(p))
    assert ops._state[("sgd", "float64")] is True  # the others still run fused


def test_a_kernel_that_runs_out_of_memory_is_asked_again_later():
    cp = fake_cupy()
    real, calls = cp.ElementwiseKernel, []

    def kernel(*args):
        calls.append(args[-1])
        if len(calls) == 1:
            raise MemoryError("Out of memory allocating 512 bytes (fake)")
        return real(*args)

    cp.ElementwiseKernel = kernel
    ops = CupyOps(cp)
    p, g = np.ones((2, 2)), np.ones((2, 2))
    with pytest.raises(MemoryError):
        ops.sgd(p, g, 0.1, ops.scratch_like(p))
    assert ops.disabled == {} and ops._state == {}
    np.testing.assert_array_equal(p, 1.0)  # no step taken
    ops.sgd(p, g, 0.1, ops.scratch_like(p))  # checked again, and used
    assert ops._state == {("sgd", "float64"): True}
    np.testing.assert_allclose(p, 0.9, rtol=1e-15)


def test_mixed_dtypes_and_linear_layers_need_no_kernel():
    ops = CupyOps(fake_cupy({"dnn_sgd": "compile"}))
    W32, a32, b64 = np.ones((2, 2), np.float32), np.ones((2, 3), np.float32), np.ones((2, 1))
    z, a = ops.layer_forward(W32, b64, a32, get_activation("relu"))
    assert z.dtype == np.float32 and np.all(a == 3.0)
    p = np.ones(2, np.float32)
    ops.sgd(p, np.ones(2), 0.5, ops.scratch_like(p))
    np.testing.assert_array_equal(p, 0.5)
    W, a_prev, b = np.ones((2, 2)), np.ones((2, 3)), np.full((2, 1), 2.0)
    z, a = ops.layer_forward(W, b, a_prev, LINEAR)
    assert a is z and np.all(z == 4.0)
    assert ops._state == {}  # no kernel was built or checked for any of these


def test_training_through_the_cupy_ops_matches_the_reference():
    """A whole run with every operation going through CupyOps (emulated kernels, one of them
    broken and so replaced by the reference) gives the NumPy ops' weights."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 40))
    Y = np.eye(3)[:, rng.integers(0, 3, 40)]
    spec = NetworkSpec(5, [6, 4], ["sigmoid", "relu"], 3, "sigmoid", "cross-entropy")
    results = []
    for on_cupy in (False, True):
        net = Network(spec, dtype="float64", seed=3)
        if on_cupy:
            net.ops = ops = CupyOps(fake_cupy({"dnn_back_sigmoid": "wrong"}))
        config = TrainConfig(lr=0.5, epochs=3, batch_size=8, optimizer="adam", l2=0.1)
        if on_cupy:
            with pytest.warns(RuntimeWarning, match="'backward:sigmoid'"):
                Trainer(net, X, Y, config).run()
        else:
            Trainer(net, X, Y, config).run()
        results.append(net.get_parameters()[0])
    used = {name for name, _ in ops._state}
    assert {"forward:sigmoid", "forward:relu", "backward:relu", "adam", "bce"} <= used
    assert set(ops.disabled) == {"backward:sigmoid"}
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
