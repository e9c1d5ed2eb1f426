"""CupyOps: the device ops on an NVIDIA GPU, with fused CUDA kernels (cuda_kernels.py).

Each elementwise chain of a step (bias and activation, dA * g'(Z), an optimiser update, the
sigmoid cross-entropy sum) runs as one kernel instead of several. A kernel checks itself the
first time it runs for a dtype: it computes a small random example both ways on the device and
is used only when the results agree. A kernel that fails to compile or disagrees is switched
off with a warning and the reference runs instead (written into the same buffers, in_place.py),
so a CuPy or driver difference costs speed, never correctness.

Arrays of mixed dtypes, and the activations with no kernel (linear, softmax), take the
reference too. The gradients are written into the previous step's arrays as on the CPU.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from desktop_nn.backend import gpu_out_of_memory
from desktop_nn.nn.activations import Activation
from desktop_nn.nn.costs import Cost
from desktop_nn.nn.ops import cuda_kernels, in_place
from desktop_nn.nn.ops.reference import DeviceOps

Array = Any


class CupyOps(DeviceOps):
    """The GPU's ops for the CuPy module ``cp``; kernels built and checked on first use."""

    name = "cupy"

    def __init__(self, cp: Any) -> None:
        self.cp = cp
        self._kernels: dict[str, Any] = {}
        self._state: dict[tuple[str, str], bool] = {}  # (kernel, dtype) -> usable
        self.disabled: dict[str, str] = {}  # kernel -> why it was switched off

    # ---------------------------------------------------------------- forward and backward
    def layer_forward(self, W: Array, b: Array, a_prev: Array,
                      g: Activation) -> tuple[Array, Array]:
        z = W @ a_prev
        name = f"forward:{g.name}"
        if g.name in cuda_kernels.FORWARD and self._fused(name, z, b):
            a = self.cp.empty_like(z)
            self._kernel(name)(b, z, a)  # Z += b; A = g(Z)
            return z, a
        z += b
        return z, g.forward(z)

    def activation_backward(self, da: Array, z: Array, a: Array, g: Activation) -> Array:
        name = f"backward:{g.name}"
        if g.name in cuda_kernels.BACKWARD and self._fused(name, da, z, a):
            self._kernel(name)(z, a, da)  # dA *= g'(Z)
            return da
        return g.backward(da, z, a)

    def layer_gradients(self, dz: Array, a_prev: Array, W: Array, m: int, decay: float,
                        dW: Array | None = None,
                        db: Array | None = None) -> tuple[Array, Array]:
        reuse = in_place.fits(dW, W.shape, W) and in_place.fits(db, (W.shape[0], 1), W)
        dW, db = in_place.layer_gradients(self.cp, dz, a_prev, m, dW if reuse else None,
                                          db if reuse else None)
        if decay:
            dW += float(decay) * W
        return dW, db

    # ---------------------------------------------------------------- reductions
    def cost_value(self, cost: Cost, z: Array, a: Array, y: Array,
                   output: Activation) -> Array:
        if cost.name == "cross-entropy" and output.name == "sigmoid" and \
                self._fused("bce", z, y):
            return self._kernel("bce")(z, y) / z.shape[1]  # sum(softplus(Z) - Y Z) / m
        return cost.value(z, a, y, output)

    # ---------------------------------------------------------------- optimiser updates
    def sgd(self, p: Array, g: Array, lr: float, scratch: Array) -> None:
        if self._fused("sgd", p, g):
            self._kernel("sgd")(g, lr, p)
        else:
            in_place.sgd(self.cp, p, g, lr, scratch)

    def momentum(self, p: Array, g: Array, v: Array, lr: float, beta: float,
                 scratch: Array) -> None:
        if self._fused("momentum", p, g, v):
            self._kernel("momentum")(g, lr, beta, 1.0 - beta, p, v)
        else:
            in_place.momentum(self.cp, p, g, v, lr, beta, scratch)

    def adam(self, p: Array, g: Array, v: Array, s: Array, step: float, beta1: float,
             beta2: float, eps_hat: float, scratch: Array) -> None:
        if self._fused("adam", p, g, v, s):
            self._kernel("adam")(g, step, beta1, 1.0 - beta1, beta2, 1.0 - beta2, eps_hat,
                                 p, v, s)
        else:
            in_place.adam(self.cp, p, g, v, s, step, beta1, beta2, eps_hat, scratch)

    # ---------------------------------------------------------------- data
    def adam_step_sum_of_squares(self, v: Array, s: Array, step: float, eps_hat: float,
                                 scratch: Array) -> Array:
        # in the optimiser's scratch (p's shape on the GPU): no allocation
        return in_place.adam_step_sum_of_squares(self.cp, v, s, step, eps_hat, scratch)

    def gather(self, rows: Array, idx: Array, out: Array) -> Array:
        return self.cp.take(rows, idx, axis=0, out=out)  # written into out, no copy

    # ---------------------------------------------------------------- the kernels
    def _fused(self, name: str, first: Array, *others: Array) -> bool:
        """Whether to run kernel ``name`` on these arrays: one dtype (a kernel's type T comes
        from its arrays), and the kernel usable for it."""
        return all(o.dtype == first.dtype for o in others) and self._usable(name, first.dtype)

    def _kernel(self, name: str) -> Any:
        k = self._kernels.get(name)
        if k is None:
            k = self._kernels[name] = cuda_kernels.build(self.cp, name)
        return k

    def _usable(self, name: str, dtype: Any) -> bool:
        key = (name, np.dtype(dtype).name)
        ok = self._state.get(key)
        if ok is None:
            try:
                problem = cuda_kernels.self_check(self.cp, self._kernel(name), name,
                                                  np.dtype(dtype))
            except Exception as exc:  # a kernel that does not compile or launch
                if gpu_out_of_memory(exc, self.cp):
                    raise  # the device is full, the kernel may be fine: ask again next time
                problem = f"{exc.__class__.__name__}: {exc}"
            ok = self._state[key] = problem is None
            if not ok:
                self.disabled[name] = problem
                warnings.warn(f"desktop-nn: the fused GPU kernel {name!r} is switched off "
                              f"({problem}); the unfused code runs instead", RuntimeWarning,
                              stacklevel=4)
        return ok
