"""Per-layer diagnostics of a training step, as docs/diagnostics.md defines them (the one
reference; the plots' tooltips quote :data:`EXPLANATIONS`). For layer l:

    grad_norm_W[l]     ||dW[l]||_F on the batch (dW with its L2 term)
    grad_norm_b[l]     ||db[l]||_2 on the batch (Nielsen's "speed of learning" of layer l)
    update_ratio[l]    ||W[l] after the step - W[l] before||_F / ||W[l] before||_F, the step
                       the optimiser really subtracted (Optimizer.step_sums_of_squares)
    saturated_share[l] sigmoid, tanh: share of units whose mean over the window of
                       g'(Z) / max g' is below SATURATION_THRESHOLD
    dead_share[l]      relu: share of units whose activation was 0 for every example of the
                       window

A window (:class:`UnitWindow`) is made of the examples of the reported batches, from the
first report after the previous window closed until it holds at least WINDOW_EXAMPLES
examples; each report carries the shares of the last closed window (NaN before the first
closes, and where the measure does not apply: :func:`unit_measure` says which and why).
All reductions run on the device; one small array crosses to the host per report.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from desktop_nn.nn.network import Gradients, LayerCache, Network

Array = Any

WINDOW_EXAMPLES = 1000  # a window closes once it holds at least this many examples
SATURATION_THRESHOLD = 0.04  # mean g'(Z) / max g' below this: the unit is saturated
MAX_DERIVATIVE = {"sigmoid": 0.25, "tanh": 1.0}  # max g' of the activations that saturate

EXPLANATIONS = {
    "update_ratio": (
        "Update ratio = ||W[l] after the step - W[l] before||_F / ||W[l] before||_F: how far "
        "the optimiser really moved layer l's weights at this step, relative to their size "
        "(for SGD lr ||dW||, momentum lr ||v||, Adam the whole adaptive step; with L2 the "
        "weight decay is part of the step). About 1e-3 is the usual rule of thumb. It does not "
        "say whether the step lowered the cost."),
    "grad_norm_W": (
        "||dW[l]||_F: the size of the cost's gradient for layer l's weights on this batch "
        "(with the L2 term). Small values in the first layers of a deep sigmoid net are "
        "vanishing gradients: dZ[l-1] = W[l]^T dZ[l] * g'(Z[l-1]) shrinks with each factor "
        "g' <= 1/4, even when no unit is saturated."),
    "grad_norm_b": (
        "||db[l]||: the speed of learning of layer l (Nielsen, ch. 5). db[l] is the mean "
        "over the batch of dZ[l], so a layer whose ||db|| is 100x smaller learns about 100x "
        "slower."),
    "units": (
        f"Saturated units (sigmoid, tanh): share of units whose mean of g'(Z) / max g' over "
        f"the window is below {SATURATION_THRESHOLD:g} (for sigmoid: mean A(1-A) below "
        f"{SATURATION_THRESHOLD * 0.25:g}): gradients through them are 25x weaker or more. "
        f"Dead units (ReLU): share of units whose output was 0 for every example of the "
        f"window; they no longer learn. A window is the examples of the reported batches "
        f"until at least {WINDOW_EXAMPLES} examples; each point is the last finished window. "
        f"n/a: linear and leaky ReLU units never saturate nor die, softmax couples its units, "
        f"and an output under cross-entropy does not slow learning (dZ = A - Y: the cost "
        f"cancels g')."),
}


def unit_measure(activation: str, is_output: bool, cost: str) -> tuple[str, str]:
    """Which per-unit measure applies to a layer: ("saturation" | "dead" | "n/a", why)."""
    if is_output and cost == "cross-entropy":
        return "n/a", "output under cross-entropy: dZ = A - Y, the cost cancels g'"
    if activation in MAX_DERIVATIVE:
        return "saturation", f"{activation}: share of saturated units"
    if activation == "relu":
        return "dead", "relu: share of dead units"
    reasons = {"softmax": "softmax couples its units: no per-unit g'",
               "linear": "linear: g' = 1 everywhere, never saturates",
               "leaky_relu": "leaky ReLU: g' is 1 or 0.01, never 0: no dead units"}
    return "n/a", reasons.get(activation, f"{activation}: does not apply")


LAYER_FIELDS = ("grad_norm_W", "grad_norm_b", "update_ratio", "saturated_share", "dead_share")


@dataclass
class LayerStats:
    """One layer's diagnostics at a reported step (the module docstring's definitions);
    ``layer`` counts from 1. NaN: not measured (or not applicable)."""

    layer: int
    grad_norm_W: float
    grad_norm_b: float
    update_ratio: float
    saturated_share: float = math.nan
    dead_share: float = math.nan

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LayerStats:
        """Read a saved row, from this version or an older one. Older files have a
        "saturation" per mini-batch (another definition, mixing saturated entries and dead
        units): it is dropped, and the shares read NaN (not measured). Unknown keys are
        ignored; a missing number is NaN."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values = {k: (math.nan if v is None else float(v)) for k, v in values.items()}
        layer = int(values.pop("layer", 0))
        for f in ("grad_norm_W", "grad_norm_b", "update_ratio"):
            values.setdefault(f, math.nan)
        return cls(layer=layer, **values)


