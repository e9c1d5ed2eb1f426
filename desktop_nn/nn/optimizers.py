"""Parameter updates from gradients. L2 is already in dW (Network.backward adds lambda/n W).

    sgd       W -= lr dW
    momentum  v = beta v + (1 - beta) dW;  W -= lr v                  (the course notes' form)
    adam      v = b1 v + (1 - b1) dW;  s = b2 s + (1 - b2) dW^2;
              W -= lr * v_hat / (sqrt(s_hat) + eps), with bias corrections v_hat = v / (1 - b1^t)
All updates are in place, so the arrays keep their dtype and device.

On the CPU a big parameter is updated block by block (``blocks.BLOCK`` elements at a time):
each chain of NumPy operations then runs on a block that stays in the core's cache, so the
update reads W and dW (and the state) from memory once instead of once per operation. The
operations and their order are the same, so the result is the same to the bit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from desktop_nn.nn import blocks
from desktop_nn.nn.activations import _xp
from desktop_nn.nn.fused import fused_ops
from desktop_nn.nn.network import Gradients, Network

OPTIMIZERS = ("sgd", "momentum", "adam")


def _to_host(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


class Optimizer:
    """Plain gradient descent; subclasses keep state per parameter."""

    name = "sgd"

    def __init__(self, lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.t = 0
        self._buffers: dict[tuple[str, int], Any] = {}
        self._block_buffers: dict[np.dtype, np.ndarray] = {}

    def step(self, net: Network, grads: Gradients) -> None:
        self.t += 1
        # State is keyed by ("W" | "b", layer): stable when the network swaps its lists.
        for group, params, deltas in (("W", net.W, grads.dW), ("b", net.b, grads.db)):
            for i, (p, g) in enumerate(zip(params, deltas, strict=True)):
                self._update(group, i, p, g)

    def allocate(self, net: Network) -> None:
        """Create every state and scratch array now, so that a step allocates nothing: a step
        that ran out of device memory half-way would leave some layers updated."""
        for group, params in (("W", net.W), ("b", net.b)):
            for i, p in enumerate(params):
                if blocks.blockable(p):
                    self._block_buffer(p.dtype)
                else:
                    self._scratch(group, i, p)
                self._state(group, i, p)

    def _state(self, group: str, i: int, p: Any) -> Any:
        """The per-parameter state of p, created on first use (none for plain SGD)."""
        return None

    def _update(self, group: str, i: int, p: Any, g: Any) -> None:
        if fused_ops(_xp(p)).sgd(p, g, self.lr):  # one kernel on the GPU
            return
        xp = _xp(p)
        for pb, gb, step in self._blocks(group, i, p, g):
            xp.multiply(gb, self.lr, out=step)
            pb -= step

    def _blocks(self, group: str, i: int, p: Any, *others: Any):
        """Yield (p, *others, scratch) block by block (blocks.flat_blocks) for big
        C-contiguous NumPy arrays, else the whole arrays once."""
        arrays = (p, *others)
        if not blocks.blockable(*arrays):
            yield (*arrays, self._scratch(group, i, p))
            return
        buf = self._block_buffer(p.dtype)
        for views in blocks.flat_blocks(*arrays):
            yield (*views, buf[:views[0].size])

    def _block_buffer(self, dtype: np.dtype) -> np.ndarray:
        buf = self._block_buffers.get(dtype)
        if buf is None:
            buf = self._block_buffers[dtype] = np.empty(blocks.BLOCK, dtype)
        return buf

    def _scratch(self, group: str, i: int, p: Any) -> Any:
        """A reusable buffer shaped like p (allocating big temporaries every step is slow)."""
        key = (group, i)
        buf = self._buffers.get(key)
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype:
            buf = self._buffers[key] = p * 0
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
                out[f"{name}/{kind}/{i}"] = np.array(_to_host(a))
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
        self.v: dict[tuple[str, int], Any] = {}

    def _state_groups(self) -> dict[str, dict[tuple[str, int], Any]]:
        return {"v": self.v}

    def _state(self, group: str, i: int, p: Any) -> Any:
        v = self.v.get((group, i))
        if v is None:
            v = self.v[(group, i)] = p * 0
        return v

    def _update(self, group: str, i: int, p: Any, g: Any) -> None:
        v = self._state(group, i, p)
        if fused_ops(_xp(p)).momentum(p, v, g, self.lr, self.beta):
            return
        xp = _xp(p)
        for pb, vb, gb, buf in self._blocks(group, i, p, v, g):
            vb *= self.beta
            xp.multiply(gb, 1.0 - self.beta, out=buf)
            vb += buf
            xp.multiply(vb, self.lr, out=buf)
            pb -= buf


class Adam(Optimizer):
    name = "adam"

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.v: dict[tuple[str, int], Any] = {}
        self.s: dict[tuple[str, int], Any] = {}

    def _state_groups(self) -> dict[str, dict[tuple[str, int], Any]]:
        return {"v": self.v, "s": self.s}

    def _state(self, group: str, i: int, p: Any) -> tuple[Any, Any]:
        key = (group, i)
        if key not in self.v:
            self.v[key], self.s[key] = p * 0, p * 0
        return self.v[key], self.s[key]

    def _update(self, group: str, i: int, p: Any, g: Any) -> None:
        v, s = self._state(group, i, p)
        # Fold both bias corrections into one step size (as PyTorch does):
        # lr v_hat / (sqrt(s_hat) + eps) = step * v / (sqrt(s) + eps_hat).
        step = self.lr * math.sqrt(1.0 - self.beta2**self.t) / (1.0 - self.beta1**self.t)
        eps_hat = self.eps * math.sqrt(1.0 - self.beta2**self.t)
        xp = _xp(p)
        if fused_ops(xp).adam(p, v, s, g, step, self.beta1, self.beta2, eps_hat):
            return
        for pb, vb, sb, gb, buf in self._blocks(group, i, p, v, s, g):
            vb *= self.beta1
            xp.multiply(gb, 1.0 - self.beta1, out=buf)
            vb += buf
            sb *= self.beta2
            xp.multiply(gb, gb, out=buf)
            buf *= 1.0 - self.beta2
            sb += buf
            xp.sqrt(sb, out=buf)
            buf += eps_hat
            xp.divide(vb, buf, out=buf)
            buf *= step
            pb -= buf


def make_optimizer(name: str, lr: float, **kwargs: float) -> Optimizer:
    name = name.lower()
    if name == "sgd":
        return Optimizer(lr)
    if name == "momentum":
        return Momentum(lr, **kwargs)
    if name == "adam":
        return Adam(lr, **kwargs)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
