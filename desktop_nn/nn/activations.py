"""Activation functions g(Z), each with its derivative and its backward step dZ = dA * g'(Z).

Arrays are (n_l, m): one unit per row, one example per column. Every function takes the array
module from its input (``backend.array_module``), so the same code runs on NumPy and CuPy.
These are the reference formulas: the device ops (nn/ops/) call them, and the GPU's fused
kernels are checked against them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from desktop_nn.backend import array_module

Array = Any

LEAKY_SLOPE = 0.01


class Activation(ABC):
    """g(Z) and its derivative. ``derivative`` may use the cached A = g(Z) to save work."""

    name: str = ""
    elementwise: bool = True

    @abstractmethod
    def forward(self, z: Array) -> Array:
        """A = g(Z), same shape as Z."""

    @abstractmethod
    def derivative(self, z: Array, a: Array) -> Array:
        """g'(Z), same shape as Z."""

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        """dZ = dA * g'(Z) (shapes (n_l, m)): a new array, or dA itself."""
        return da * self.derivative(z, a)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, z: Array) -> Array:
        # exp(-|z|) never overflows, so z = +-1000 gives 1 and 0 with no warning.
        xp = array_module(z)
        e = xp.abs(z)
        xp.negative(e, out=e)
        xp.exp(e, out=e)  # e^-|z| in (0, 1]
        s = e + 1.0
        xp.reciprocal(s, out=s)  # 1 / (1 + e^-|z|) = sigmoid(|z|)
        e *= s  # e^-|z| / (1 + e^-|z|) = sigmoid(-|z|), accurate even when tiny
        return xp.where(z >= 0, s, e)

    def derivative(self, z: Array, a: Array) -> Array:
        return a * (1.0 - a)


class Tanh(Activation):
    name = "tanh"

    def forward(self, z: Array) -> Array:
        return array_module(z).tanh(z)

    def derivative(self, z: Array, a: Array) -> Array:
        return 1.0 - a * a


class ReLU(Activation):
    name = "relu"

    def forward(self, z: Array) -> Array:
        return array_module(z).maximum(z, 0)

    def derivative(self, z: Array, a: Array) -> Array:
        return (z > 0).astype(z.dtype)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        # dA * g'(Z) literally, g'(Z) being the 0/1 mask Z > 0: NumPy multiplies by a bool
        # array about 5x faster than it chooses with where(Z > 0, dA, 0) (wide's layers,
        # benchmarks/elementwise_parts.py). As a product, an overflowed dA (inf) gives NaN
        # even at a unit with Z <= 0, so the NaN guard stops the run there.
        return da * (z > 0)


class LeakyReLU(Activation):
    name = "leaky_relu"

    def forward(self, z: Array) -> Array:
        return array_module(z).where(z > 0, z, LEAKY_SLOPE * z)

    def derivative(self, z: Array, a: Array) -> Array:
        return array_module(z).where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        return array_module(da).where(z > 0, da, LEAKY_SLOPE * da)


class Linear(Activation):
    name = "linear"

    def forward(self, z: Array) -> Array:
        return z

    def derivative(self, z: Array, a: Array) -> Array:
        return array_module(z).ones_like(z)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        return da


class Softmax(Activation):
    """Softmax over the units of each example (axis 0). Not elementwise: its Jacobian is
    diag(a) - a a^T per column, so backward is dZ = A * (dA - sum(A * dA, axis=0))."""

    name = "softmax"
    elementwise = False

    def forward(self, z: Array) -> Array:
        xp = array_module(z)
        e = xp.exp(z - z.max(axis=0, keepdims=True))  # shift: exp never overflows
        return e / e.sum(axis=0, keepdims=True)

    def derivative(self, z: Array, a: Array) -> Array:
        """The diagonal of the Jacobian, a (1 - a); backward uses the full Jacobian."""
        return a * (1.0 - a)

    def backward(self, da: Array, z: Array, a: Array) -> Array:
        return a * (da - (a * da).sum(axis=0, keepdims=True))


ACTIVATIONS: dict[str, Activation] = {
    act.name: act for act in (Sigmoid(), Tanh(), ReLU(), LeakyReLU(), Linear(), Softmax())
}
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "linear", "tanh")

_ALIASES = {"leaky-relu": "leaky_relu", "leakyrelu": "leaky_relu", "identity": "linear"}


def get_activation(name: str) -> Activation:
    """The activation called ``name`` (sigmoid, tanh, relu, leaky_relu, linear, softmax)."""
    key = _ALIASES.get(name.lower(), name.lower())
    try:
        return ACTIVATIONS[key]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
