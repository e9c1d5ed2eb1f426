"""Weight initialisation. Random numbers are drawn on the host from a seeded NumPy generator,
so a seed gives the same network on the CPU and on the GPU.

Schemes for W[l] (n_l, n_{l-1}), with n_in = n_{l-1}:
    he      N(0, 1) * sqrt(2 / n_in)              (ReLU layers)
    xavier  N(0, 1) * sqrt(2 / (n_in + n_l))      (Glorot normal)
    small   N(0, 1) * 0.01                        (the course notes' first attempt)
    normal  N(0, 1)                               (Nielsen ch. 1)
    scaled  N(0, 1) / sqrt(n_in)                  (Nielsen ch. 3, the course's deep nets)
Biases b[l] (n_l, 1) are zeros, or N(0, 1) with bias_init="normal" (Nielsen's networks).
"""

from __future__ import annotations

import math

import numpy as np

INITS = ("he", "xavier", "small", "normal", "scaled")
BIAS_INITS = ("zeros", "normal")


def weight_scale(scheme: str, n_in: int, n_out: int) -> float:
    if scheme == "he":
        return math.sqrt(2.0 / n_in)
    if scheme == "xavier":
        return math.sqrt(2.0 / (n_in + n_out))
    if scheme == "small":
        return 0.01
    if scheme == "normal":
        return 1.0
    if scheme == "scaled":
        return 1.0 / math.sqrt(n_in)
    raise ValueError(f"unknown initialisation {scheme!r}; choose one of {', '.join(INITS)}")


def init_parameters(
    sizes: list[int], scheme: str, bias_init: str, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Host float64 W[l] (sizes[l], sizes[l-1]) and b[l] (sizes[l], 1) for l = 1..L."""
    if bias_init not in BIAS_INITS:
        raise ValueError(f"unknown bias init {bias_init!r}; choose zeros or normal")
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights.append(rng.standard_normal((n_out, n_in)) * weight_scale(scheme, n_in, n_out))
        if bias_init == "normal":
            biases.append(rng.standard_normal((n_out, 1)))
        else:
            biases.append(np.zeros((n_out, 1)))
    return weights, biases
