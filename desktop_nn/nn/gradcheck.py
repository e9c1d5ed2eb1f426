"""Gradient checking: two-sided finite differences of the cost against backprop.

For each parameter theta_i: g_num_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps).
Per layer, relative error = ||g_num - g_bp|| / (||g_num|| + ||g_bp||) over W[l] and b[l] together.
Run it in float64: in float32 the rounding of J alone is ~1e-7 relative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_nn.nn.network import Network

Array = Any


@dataclass
class LayerCheck:
    layer: int
    relative_error: float
    n_params: int


def _cost(net: Network, X: Array, Y: Array, l2: float, n: int | None) -> float:
    _, caches = net.forward(X)
    return net.backend.to_float(net.cost_value(caches, Y, l2, n))


def gradcheck(
    net: Network,
    X: Array,
    Y: Array,
    l2: float = 0.0,
    n: int | None = None,
    eps: float = 1e-6,
    max_params_per_layer: int | None = None,
    seed: int = 0,
) -> list[LayerCheck]:
    """Relative error per layer between numerical and backprop gradients.

    ``max_params_per_layer`` checks a random subset of each layer's entries (for big layers).
    The network's parameters are restored afterwards.
    """
    Y = net.xp.asarray(Y, dtype=net.dtype)
    _, caches = net.forward(X)
    grads = net.backward(caches, Y, l2, n)
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
                param[pos] = old + eps
                j_plus = _cost(net, X, Y, l2, n)
                param[pos] = old - eps
                j_minus = _cost(net, X, Y, l2, n)
                param[pos] = old
                num.append((j_plus - j_minus) / (2 * eps))
                bp.append(float(flat_grad[i]))
        num_a, bp_a = np.array(num), np.array(bp)
        denom = np.linalg.norm(num_a) + np.linalg.norm(bp_a)
        err = float(np.linalg.norm(num_a - bp_a) / denom) if denom > 0 else 0.0
        results.append(LayerCheck(layer=l + 1, relative_error=err, n_params=len(num)))
    return results
