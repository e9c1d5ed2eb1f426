"""The fused GPU kernels' dispatch and self-check, on any machine.

The CUDA code itself runs only on a GPU (tests/test_backend.py and the GPU gradcheck, marked
``gpu``). Here a stand-in for CuPy runs each kernel as NumPy code, right or deliberately
wrong, to test what CupyFusion does with them: a kernel that agrees with the reference is used,
one that disagrees or fails to compile is switched off with a warning, and the caller then
runs the reference code.
"""

from __future__ import annotations

import contextlib
import types
import warnings

import numpy as np
import pytest

from desktop_nn.nn.activations import get_activation
from desktop_nn.nn.fused import NO_FUSION, CupyFusion, fused_ops
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.trainer import TrainConfig, Trainer


def _emulate(name: str):
    """NumPy code doing what the CUDA kernel called ``name`` does."""
    if name.startswith("dnn_bias_"):
        g = get_activation(name.removeprefix("dnn_bias_"))

        def bias(b, z, a):
            z += b
            a[...] = g.forward(z)
        return bias
    if name.startswith("dnn_back_"):
        g = get_activation(name.removeprefix("dnn_back_"))

        def back(z, a, da):
            da[...] = g.backward(da.copy(), z, a)
        return back

    def sgd(g, lr, p):
        p -= p.dtype.type(lr) * g

    def momentum(g, lr, beta, one_minus_beta, p, v):
        t = p.dtype.type
        v[...] = t(beta) * v + t(one_minus_beta) * g
        p -= t(lr) * v

    def adam(g, step, b1, c1, b2, c2, eps_hat, p, v, s):
        t = p.dtype.type
        v[...] = t(b1) * v + t(c1) * g
        s[...] = t(b2) * s + t(c2) * (g * g)
        p -= t(step) * (v / (np.sqrt(s) + t(eps_hat)))

    def bce(z, y):
        return (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z).sum()

    return {"dnn_sgd": sgd, "dnn_momentum": momentum, "dnn_adam": adam,
            "dnn_bce_sum": bce}[name]


def fake_cupy(broken: dict[str, str] | None = None) -> types.SimpleNamespace:
    """NumPy dressed as CuPy. ``broken`` maps a kernel name to "wrong" (it adds 1 to its
    first output) or "compile" (building it raises)."""
    broken = broken or {}

    def kernel(*args):
        name = args[-1]
        if broken.get(name) == "compile":
            raise RuntimeError(f"CompileException: {name}: error: identifier is undefined")
        run = _emulate(name)
        if broken.get(name) != "wrong":
            return run

        def wrong(*call):
            out = run(*call)
            if out is not None:
                return out + 1
            arrays = [a for a in call if isinstance(a, np.ndarray)]
            arrays[-1] += 1
        return wrong

    return types.SimpleNamespace(
        __name__="cupy", ElementwiseKernel=kernel, ReductionKernel=kernel,
        asarray=np.asarray, asnumpy=np.asarray, empty_like=np.empty_like,
        maximum=np.maximum, log1p=np.log1p, exp=np.exp, abs=np.abs, sqrt=np.sqrt)


def test_numpy_gets_no_fusion():
    ops = fused_ops(np)
    assert ops is NO_FUSION
    z = np.zeros((2, 3))
    assert ops.bias_activation(z, np.zeros((2, 1)), "sigmoid") is None
    assert ops.backward(z, z, z, "relu") is None
    assert ops.sgd(z, z, 0.1) is None and ops.bce_sum(z, z) is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_that_agree_with_the_reference_are_used(dtype):
    ops = CupyFusion(fake_cupy())
    rng = np.random.default_rng(1)
    z, b = rng.normal(size=(4, 6)).astype(dtype), rng.normal(size=(4, 1)).astype(dtype)
    z_plus_b = z + b
    a = ops.bias_activation(z, b, "sigmoid")
    np.testing.assert_allclose(a, get_activation("sigmoid").forward(z_plus_b), rtol=1e-6)
    np.testing.assert_array_equal(z, z_plus_b)  # Z is written in place: W A_prev + b
    p, g = rng.normal(size=(3, 3)).astype(dtype), rng.normal(size=(3, 3)).astype(dtype)
    before = p.copy()
    assert ops.sgd(p, g, 0.5) is True
    np.testing.assert_allclose(p, before - 0.5 * g, rtol=1e-6)
    da = rng.normal(size=(4, 6)).astype(dtype)
    assert ops.backward(da, z, a, "linear") is da
    assert ops.backward(da, z, a, "softmax") is None  # not elementwise: the reference
    assert ops.bias_activation(z, b, "softmax") is None
    assert ops.disabled == {}
    assert ops._state == {("forward:sigmoid", dtype): True, ("sgd", dtype): True}