class UnitWindow:
    """Per-unit sums of a window on the device, for the saturated and dead shares.

    For a relu layer, ``active[l]`` (n_l,) says whether a unit's output was > 0 for some
    example so far; for sigmoid and tanh, ``derivative_sum[l]`` (n_l,) sums g'(Z) / max g'
    over the examples. Both are reset when a window closes."""

    def __init__(self, net: Network, window_examples: int = WINDOW_EXAMPLES) -> None:
        xp, spec = net.xp, net.spec
        L = spec.n_layers
        self.window_examples = window_examples
        self.kinds = [unit_measure(a, l == L - 1, spec.cost)[0]
                      for l, a in enumerate(spec.activations)]
        sizes = spec.sizes[1:]
        self.active = [xp.zeros(n, dtype=bool) if k == "dead" else None
                       for k, n in zip(self.kinds, sizes, strict=True)]
        self.derivative_sum = [xp.zeros(n, dtype=xp.float64) if k == "saturation" else None
                               for k, n in zip(self.kinds, sizes, strict=True)]
        self.examples = 0
        self.closed = 0  # windows closed so far
        self.saturated = [math.nan] * L  # the last closed window's shares (host numbers)
        self.dead = [math.nan] * L

    def observe(self, net: Network, caches: list[LayerCache]) -> None:
        """Add a batch's examples: caches[l].z, .a are (n_l, m)."""
        xp = net.xp
        for l, (kind, cache) in enumerate(zip(self.kinds, caches, strict=True)):
            if kind == "dead":
                self.active[l] |= cache.a.max(axis=1) > 0
            elif kind == "saturation":
                g = net.activations[l]
                d = g.derivative(cache.z, cache.a)
                self.derivative_sum[l] += d.sum(axis=1, dtype=xp.float64) / \
                    MAX_DERIVATIVE[g.name]
        self.examples += int(caches[0].a.shape[1])

    @property
    def full(self) -> bool:
        return self.examples >= self.window_examples

    def shares(self, xp: Any) -> list[Array]:
        """(saturated, dead) of the window so far per layer, 0-d float64 device arrays (NaN
        where it does not apply)."""
        nan = xp.asarray(math.nan, dtype=xp.float64)
        out = []
        for kind, active, dsum in zip(self.kinds, self.active, self.derivative_sum,
                                      strict=True):
            sat = dead = nan
            if kind == "dead":
                dead = 1.0 - active.mean(dtype=xp.float64)
            elif kind == "saturation":
                sat = (dsum / self.examples < SATURATION_THRESHOLD).mean(dtype=xp.float64)
            out += [xp.asarray(sat, dtype=xp.float64), xp.asarray(dead, dtype=xp.float64)]
        return out

    def close(self, host: list[float]) -> None:
        """The window's shares arrived on the host (:meth:`shares`' order): keep them as the
        last closed window's and start a new window."""
        self.saturated, self.dead = list(host[0::2]), list(host[1::2])
        for a in self.active:
            if a is not None:
                a[...] = False
        for s in self.derivative_sum:
            if s is not None:
                s[...] = 0.0
        self.examples = 0
        self.closed += 1


def weight_sums_of_squares(net: Network) -> list[Array]:
    """||W[l]||_F^2 per layer, 0-d float64 device arrays: taken before a reported step."""
    xp = net.xp
    return [xp.asarray(net.ops.sum_of_squares(W), dtype=xp.float64) for W in net.W]


def layer_stats(net: Network, caches: list[LayerCache], grads: Gradients,
                step_sq: list[Array], weight_sq_before: list[Array],
                window: UnitWindow | None = None,
                extra: list[Array] | None = None) -> tuple[list[LayerStats], np.ndarray]:
    """Diagnostics per layer for a step just taken on one batch.

    ``step_sq``: ||W after - W before||^2 per layer (Optimizer.step_sums_of_squares);
    ``weight_sq_before``: ||W before||^2 (:func:`weight_sums_of_squares` before the step);
    ``window``: observes this batch, and closes when full; ``extra``: other device arrays to
    bring to the host in the same transfer, returned flattened one after the other (float64
    host array)."""
    xp, ops = net.xp, net.ops
    values = []
    for dW, db, up, wn in zip(grads.dW, grads.db, step_sq, weight_sq_before, strict=True):
        values += [xp.asarray(ops.sum_of_squares(dW), dtype=xp.float64),
                   xp.asarray(ops.sum_of_squares(db), dtype=xp.float64),
                   xp.asarray(up, dtype=xp.float64), xp.asarray(wn, dtype=xp.float64)]
    closing = False
    if window is not None:
        window.observe(net, caches)
        closing = window.full
        if closing:
            values += window.shares(xp)
    values += [xp.asarray(x, dtype=xp.float64).reshape(-1) for x in extra or []]
    flat = [xp.reshape(v, (-1,)) for v in values]
    host_array = np.asarray(net.backend.to_host(xp.concatenate(flat)))  # one transfer
    L = len(grads.dW)
    host = host_array[:4 * L].tolist()
    rest = host_array[4 * L:]
    if closing:
        window.close(rest[:2 * L].tolist())
        rest = rest[2 * L:]
    out = []
    for l in range(L):
        gw, gb, up, wn = (math.sqrt(x) for x in host[4 * l:4 * l + 4])
        ratio = up / wn if wn > 0 else math.inf if up > 0 else 0.0
        out.append(LayerStats(
            layer=l + 1, grad_norm_W=gw, grad_norm_b=gb, update_ratio=ratio,
            saturated_share=window.saturated[l] if window is not None else math.nan,
            dead_share=window.dead[l] if window is not None else math.nan))
    return out, rest
