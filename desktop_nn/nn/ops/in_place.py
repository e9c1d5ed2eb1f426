"""The reference's gradients and updates written into arrays that already exist.

A training step that allocates nothing: the gradients go into the previous step's dW and db,
the updates into the parameter and its state, with the optimiser's one scratch array as the
only temporary. The operations are the reference's (reference.py), in an order that rounds
the same. ``xp`` is the arrays' module: NumpyOps runs these on each block of a big array,
CupyOps when one of its fused kernels is switched off.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

Array = Any


def fits(buf: Array | None, shape: tuple[int, ...], like: Array) -> bool:
    """Whether ``buf`` can take a result of ``shape`` with like's dtype and array type."""
    return buf is not None and buf.shape == shape and buf.dtype == like.dtype and \
        type(buf) is type(like)


def layer_gradients(xp: ModuleType, dz: Array, a_prev: Array, m: int, dW: Array | None,
                    db: Array | None) -> tuple[Array, Array]:
    """dW = dZ A_prev^T / m and db = sum(dZ, axis=1) / m, into dW and db when both are
    given. The 1/m is applied once, to the small dZ, in place: dZ is the caller's own array,
    not used after this."""
    dz *= 1.0 / m
    if dW is None or db is None:
        return dz @ a_prev.T, dz.sum(axis=1, keepdims=True)
    return xp.matmul(dz, a_prev.T, out=dW), dz.sum(axis=1, keepdims=True, out=db)


def sgd(xp: ModuleType, p: Array, g: Array, lr: float, buf: Array) -> None:
    """p -= lr g, with buf (p's shape) as the temporary."""
    xp.multiply(g, lr, out=buf)
    p -= buf


def momentum(xp: ModuleType, p: Array, g: Array, v: Array, lr: float, beta: float,
             buf: Array) -> None:
    """v = beta v + (1 - beta) g;  p -= lr v."""
    v *= beta
    xp.multiply(g, 1.0 - beta, out=buf)
    v += buf
    xp.multiply(v, lr, out=buf)
    p -= buf


def adam(xp: ModuleType, p: Array, g: Array, v: Array, s: Array, step: float, beta1: float,
         beta2: float, eps_hat: float, buf: Array) -> None:
    """v = beta1 v + (1 - beta1) g;  s = beta2 s + (1 - beta2) g^2;
    p -= step v / (sqrt(s) + eps_hat)."""
    v *= beta1
    xp.multiply(g, 1.0 - beta1, out=buf)
    v += buf
    s *= beta2
    xp.multiply(g, g, out=buf)
    buf *= 1.0 - beta2
    s += buf
    xp.sqrt(s, out=buf)
    buf += eps_hat
    xp.divide(v, buf, out=buf)
    buf *= step
    p -= buf


def adam_step_sum_of_squares(xp: ModuleType, v: Array, s: Array, step: float,
                             eps_hat: float, buf: Array) -> float:
    """sum(d * d) of Adam's step d = step v / (sqrt(s) + eps_hat), computed in buf (v's
    shape) with the operations and order of :func:`adam`, so d is the step's own bits.
    Returns a 0-d array (float64 sum)."""
    xp.sqrt(s, out=buf)
    buf += eps_hat
    xp.divide(v, buf, out=buf)
    buf *= step
    xp.multiply(buf, buf, out=buf)
    return buf.sum(dtype=float)  # float: float64 in any array module
