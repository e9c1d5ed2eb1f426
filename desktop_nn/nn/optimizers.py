"""Parameter updates from gradients. L2 is already in dW (Network.backward adds lambda/n W).

    sgd       W -= lr dW
    momentum  v = beta v + (1 - beta) dW;  W -= lr v                  (the course notes' form)
    adam      v = b1 v + (1 - b1) dW;  s = b2 s + (1 - b2) dW^2;
              W -= lr * v_hat / (sqrt(s_hat) + eps), with bias corrections v_hat = v / (1 - b1^t)
All updates are in place, so the arrays keep their dtype and device. The network's device ops
(``net.ops``, nn/ops/) carry them out: block by block on the CPU, one fused kernel on the GPU.
Besides its state (v, s), an optimiser keeps one scratch array per parameter for the ops
(``ops.scratch_like``); ``allocate`` creates them all, so that a step allocates nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from desktop_nn.backend import to_numpy
from desktop_nn.nn.network import Gradients, Network
from desktop_nn.nn.ops import DeviceOps

OPTIMIZERS = ("sgd", "momentum", "adam")

Array = Any
Key = tuple[str, int]  # ("W" | "b", layer index): stable when the network swaps its lists


class Optimizer:
    """Plain gradient descent; subclasses keep state per parameter."""

    name = "sgd"

    def __init__(self, lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.t = 0
        self.scratch: dict[Key, Array] = {}

    def step(self, net: Network, grads: Gradients) -> None:
        self.t += 1
        for group, params, deltas in (("W", net.W, grads.dW), ("b", net.b, grads.db)):
            for i, (p, g) in enumerate(zip(params, deltas, strict=True)):
                self._update(net.ops, (group, i), p, g)

    def _update(self, ops: DeviceOps, key: Key, p: Array, g: Array) -> None:
        """W -= lr dW."""
        ops.sgd(p, g, self.lr, self._scratch(ops, key, p))

    def step_sums_of_squares(self, net: Network, grads: Gradients) -> list[Array]:
        """||W[l] after - W[l] before||_F^2 of the step just taken, for each layer: 0-d
        float64 device arrays, from the update this optimiser subtracted (not from a copy
        of W): here lr dW, dW holding the L2 term too. Call it right after :meth:`step`, with
        the gradients that step used."""
        xp = net.xp
        return [self.lr**2 * xp.asarray(net.ops.sum_of_squares(g), dtype=xp.float64)
                for g in grads.dW]

    def allocate(self, net: Network) -> None:
        """Create every state and scratch array now, so that a step allocates nothing: a step
        that ran out of device memory half-way would leave some layers updated."""
        for group, params in (("W", net.W), ("b", net.b)):
            for i, p in enumerate(params):
                self._scratch(net.ops, (group, i), p)
                self._state((group, i), p)

    def _state(self, key: Key, p: Array) -> Any:
        """The per-parameter state of p, created on first use (none for plain SGD)."""
        return None

    def _scratch(self, ops: DeviceOps, key: Key, p: Array) -> Array:
        """p's scratch array for the ops, created on first use."""
        buf = self.scratch.get(key)
        if buf is None:
            buf = self.scratch[key] = ops.scratch_like(p)
        return buf

    def state_dict(self) -> dict:
        return {"name": self.name, "lr": self.lr, "t": self.t}

    def _state_groups(self) -> dict[str, dict[tuple[str, int], Any]]:
        """The per-parameter state to keep across a save and reopen (none for plain SGD)."""
        return {}

    def state_buffers(self) -> list[Any]:
        """The per-parameter state arrays themselves (on the device, updated in place), in a
        fixed order: what a copy of the optimiser taken between two steps must hold."""
        return [a for group in self._state_groups().values() for _, a in sorted(group.items())]

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Host copies of the per-parameter state, named "<state>/<W|b>/<layer index>"."""
        out = {}
        for name, group in self._state_groups().items():
            for (kind, i), a in group.items():
                out[f"{name}/{kind}/{i}"] = np.array(to_numpy(a))
        return out

    def load_state(self, state: dict, arrays: dict[str, np.ndarray], net: Network) -> None:
        """Restore :meth:`state_dict` and :meth:`state_arrays` onto ``net``'s device.
        Raises ValueError when they belong to another optimiser or network."""
        if state.get("name") != self.name:
            raise ValueError(f"the saved optimiser state is for {state.get('name')!r}, "
                             f"not {self.name!r}")
        groups = self._state_groups()
        params = {"W": net.W, "b": net.b}
        restored: dict[str, dict[tuple[str, int], Any]] = {name: {} for name in groups}
        for key, a in arrays.items():
            try:
                name, kind, index = key.split("/")
                p = params[kind][int(index)]
            except (ValueError, KeyError, IndexError):
                raise ValueError(f"unexpected optimiser state {key!r}") from None
            if name not in groups or a.shape != p.shape:
                raise ValueError(f"optimiser state {key!r} has shape {a.shape}, expected "
                                 f"{p.shape}")
            restored[name][(kind, int(index))] = net.xp.asarray(a, dtype=p.dtype)
        self.t = int(state.get("t", 0))
        for name, group in groups.items():
            group.clear()
            group.update(restored[name])


class Momentum(Optimizer):
    name = "momentum"

    def __init__(self, lr: float, beta: float = 0.9) -> None:
        super().__init__(lr)
        self.beta = float(beta)
        self.v: dict[Key, Array] = {}

    def _state_groups(self) -> dict[str, dict[Key, Array]]:
        return {"v": self.v}

    def _state(self, key: Key, p: Array) -> Array:
        if key not in self.v:
            self.v[key] = p * 0
        return self.v[key]

    def _update(self, ops: DeviceOps, key: Key, p: Array, g: Array) -> None:
        """v = beta v + (1 - beta) dW;  W -= lr v."""
        v = self._state(key, p)
        ops.momentum(p, g, v, self.lr, self.beta, self._scratch(ops, key, p))

    def step_sums_of_squares(self, net: Network, grads: Gradients) -> list[Array]:
        """The step was lr v, v as the step left it (dW's L2 term included)."""
        xp = net.xp
        return [self.lr**2 * xp.asarray(net.ops.sum_of_squares(self._state(("W", l), W)),
                                        dtype=xp.float64)
                for l, W in enumerate(net.W)]


class Adam(Optimizer):
    name = "adam"

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.v: dict[Key, Array] = {}
        self.s: dict[Key, Array] = {}

    def _state_groups(self) -> dict[str, dict[Key, Array]]:
        return {"v": self.v, "s": self.s}

    def _state(self, key: Key, p: Array) -> tuple[Array, Array]:
        if key not in self.v:
            self.v[key], self.s[key] = p * 0, p * 0
        return self.v[key], self.s[key]

    def _update(self, ops: DeviceOps, key: Key, p: Array, g: Array) -> None:
        """v = b1 v + (1 - b1) dW;  s = b2 s + (1 - b2) dW^2;
        W -= lr v_hat / (sqrt(s_hat) + eps)."""
        v, s = self._state(key, p)
        step, eps_hat = self._step_size()
        ops.adam(p, g, v, s, step, self.beta1, self.beta2, eps_hat,
                 self._scratch(ops, key, p))

    def _step_size(self) -> tuple[float, float]:
        """(step, eps_hat) of step t. Both bias corrections folded into one step size (as
        PyTorch does): lr v_hat / (sqrt(s_hat) + eps) = step * v / (sqrt(s) + eps_hat)."""
        step = self.lr * math.sqrt(1.0 - self.beta2**self.t) / (1.0 - self.beta1**self.t)
        eps_hat = self.eps * math.sqrt(1.0 - self.beta2**self.t)
        return step, eps_hat

    def step_sums_of_squares(self, net: Network, grads: Gradients) -> list[Array]:
        """The step was step v / (sqrt(s) + eps_hat), from v and s as the step left them,
        computed in the scratch array (which the step is done with)."""
        step, eps_hat = self._step_size()
        out = []
        for l, W in enumerate(net.W):
            v, s = self._state(("W", l), W)
            out.append(net.ops.adam_step_sum_of_squares(
                v, s, step, eps_hat, self._scratch(net.ops, ("W", l), W)))
        return out


def make_optimizer(name: str, lr: float, **kwargs: float) -> Optimizer:
    name = name.lower()
    if name == "sgd":
        return Optimizer(lr)
    if name == "momentum":
        return Momentum(lr, **kwargs)
    if name == "adam":
        return Adam(lr, **kwargs)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
