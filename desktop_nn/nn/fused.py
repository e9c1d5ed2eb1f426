"""Fused elementwise kernels for the GPU: one kernel where NumPy-style code launches several.

On a GPU a small network is launch-bound: every ``xp`` operation is its own kernel, and the
sigmoid alone (exp(-|z|), 1 / (1 + e), the choice by sign) is eight of them. Here each chain
of the training step becomes one CuPy ``ElementwiseKernel``:

    bias_activation   Z += b; A = g(Z)                      (forward, per layer; linear: A is Z)
    backward          dA *= g'(Z)  (written into dA)        (backward, per hidden layer)
    sgd               W -= lr dW
    momentum          v = beta v + (1 - beta) dW; W -= lr v
    adam              v, s updated; W -= step v / (sqrt(s) + eps_hat)
    bce_sum           sum(softplus(Z) - Y Z)                (the sigmoid cross-entropy cost)

The formulas are the ones of ``activations.py``, ``costs.py`` and ``optimizers.py``, which stay
the reference and the CPU path: :func:`fused_ops` returns :data:`NO_FUSION` for NumPy, whose
methods all answer None ("not done here, use the reference").

Each kernel checks itself the first time it runs for a dtype: it computes a small random
example both ways on the device and is used only when the results agree (within float
rounding; the GPU's fused multiply-add rounds differently). A kernel that fails to compile or
disagrees is switched off with a warning and the reference code runs instead, so a CuPy or
driver difference costs speed, never correctness.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from desktop_nn.backend import gpu_out_of_memory
from desktop_nn.nn.activations import LEAKY_SLOPE, get_activation

Array = Any

# g(Z) and dZ = dA * g'(Z) for the elementwise activations, in CUDA C. Each mirrors its
# reference in activations.py: the same operations in the same order. ReLU keeps a NaN (as
# NumPy's maximum does), so the NaN guard still sees it.
_FORWARD = {
    "sigmoid": "T e = exp(-fabs(z)); T s = (T)1 / ((T)1 + e); a = z >= (T)0 ? s : e * s;",
    "tanh": "a = tanh(z);",
    "relu": "a = (z > (T)0 || z != z) ? z : (T)0;",
    "leaky_relu": f"a = z > (T)0 ? z : (T){LEAKY_SLOPE!r} * z;",
}
_BACKWARD = {
    "sigmoid": "da = da * (a * ((T)1 - a));",
    "tanh": "da = da * ((T)1 - a * a);",
    "relu": "da = da * (z > (T)0 ? (T)1 : (T)0);",
    "leaky_relu": f"da = z > (T)0 ? da : (T){LEAKY_SLOPE!r} * da;",
}


class NoFusion:
    """The CPU's answer: nothing is fused, every method returns None (use the reference)."""

    def bias_activation(self, z: Array, b: Array, activation: str) -> Array | None:
        return None

    def backward(self, da: Array, z: Array, a: Array, activation: str) -> Array | None:
        return None

    def sgd(self, p: Array, g: Array, lr: float) -> bool | None:
        return None

    def momentum(self, p: Array, v: Array, g: Array, lr: float, beta: float) -> bool | None:
        return None

    def adam(self, p: Array, v: Array, s: Array, g: Array, step: float, beta1: float,
             beta2: float, eps_hat: float) -> bool | None:
        return None

    def bce_sum(self, z: Array, y: Array) -> Array | None:
        return None


NO_FUSION = NoFusion()