@pytest.mark.parametrize("how", ["wrong", "compile"])
def test_a_kernel_that_disagrees_or_fails_is_switched_off_with_a_warning(how):
    ops = CupyFusion(fake_cupy({"dnn_momentum": how, "dnn_back_tanh": how}))
    p, v, g = np.ones((2, 2)), np.zeros((2, 2)), np.ones((2, 2))
    with pytest.warns(RuntimeWarning, match="fused GPU kernel 'momentum' is switched off"):
        assert ops.momentum(p, v, g, 0.1, 0.9) is None
    np.testing.assert_array_equal(p, np.ones((2, 2)))  # untouched: the caller does the step
    with pytest.warns(RuntimeWarning, match="'backward:tanh'"):
        assert ops.backward(g, g, g, "tanh") is None
    assert set(ops.disabled) == {"momentum", "backward:tanh"}
    reason = ops.disabled["momentum"]
    assert ("differs from the reference" in reason) if how == "wrong" else \
        ("CompileException" in reason)
    # asked again: no second check, no second warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ops.momentum(p, v, g, 0.1, 0.9) is None
    assert ops.sgd(p, g, 0.1) is True  # the others still run fused


def test_a_kernel_that_runs_out_of_memory_is_asked_again_later():
    cp = fake_cupy()
    real, calls = cp.ElementwiseKernel, []

    def kernel(*args):
        calls.append(args[-1])
        if len(calls) == 1:
            raise MemoryError("Out of memory allocating 512 bytes (fake)")
        return real(*args)

    cp.ElementwiseKernel = kernel
    ops = CupyFusion(cp)
    p, g = np.ones((2, 2)), np.ones((2, 2))
    with pytest.raises(MemoryError):
        ops.sgd(p, g, 0.1)
    assert ops.disabled == {} and ops._state == {}
    assert ops.sgd(p, g, 0.1) is True  # checked again, and used


def test_mixed_dtypes_and_linear_layers_need_no_kernel():
    ops = CupyFusion(fake_cupy({"dnn_sgd": "compile"}))
    z32, b64 = np.ones((2, 3), np.float32), np.ones((2, 1))
    assert ops.bias_activation(z32, b64, "relu") is None
    assert ops.sgd(np.ones(2, np.float32), np.ones(2), 0.1) is None
    z, b = np.ones((2, 3)), np.full((2, 1), 2.0)
    assert ops.bias_activation(z, b, "linear") is z and np.all(z == 3.0)
    assert ops._state == {}  # no kernel was built or checked for any of these


def test_training_through_the_fused_path_matches_the_reference(monkeypatch):
    """A whole run with every operation going through CupyFusion (emulated kernels, one of
    them broken and so replaced by the reference) gives NumPy's weights."""
    import desktop_nn.nn.fused as fused

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 40))
    Y = np.eye(3)[:, rng.integers(0, 3, 40)]
    spec = NetworkSpec(5, [6, 4], ["sigmoid", "relu"], 3, "sigmoid", "cross-entropy")
    results = []
    for use_fusion in (False, True):
        ops = CupyFusion(fake_cupy({"dnn_back_sigmoid": "wrong"}))
        if use_fusion:
            def fusion(xp, ops=ops):
                return ops

            monkeypatch.setattr(fused, "fused_ops", fusion)
            for module in ("desktop_nn.nn.network", "desktop_nn.nn.costs",
                           "desktop_nn.nn.optimizers"):
                monkeypatch.setattr(f"{module}.fused_ops", fusion)
        net = Network(spec, dtype="float64", seed=3)
        with pytest.warns(RuntimeWarning) if use_fusion else contextlib.nullcontext():
            Trainer(net, X, Y, TrainConfig(lr=0.5, epochs=3, batch_size=8,
                                           optimizer="adam")).run()
        results.append(net.get_parameters()[0])
        if use_fusion:
            used = {name for name, _ in ops._state}
            assert {"forward:sigmoid", "forward:relu", "backward:relu", "adam", "bce"} <= used
            assert set(ops.disabled) == {"backward:sigmoid"}
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
