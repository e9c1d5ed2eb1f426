"""The GPU's fused kernels: their CUDA source, how to build them with CuPy, and the small
example each is checked on against the reference before CupyOps uses it.

On a GPU a small network is launch-bound: every ``xp`` operation is its own kernel, and the
sigmoid alone (exp(-|z|), 1 / (1 + e), the choice by sign) is eight of them. Here each chain
of the training step becomes one CuPy ``ElementwiseKernel`` (or ``ReductionKernel``):

    forward:<g>    Z += b; A = g(Z)                      (forward, per layer)
    backward:<g>   dA *= g'(Z)  (written into dA)        (backward, per hidden layer)
    sgd            W -= lr dW
    momentum       v = beta v + (1 - beta) dW; W -= lr v
    adam           v, s updated; W -= step v / (sqrt(s) + eps_hat)
    bce            sum(softplus(Z) - Y Z)                (the sigmoid cross-entropy cost)

The formulas are the ones of ``activations.py``, ``costs.py`` and ``reference.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from desktop_nn.nn.activations import LEAKY_SLOPE, get_activation

Array = Any

# g(Z) and dZ = dA * g'(Z) for the elementwise activations, in CUDA C. Each mirrors its
# reference in activations.py: the same operations in the same order. ReLU keeps a NaN (as
# NumPy's maximum does), so the NaN guard still sees it.
FORWARD = {
    "sigmoid": "T e = exp(-fabs(z)); T s = (T)1 / ((T)1 + e); a = z >= (T)0 ? s : e * s;",
    "tanh": "a = tanh(z);",
    "relu": "a = (z > (T)0 || z != z) ? z : (T)0;",
    "leaky_relu": f"a = z > (T)0 ? z : (T){LEAKY_SLOPE!r} * z;",
}
BACKWARD = {
    "sigmoid": "da = da * (a * ((T)1 - a));",
    "tanh": "da = da * ((T)1 - a * a);",
    "relu": "da = da * (z > (T)0 ? (T)1 : (T)0);",
    "leaky_relu": f"da = z > (T)0 ? da : (T){LEAKY_SLOPE!r} * da;",
}

# Every kernel ``build`` makes (tests/test_cuda_source.py compiles each one's CUDA source).
NAMES = (*(f"forward:{act}" for act in FORWARD), *(f"backward:{act}" for act in BACKWARD),
         "sgd", "momentum", "adam", "bce")


def build(cp: Any, name: str) -> Any:
    """The kernel called ``name`` (see the module docstring), built with CuPy module ``cp``.
    Argument order: inputs first, then the arrays written (as CuPy's kernels take them)."""
    kind, _, act = name.partition(":")
    if kind == "forward":
        return cp.ElementwiseKernel("T b", "T z, T a", "z += b; " + FORWARD[act],
                                    f"dnn_bias_{act}")
    if kind == "backward":
        return cp.ElementwiseKernel("T z, T a", "T da", BACKWARD[act], f"dnn_back_{act}")
    if kind == "sgd":
        return cp.ElementwiseKernel("T g, T lr", "T p", "p -= lr * g;", "dnn_sgd")
    if kind == "momentum":
        return cp.ElementwiseKernel("T g, T lr, T beta, T one_minus_beta", "T p, T v",
                                    "v = beta * v + one_minus_beta * g; p -= lr * v;",
                                    "dnn_momentum")
    if kind == "adam":
        return cp.ElementwiseKernel(
            "T g, T step, T beta1, T c1, T beta2, T c2, T eps_hat", "T p, T v, T s",
            "v = beta1 * v + c1 * g; s = beta2 * s + c2 * (g * g);"
            " p -= step * (v / (sqrt(s) + eps_hat));", "dnn_adam")
    if kind == "bce":
        return cp.ReductionKernel("T z, T y", "T out",
                                  "(z > (T)0 ? z : (T)0) + log1p(exp(-fabs(z))) - y * z",
                                  "a + b", "out = a", "0", "dnn_bce_sum")
    raise KeyError(name)


def self_check(cp: Any, kernel: Any, name: str, dtype: np.dtype) -> str | None:
    """None when ``kernel`` (the one called ``name``) matches the reference on a small random
    example in ``dtype``, else what differs. Within float rounding: the GPU's fused
    multiply-add rounds differently."""
    rng = np.random.default_rng(0)

    def arr(*shape, scale=1.0, positive=False):
        a = rng.normal(scale=scale, size=shape)
        return cp.asarray(np.abs(a) if positive else a, dtype=dtype)

    rtol = 1e-4 if dtype == np.float32 else 1e-10
    kind, _, act = name.partition(":")
    if kind == "forward":
        z, b = arr(7, 5, scale=4.0), arr(7, 1)
        g = get_activation(act)
        expected = g.forward(z + b)
        z_fused = z.copy()
        a = cp.empty_like(z)
        kernel(b, z_fused, a)
        return _compare(cp, [(z_fused, z + b), (a, expected)], rtol)
    if kind == "backward":
        z = arr(7, 5, scale=4.0)
        g = get_activation(act)
        a, da = g.forward(z), arr(7, 5)
        expected = g.backward(da, z, a)
        got = da.copy()
        kernel(z, a, got)
        return _compare(cp, [(got, expected)], rtol)
    p, g = arr(6, 4), arr(6, 4)
    # distinct scalars, so that two swapped arguments cannot pass
    if kind == "sgd":
        got = p.copy()
        kernel(g, 0.05, got)
        return _compare(cp, [(got, p - dtype.type(0.05) * g)], rtol)
    if kind == "momentum":
        v = arr(6, 4)
        got_p, got_v = p.copy(), v.copy()
        kernel(g, 0.05, 0.8, 0.2, got_p, got_v)
        new_v = v * dtype.type(0.8) + g * dtype.type(0.2)
        return _compare(cp, [(got_v, new_v), (got_p, p - dtype.type(0.05) * new_v)], rtol)
    if kind == "adam":
        v, s = arr(6, 4), arr(6, 4, positive=True)
        got_p, got_v, got_s = p.copy(), v.copy(), s.copy()
        kernel(g, 0.01, 0.9, 0.1, 0.999, 0.001, 1e-8, got_p, got_v, got_s)
        t = dtype.type
        new_v = v * t(0.9) + g * t(0.1)
        new_s = s * t(0.999) + (g * g) * t(0.001)
        new_p = p - t(0.01) * (new_v / (cp.sqrt(new_s) + t(1e-8)))
        return _compare(cp, [(got_v, new_v), (got_s, new_s), (got_p, new_p)], rtol)
    if kind == "bce":
        z, y = arr(3, 9, scale=4.0), cp.asarray(rng.integers(0, 2, (3, 9)), dtype=dtype)
        expected = (cp.maximum(z, 0) + cp.log1p(cp.exp(-cp.abs(z))) - y * z).sum()
        return _compare(cp, [(kernel(z, y), expected)], rtol)
    raise KeyError(name)


def _compare(cp: Any, pairs: list[tuple[Array, Array]], rtol: float) -> str | None:
    for i, (got, expected) in enumerate(pairs):
        got, expected = cp.asnumpy(got), cp.asnumpy(expected)
        if got.shape != expected.shape or got.dtype != expected.dtype:
            return f"output {i}: {got.dtype}{got.shape} instead of {expected.dtype}" \
                   f"{expected.shape}"
        if not np.allclose(got, expected, rtol=rtol, atol=rtol):
            return f"output {i} differs from the reference by up to " \
                   f"{float(np.max(np.abs(got - expected))):.3g}"
    return None
