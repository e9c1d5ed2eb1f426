"""Costs J(A[L], Y) averaged over the m examples of a batch, and the output delta dZ[L].

All arrays are (n_L, m). ``delta`` returns dZ[L] *per example* (no 1/m): the 1/m is applied once,
in dW = dZ A_prev^T / m and db = sum(dZ) / m, exactly as in the course notes.

Logs are computed from the pre-activation Z where the output activation allows it, so J stays
finite when A rounds to exactly 0 or 1:
    -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z
    -sum_k y_k log softmax(z)_k = sum_k y_k (logsumexp(z) - z_k)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from desktop_nn.backend import array_module
from desktop_nn.nn.activations import Activation

Array = Any

COSTS = ("cross-entropy", "quadratic")
_ALIASES = {"cross_entropy": "cross-entropy", "ce": "cross-entropy",
            "crossentropy": "cross-entropy", "mse": "quadratic", "quad": "quadratic"}


def normalise_cost_name(name: str) -> str:
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in COSTS:
        raise ValueError(f"unknown cost {name!r}; choose cross-entropy or quadratic")
    return key


def _softplus(xp, z: Array) -> Array:
    """log(1 + e^z) without overflow."""
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


class Cost(ABC):
    name = ""

    @abstractmethod
    def value(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        """J as a 0-d array on the device (mean over the m columns)."""

    @abstractmethod
    def delta(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        """dZ[L] per example, (n_L, m): a new array (Network.backward scales it in place)."""


class CrossEntropy(Cost):
    """Binary cross-entropy (summed over output units) with sigmoid outputs,
    categorical cross-entropy with a softmax output. Both give dZ[L] = A - Y."""

    name = "cross-entropy"

    def value(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        xp = array_module(z)
        m = z.shape[1]
        if output.name == "sigmoid":
            return (_softplus(xp, z) - y * z).sum() / m
        if output.name == "softmax":
            zmax = z.max(axis=0, keepdims=True)
            lse = zmax + xp.log(xp.exp(z - zmax).sum(axis=0, keepdims=True))
            return (y * (lse - z)).sum() / m
        raise ValueError(check_pair(output.name, self.name))

    def delta(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        if output.name not in ("sigmoid", "softmax"):
            raise ValueError(check_pair(output.name, self.name))
        return a - y


class Quadratic(Cost):
    """J = 1/(2m) sum ||y - a||^2; dA = A - Y, so dZ[L] = (A - Y) * g'(Z) (through the
    Jacobian for softmax)."""

    name = "quadratic"

    def value(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        d = a - y
        return (d * d).sum() / (2 * z.shape[1])

    def delta(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        return output.backward(a - y, z, a)


_COSTS: dict[str, Cost] = {"cross-entropy": CrossEntropy(), "quadratic": Quadratic()}

# Output activation -> the costs that make sense with it.
VALID_PAIRS: dict[str, tuple[str, ...]] = {
    "sigmoid": ("cross-entropy", "quadratic"),
    "softmax": ("cross-entropy", "quadratic"),
    "linear": ("quadratic",),
    "tanh": ("quadratic",),
}


def check_pair(output: str, cost: str) -> str:
    """An error message when ``cost`` does not go with the ``output`` activation, else ''."""
    allowed = VALID_PAIRS.get(output)
    if allowed is None:
        return f"{output!r} cannot be an output activation; use one of {', '.join(VALID_PAIRS)}"
    if cost not in allowed:
        return (f"cost {cost!r} needs outputs in (0, 1): use a sigmoid or softmax output, "
                f"or the quadratic cost with a {output} output")
    return ""


def get_cost(name: str) -> Cost:
    return _COSTS[normalise_cost_name(name)]
