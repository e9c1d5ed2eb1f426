"""A fully-connected network in the course notes' column layout, with hand-written backprop.

Shapes, for a batch of m examples and layers l = 1..L with n_0 = n_x inputs:
    X = A[0]  (n_x, m)        W[l] (n_l, n_{l-1})      b[l] (n_l, 1)
    Z[l] = W[l] A[l-1] + b[l]          A[l] = g[l](Z[l])          both (n_l, m)
The cost of the batch, with L2 weight decay over a training set of n examples:
    J = 1/m sum over the m columns of cost(A[L], Y)  + lambda / (2n) sum_l ||W[l]||_F^2
Backward, starting from the cost's output delta dZ[L]:
    dW[l] = dZ[l] A[l-1]^T / m  (+ lambda / n * W[l] with L2)
    db[l] = sum(dZ[l], axis=1, keepdims=True) / m
    dA[l-1] = W[l]^T dZ[l]          dZ[l-1] = dA[l-1] * g[l-1]'(Z[l-1])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from desktop_nn.backend import Backend, cpu_backend
from desktop_nn.nn.activations import (
    HIDDEN_ACTIVATIONS,
    Activation,
    get_activation,
)
from desktop_nn.nn.costs import check_pair, get_cost, normalise_cost_name
from desktop_nn.nn.init import BIAS_INITS, INITS, init_parameters
from desktop_nn.nn.ops import DeviceOps, device_ops

Array = Any
DTYPES = ("float32", "float64")


@dataclass
class NetworkSpec:
    """What the user designs: sizes, activations, cost and initialisation.

    ``hidden_activations`` has one name per hidden layer (a single name is repeated).
    """

    input_size: int
    hidden_sizes: list[int] = field(default_factory=list)
    hidden_activations: list[str] = field(default_factory=list)
    output_size: int = 1
    output_activation: str = "sigmoid"
    cost: str = "cross-entropy"
    init: str = "he"
    bias_init: str = "zeros"

    def __post_init__(self) -> None:
        self.hidden_sizes = [int(n) for n in self.hidden_sizes]
        acts = [get_activation(a).name for a in self.hidden_activations]
        if len(acts) == 1 and len(self.hidden_sizes) > 1:
            acts = acts * len(self.hidden_sizes)
        self.hidden_activations = acts
        self.output_activation = get_activation(self.output_activation).name
        self.cost = normalise_cost_name(self.cost)
        self.validate()

    @property
    def sizes(self) -> list[int]:
        """[n_x, n_1, ..., n_L]."""
        return [self.input_size, *self.hidden_sizes, self.output_size]

    @property
    def activations(self) -> list[str]:
        """g[1..L] names."""
        return [*self.hidden_activations, self.output_activation]

    @property
    def n_layers(self) -> int:
        """L, the number of layers with weights."""
        return len(self.hidden_sizes) + 1

    def parameter_count(self) -> int:
        s = self.sizes
        return sum(s[i] * s[i + 1] + s[i + 1] for i in range(len(s) - 1))

    def validate(self) -> None:
        """Raise ValueError with a message that names the bad field."""
        if self.input_size < 1:
            raise ValueError(f"input size must be at least 1, got {self.input_size}")
        if self.output_size < 1:
            raise ValueError(f"output size must be at least 1, got {self.output_size}")
        for i, n in enumerate(self.hidden_sizes, start=1):
            if n < 1:
                raise ValueError(f"hidden layer {i} must have at least 1 unit, got {n}")
        if len(self.hidden_activations) != len(self.hidden_sizes):
            raise ValueError(
                f"{len(self.hidden_sizes)} hidden layers need as many activations, "
                f"got {len(self.hidden_activations)}"
            )
        for i, a in enumerate(self.hidden_activations, start=1):
            if a not in HIDDEN_ACTIVATIONS:
                raise ValueError(f"hidden layer {i}: {a!r} is only valid as an output activation")
        msg = check_pair(self.output_activation, self.cost)
        if msg:
            raise ValueError(msg)
        if self.output_activation == "softmax" and self.output_size < 2:
            raise ValueError("a softmax output needs at least 2 units; use sigmoid for 2 classes")
        if self.init not in INITS:
            raise ValueError(f"unknown initialisation {self.init!r}; choose one of {INITS}")
        if self.bias_init not in BIAS_INITS:
            raise ValueError(f"unknown bias init {self.bias_init!r}; choose one of {BIAS_INITS}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NetworkSpec:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown network spec fields: {sorted(unknown)}")
        return cls(**d)


@dataclass
class LayerCache:
    """What backward needs from forward for layer l: A[l-1], Z[l], A[l]."""

    a_prev: Array
    z: Array
    a: Array


@dataclass
class Gradients:
    """dW[l] (n_l, n_{l-1}) and db[l] (n_l, 1) for l = 1..L (list index l - 1)."""

    dW: list[Array]
    db: list[Array]

    @classmethod
    def unset(cls, n_layers: int) -> Gradients:
        """Gradients still to compute: None everywhere (the ops allocate the arrays)."""
        return cls(dW=[None] * n_layers, db=[None] * n_layers)


class Network:
    """Parameters W[l], b[l] on a backend, forward and backward passes, predictions.

    The passes are the equations of the module docstring; ``ops`` (chosen once from the
    backend, nn/ops/) carries out each step's arithmetic on the device."""

    def __init__(
        self,
        spec: NetworkSpec,
        backend: Backend | None = None,
        dtype: str = "float32",
        seed: int | None = 0,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.spec = spec
        self.backend = backend or cpu_backend()
        self.xp = self.backend.xp
        # the arithmetic of forward, backward and the updates, for this backend's device
        self.ops: DeviceOps = device_ops(self.xp)
        self.dtype = np.dtype(dtype)
        self.activations: list[Activation] = [get_activation(a) for a in spec.activations]
        self.cost = get_cost(spec.cost)
        self.W: list[Array] = []
        self.b: list[Array] = []
        self.reset(seed)

    # ------------------------------------------------------------------ parameters
    def reset(self, seed: int | None = 0) -> None:
        """Draw fresh parameters with ``spec.init`` from a generator seeded with ``seed``."""
        rng = np.random.default_rng(seed)
        W, b = init_parameters(self.spec.sizes, self.spec.init, self.spec.bias_init, rng)
        self.set_parameters(W, b)

    def set_parameters(self, W: list[np.ndarray], b: list[np.ndarray]) -> None:
        """Copy host (or device) arrays in as this network's parameters, checking shapes."""
        sizes = self.spec.sizes
        if len(W) != self.spec.n_layers or len(b) != self.spec.n_layers:
            raise ValueError(f"expected {self.spec.n_layers} layers, got {len(W)} W and {len(b)} b")
        for l, (w, bb) in enumerate(zip(W, b, strict=True), start=1):
            if tuple(w.shape) != (sizes[l], sizes[l - 1]):
                raise ValueError(f"W[{l}] has shape {tuple(w.shape)}, "
                                 f"expected {(sizes[l], sizes[l - 1])}")
            if tuple(bb.shape) != (sizes[l], 1):
                raise ValueError(f"b[{l}] has shape {tuple(bb.shape)}, expected {(sizes[l], 1)}")
        xp = self.xp
        self.W = [xp.ascontiguousarray(xp.asarray(self.backend.to_host(w), dtype=self.dtype))
                  for w in W]
        self.b = [xp.ascontiguousarray(xp.asarray(self.backend.to_host(x), dtype=self.dtype))
                  for x in b]

    def get_parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Host copies of W[1..L] and b[1..L]."""
        return ([np.array(self.backend.to_host(w)) for w in self.W],
                [np.array(self.backend.to_host(x)) for x in self.b])

    def copy(self) -> Network:
        other = Network.__new__(Network)
        other.__dict__.update(self.__dict__)
        other.W = [w.copy() for w in self.W]
        other.b = [x.copy() for x in self.b]
        return other

    def to(self, backend: Backend) -> Network:
        """This network's parameters on another backend (a new Network)."""
        other = Network(self.spec, backend, str(self.dtype), seed=None)
        other.set_parameters(*self.get_parameters())
        return other

    # ------------------------------------------------------------------ passes
    def as_input(self, X: Array) -> Array:
        """X on this network's device and dtype, shape-checked: (n_x, m)."""
        X = self.xp.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[0] != self.spec.input_size:
            raise ValueError(f"X must have shape ({self.spec.input_size}, m), got {X.shape}")
        return X

    def forward(self, X: Array) -> tuple[Array, list[LayerCache]]:
        """A[L] (n_L, m) and the per-layer caches for backward."""
        a = self.as_input(X)
        caches = []
        for W, b, g in zip(self.W, self.b, self.activations, strict=True):
            z, a_next = self.ops.layer_forward(W, b, a, g)  # Z = W A_prev + b, A = g(Z)
            caches.append(LayerCache(a_prev=a, z=z, a=a_next))
            a = a_next
        return a, caches

    def cost_value(self, caches: list[LayerCache], Y: Array, l2: float = 0.0,
                   n: int | None = None) -> Array:
        """J on the batch (0-d device array): data cost + lambda / (2n) sum ||W[l]||_F^2."""
        last = caches[-1]
        Y = self.xp.asarray(Y, dtype=self.dtype)
        J = self.ops.cost_value(self.cost, last.z, last.a, Y, self.activations[-1])
        if l2:
            n = n or last.z.shape[1]
            J = J + (l2 / (2.0 * n)) * sum(self.ops.sum_of_squares(W) for W in self.W)
        return J

    def backward(self, caches: list[LayerCache], Y: Array, l2: float = 0.0,
                 n: int | None = None, out: Gradients | None = None) -> Gradients:
        """dW[l], db[l] of the batch cost, with the equations of the module docstring.

        ``n`` is the training-set size that scales L2 (lambda / n * W); it defaults to m.
        ``out``: the Gradients of a previous call, filled again and returned (the ops write
        over its arrays rather than allocate new ones: a trainer passes them back every step).
        """
        last = caches[-1]
        m = last.z.shape[1]
        Y = self.xp.asarray(Y, dtype=self.dtype)
        if Y.shape != last.a.shape:
            raise ValueError(f"Y must have shape {last.a.shape}, got {Y.shape}")
        decay = l2 / (n or m)  # lambda / n
        L = len(caches)
        grads = out if out is not None else Gradients.unset(L)
        dz = self.cost.delta(last.z, last.a, Y, self.activations[-1])  # dZ[L]
        for l in range(L - 1, -1, -1):  # layer L down to 1 (list index l: the notes' l + 1)
            W, a_prev = self.W[l], caches[l].a_prev
            if l > 0:  # dA[l-1] = W[l]^T dZ[l], taken first: the ops may reuse dZ for dW, db
                da_prev = W.T @ dz
            grads.dW[l], grads.db[l] = self.ops.layer_gradients(dz, a_prev, W, m, decay,
                                                                grads.dW[l], grads.db[l])
            if l > 0:  # dZ[l-1] = dA[l-1] * g[l-1]'(Z[l-1])
                below = caches[l - 1]
                dz = self.ops.activation_backward(da_prev, below.z, below.a,
                                                  self.activations[l - 1])
        return grads

    def predict_proba(self, X: Array, batch_size: int = 8192) -> Array:
        """A[L] (n_L, m) on the device, computed in chunks of columns to bound memory."""
        X = self.as_input(X)
        m = X.shape[1]
        if m <= batch_size:
            return self._output(X)
        return self.xp.concatenate(
            [self._output(X[:, i:i + batch_size]) for i in range(0, m, batch_size)], axis=1)

    def _output(self, a: Array) -> Array:
        for W, b, g in zip(self.W, self.b, self.activations, strict=True):
            a = self.ops.layer_forward(W, b, a, g)[1]
        return a

    def predict(self, X: Array) -> Array:
        """Class index per example, (m,): argmax over outputs, or A > 0.5 for one output."""
        return labels_from_outputs(self.predict_proba(X))


def labels_from_outputs(A: Array) -> Array:
    """(n_L, m) outputs or one-hot / 0-1 targets -> (m,) integer class indices."""
    if A.shape[0] == 1:
        return (A[0] > 0.5).astype(np.int64)
    return A.argmax(axis=0)


def accuracy(A: Array, Y: Array) -> float:
    """Share of columns whose predicted class (from A) matches the class in Y."""
    pred = labels_from_outputs(A)
    true = labels_from_outputs(Y)
    return float((pred == true).mean())
