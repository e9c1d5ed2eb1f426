"""Gradient checking: two-sided finite differences of the cost against backprop.

For each parameter theta_i (order 2, the notes' formula):
    g_num_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)           error O(eps^2)
or, with order=4, the symmetric five-point stencil
    g_num_i = (8 [J(+eps) - J(-eps)] - [J(+2 eps) - J(-2 eps)]) / (12 eps)   error O(eps^4),
which allows a larger eps and so less rounding: deep sigmoid nets have first-layer gradients
~1e-5 whose order-2 estimate is dominated by the rounding of J (~1e-16 J / eps).
Per layer, relative error = ||g_num - g_bp|| / (||g_num|| + ||g_bp||) over W[l] and b[l] together.
Run it in float64: in float32 the rounding of J alone is ~1e-7 relative.

ReLU and leaky ReLU have a kink at z = 0 where the derivative jumps: a finite difference across
it averages the two sides and disagrees with backprop although both are right. Zero biases make
this common (an example that no unit of layer l-1 responds to gives Z[l] = 0 exactly), so each
LayerCheck counts the entries of Z[l] within ``eps`` of a kink.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_nn.nn.network import Network

Array = Any


TOLERANCE = 1e-7  # a layer passes when its relative error is at most this (float64)


@dataclass
class LayerCheck:
    layer: int
    relative_error: float
    n_params: int
    kinks: int = 0


def _cost(net: Network, X: Array, Y: Array, l2: float, n: int | None) -> float:
    _, caches = net.forward(X)
    return net.backend.to_float(net.cost_value(caches, Y, l2, n))


def gradcheck(
    net: Network,
    X: Array,
    Y: Array,
    l2: float = 0.0,
    n: int | None = None,
    eps: float = 1e-5,
    order: int = 2,
    max_params_per_layer: int | None = None,
    seed: int = 0,
) -> list[LayerCheck]:
    """Relative error per layer between numerical and backprop gradients.

    ``max_params_per_layer`` checks a random subset of each layer's entries (for big layers).
    The network's parameters are restored afterwards.
    """
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, got {order}")
    Y = net.xp.asarray(Y, dtype=net.dtype)
    _, caches = net.forward(X)
    grads = net.backward(caches, Y, l2, n)
    kinks = [
        int(net.backend.to_host((abs(c.z) <= 2 * eps).sum()))
        if act.name in ("relu", "leaky_relu") else 0
        for c, act in zip(caches, net.activations, strict=True)
    ]
    rng = np.random.default_rng(seed)
    results = []
    for l in range(len(net.W)):
        num, bp = [], []
        for param, grad in ((net.W[l], grads.dW[l]), (net.b[l], grads.db[l])):
            flat_grad = net.backend.to_host(grad).ravel()
            idx = np.arange(param.size)
            if max_params_per_layer is not None and param.size > max_params_per_layer:
                idx = rng.choice(param.size, max_params_per_layer, replace=False)
            for i in idx:
                pos = np.unravel_index(int(i), param.shape)
                old = float(param[pos])

                def shifted(h: float, param=param, pos=pos, old=old) -> float:
                    param[pos] = old + h
                    return _cost(net, X, Y, l2, n)

                g = (shifted(eps) - shifted(-eps)) / (2 * eps)
                if order == 4:
                    g2 = (shifted(2 * eps) - shifted(-2 * eps)) / (4 * eps)
                    g = (4 * g - g2) / 3
                param[pos] = old
                num.append(g)
                bp.append(float(flat_grad[i]))
        num_a, bp_a = np.array(num), np.array(bp)
        denom = np.linalg.norm(num_a) + np.linalg.norm(bp_a)
        err = float(np.linalg.norm(num_a - bp_a) / denom) if denom > 0 else 0.0
        results.append(LayerCheck(layer=l + 1, relative_error=err, n_params=len(num),
                                  kinks=kinks[l]))
    return results
