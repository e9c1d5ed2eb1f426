"""DeviceOps: the operations of a training step as the notes write them, on whole arrays.

This is the interface every device implements (numpy_ops.py, cupy_ops.py) and the reference
they are tested against: each method is the plain expression, for arrays of any module
(NumPy or CuPy, found with ``backend.array_module``), allocating what it needs. A device's
version must compute the same numbers; it may round differently, reuse buffers, split the work
into blocks or fuse it into one kernel.

Shapes, for layer l with n_l units on a batch of m examples:
    W (n_l, n_{l-1})    b (n_l, 1)    A_prev (n_{l-1}, m)    Z, A, dA, dZ (n_l, m)
The optimiser updates work in place on a parameter p (W or b), its gradient g (dW or db)
and its state (v, s), all of one shape.
"""

from __future__ import annotations

from typing import Any

from desktop_nn.backend import array_module
from desktop_nn.nn.activations import Activation
from desktop_nn.nn.costs import Cost

Array = Any


class DeviceOps:
    """The reference device: every op as one readable expression."""

    name = "reference"

    # ---------------------------------------------------------------- forward and backward
    def layer_forward(self, W: Array, b: Array, a_prev: Array,
                      g: Activation) -> tuple[Array, Array]:
        """Z = W A_prev + b and A = g(Z), both (n_l, m). A may be Z itself (linear)."""
        z = W @ a_prev + b
        return z, g.forward(z)

    def activation_backward(self, da: Array, z: Array, a: Array, g: Activation) -> Array:
        """dZ = dA * g'(Z), (n_l, m). May write into dA and return it (dA is the caller's
        own array, W^T dZ of the layer above)."""
        return g.backward(da, z, a)

    def layer_gradients(self, dz: Array, a_prev: Array, W: Array, m: int, decay: float,
                        dW: Array | None = None,
                        db: Array | None = None) -> tuple[Array, Array]:
        """dW = dZ A_prev^T / m + decay W  (n_l, n_{l-1})  and  db = sum(dZ, axis=1) / m
        (n_l, 1), with decay = lambda / n (L2; 0 without).

        ``dW``, ``db``: the arrays of a previous call, which a device may overwrite and
        return instead of allocating new ones (the reference allocates). dZ is not used after
        this call, so a device may also overwrite it."""
        grad_W = dz @ a_prev.T / m
        if decay:
            grad_W = grad_W + decay * W
        return grad_W, dz.sum(axis=1, keepdims=True) / m

    # ---------------------------------------------------------------- reductions
    def cost_value(self, cost: Cost, z: Array, a: Array, y: Array,
                   output: Activation) -> Array:
        """J(A[L], Y) averaged over the m columns, a 0-d array (Z, A, Y: (n_L, m))."""
        return cost.value(z, a, y, output)

    def sum_of_squares(self, a: Array) -> Array:
        """sum(a * a) over all entries, a 0-d array (||W||_F^2 for the L2 term and norms)."""
        return (a * a).sum()

    # ---------------------------------------------------------------- optimiser updates
    def scratch_like(self, p: Array) -> Array:
        """The one scratch array an optimiser keeps for parameter p (created once, in
        ``Optimizer.allocate``, and passed to every update of p). Shaped like p here."""
        return p * 0

    def sgd(self, p: Array, g: Array, lr: float, scratch: Array) -> None:
        """p -= lr g."""
        p -= lr * g

    def momentum(self, p: Array, g: Array, v: Array, lr: float, beta: float,
                 scratch: Array) -> None:
        """v = beta v + (1 - beta) g;  p -= lr v."""
        v[...] = beta * v + (1.0 - beta) * g
        p -= lr * v

    def adam(self, p: Array, g: Array, v: Array, s: Array, step: float, beta1: float,
             beta2: float, eps_hat: float, scratch: Array) -> None:
        """v = beta1 v + (1 - beta1) g;  s = beta2 s + (1 - beta2) g^2;
        p -= step v / (sqrt(s) + eps_hat)  (the bias corrections folded into step, eps_hat)."""
        v[...] = beta1 * v + (1.0 - beta1) * g
        s[...] = beta2 * s + (1.0 - beta2) * (g * g)
        p -= step * (v / (array_module(s).sqrt(s) + eps_hat))

    def adam_step_sum_of_squares(self, v: Array, s: Array, step: float, eps_hat: float,
                                 scratch: Array) -> Array:
        """||d||^2 of the step d = step v / (sqrt(s) + eps_hat) that :meth:`adam` subtracted
        from p, from the state it left (v, s): a 0-d float64 array. For the update ratio
        (nn/diagnostics.py): the step's size without keeping a copy of p. ``scratch`` may be
        overwritten."""
        d = step * (v / (array_module(s).sqrt(s) + eps_hat))
        return (d * d).sum(dtype=array_module(s).float64)

    # ---------------------------------------------------------------- data
    def gather(self, rows: Array, idx: Array, out: Array) -> Array:
        """out = rows[idx]: the examples idx (k,) of rows (m, n) into out (k, n), a shuffled
        mini-batch written into a reused buffer. Returns out."""
        out[...] = rows[idx]
        return out
