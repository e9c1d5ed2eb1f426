"""NumPy dressed as CuPy, for testing CupyOps (desktop_nn/nn/ops/cupy_ops.py) on any machine.

Its ``ElementwiseKernel`` and ``ReductionKernel`` run each of desktop-nn's CUDA kernels as the
NumPy code doing what the kernel does, right or deliberately wrong; the rest of the module is
NumPy's own functions."""

from __future__ import annotations

import types

import numpy as np

from desktop_nn.nn.activations import get_activation


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

    numpy_functions = ("asarray", "empty_like", "maximum", "log1p", "exp", "abs", "sqrt",
                       "matmul", "multiply", "divide", "take")
    return types.SimpleNamespace(
        __name__="cupy", ElementwiseKernel=kernel, ReductionKernel=kernel, asnumpy=np.asarray,
        **{f: getattr(np, f) for f in numpy_functions})