class CupyFusion(NoFusion):
    """The kernels, built on first use and checked against the reference once per dtype."""

    def __init__(self, cp: Any) -> None:
        self.cp = cp
        self._kernels: dict[str, Any] = {}
        self._state: dict[tuple[str, str], bool] = {}  # (kernel, dtype) -> usable
        self.disabled: dict[str, str] = {}  # kernel -> why it was switched off

    # ---------------------------------------------------------------- the kernels
    def _kernel(self, name: str) -> Any:
        k = self._kernels.get(name)
        if k is not None:
            return k
        cp = self.cp
        kind, _, act = name.partition(":")
        if kind == "forward":
            k = cp.ElementwiseKernel("T b", "T z, T a", "z += b; " + _FORWARD[act],
                                     f"dnn_bias_{act}")
        elif kind == "backward":
            k = cp.ElementwiseKernel("T z, T a", "T da", _BACKWARD[act], f"dnn_back_{act}")
        elif kind == "sgd":
            k = cp.ElementwiseKernel("T g, T lr", "T p", "p -= lr * g;", "dnn_sgd")
        elif kind == "momentum":
            k = cp.ElementwiseKernel("T g, T lr, T beta, T one_minus_beta", "T p, T v",
                                     "v = beta * v + one_minus_beta * g; p -= lr * v;",
                                     "dnn_momentum")
        elif kind == "adam":
            k = cp.ElementwiseKernel(
                "T g, T step, T beta1, T c1, T beta2, T c2, T eps_hat", "T p, T v, T s",
                "v = beta1 * v + c1 * g; s = beta2 * s + c2 * (g * g);"
                " p -= step * (v / (sqrt(s) + eps_hat));", "dnn_adam")
        elif kind == "bce":
            k = cp.ReductionKernel("T z, T y", "T out",
                                   "(z > (T)0 ? z : (T)0) + log1p(exp(-fabs(z))) - y * z",
                                   "a + b", "out = a", "0", "dnn_bce_sum")
        else:
            raise KeyError(name)
        self._kernels[name] = k
        return k

    def _usable(self, name: str, dtype: Any) -> bool:
        key = (name, np.dtype(dtype).name)
        ok = self._state.get(key)
        if ok is None:
            try:
                problem = self._self_check(name, np.dtype(dtype))
            except Exception as exc:  # a kernel that does not compile or launch
                if gpu_out_of_memory(exc, self.cp):
                    raise  # the device is full, the kernel may be fine: ask again next time
                problem = f"{exc.__class__.__name__}: {exc}"
            ok = self._state[key] = problem is None
            if not ok:
                self.disabled[name] = problem
                warnings.warn(f"desktop-nn: the fused GPU kernel {name!r} is switched off "
                              f"({problem}); the unfused code runs instead", RuntimeWarning,
                              stacklevel=3)
        return ok

    # ---------------------------------------------------------------- the operations
    def bias_activation(self, z: Array, b: Array, activation: str) -> Array | None:
        if b.dtype != z.dtype:
            return None
        if activation == "linear":
            z += b
            return z  # A = Z, as the reference
        name = f"forward:{activation}"
        if activation not in _FORWARD or not self._usable(name, z.dtype):
            return None
        a = self.cp.empty_like(z)
        self._kernel(name)(b, z, a)
        return a

    def backward(self, da: Array, z: Array, a: Array, activation: str) -> Array | None:
        if activation == "linear":
            return da
        name = f"backward:{activation}"
        if (activation not in _BACKWARD or not _same_dtype(da, z, a)
                or not self._usable(name, da.dtype)):
            return None
        self._kernel(name)(z, a, da)
        return da

    def sgd(self, p: Array, g: Array, lr: float) -> bool | None:
        if not _same_dtype(p, g) or not self._usable("sgd", p.dtype):
            return None
        self._kernel("sgd")(g, lr, p)
        return True

    def momentum(self, p: Array, v: Array, g: Array, lr: float, beta: float) -> bool | None:
        if not _same_dtype(p, v, g) or not self._usable("momentum", p.dtype):
            return None
        self._kernel("momentum")(g, lr, beta, 1.0 - beta, p, v)
        return True

    def adam(self, p: Array, v: Array, s: Array, g: Array, step: float, beta1: float,
             beta2: float, eps_hat: float) -> bool | None:
        if not _same_dtype(p, v, s, g) or not self._usable("adam", p.dtype):
            return None
        self._kernel("adam")(g, step, beta1, 1.0 - beta1, beta2, 1.0 - beta2, eps_hat,
                             p, v, s)
        return True

    def bce_sum(self, z: Array, y: Array) -> Array | None:
        if not _same_dtype(z, y) or not self._usable("bce", z.dtype):
            return None
        return self._kernel("bce")(z, y)

    # ---------------------------------------------------------------- the self-check
    def _self_check(self, name: str, dtype: np.dtype) -> str | None:
        """None when the kernel ``name`` matches the reference on a small example, else what
        differs."""
        cp = self.cp
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
            self._kernel(name)(b, z_fused, a)
            return _compare(cp, [(z_fused, z + b), (a, expected)], rtol)
        if kind == "backward":
            z = arr(7, 5, scale=4.0)
            g = get_activation(act)
            a, da = g.forward(z), arr(7, 5)
            expected = g.backward(da, z, a)
            got = da.copy()
            self._kernel(name)(z, a, got)
            return _compare(cp, [(got, expected)], rtol)
        p, g = arr(6, 4), arr(6, 4)
        # distinct scalars, so that two swapped arguments cannot pass
        if kind == "sgd":
            got = p.copy()
            self._kernel(name)(g, 0.05, got)
            return _compare(cp, [(got, p - dtype.type(0.05) * g)], rtol)
        if kind == "momentum":
            v = arr(6, 4)
            got_p, got_v = p.copy(), v.copy()
            self._kernel(name)(g, 0.05, 0.8, 0.2, got_p, got_v)
            new_v = v * dtype.type(0.8) + g * dtype.type(0.2)
            return _compare(cp, [(got_v, new_v), (got_p, p - dtype.type(0.05) * new_v)], rtol)
        if kind == "adam":
            v, s = arr(6, 4), arr(6, 4, positive=True)
            got_p, got_v, got_s = p.copy(), v.copy(), s.copy()
            self._kernel(name)(g, 0.01, 0.9, 0.1, 0.999, 0.001, 1e-8, got_p, got_v, got_s)
            t = dtype.type
            new_v = v * t(0.9) + g * t(0.1)
            new_s = s * t(0.999) + (g * g) * t(0.001)
            new_p = p - t(0.01) * (new_v / (cp.sqrt(new_s) + t(1e-8)))
            return _compare(cp, [(got_v, new_v), (got_s, new_s), (got_p, new_p)], rtol)
        if kind == "bce":
            z, y = arr(3, 9, scale=4.0), cp.asarray(rng.integers(0, 2, (3, 9)), dtype=dtype)
            expected = (cp.maximum(z, 0) + cp.log1p(cp.exp(-cp.abs(z))) - y * z).sum()
            return _compare(cp, [(self._kernel(name)(z, y), expected)], rtol)
        raise KeyError(name)


def _same_dtype(first: Array, *others: Array) -> bool:
    """A kernel's type T comes from its arrays: mixed dtypes go to the reference code."""
    return all(o.dtype == first.dtype for o in others)


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


_FUSION: dict[int, CupyFusion] = {}


def fused_ops(xp: Any) -> NoFusion:
    """The fused kernels for the array module ``xp``: CuPy's, or :data:`NO_FUSION`."""
    if xp is np or getattr(xp, "__name__", "") != "cupy":
        return NO_FUSION
    ops = _FUSION.get(id(xp))
    if ops is None:
        ops = _FUSION[id(xp)] = CupyFusion(xp)
    return ops
