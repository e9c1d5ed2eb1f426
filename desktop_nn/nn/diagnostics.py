"""Per-layer diagnostics of one backward pass (the definitions the plots share):

    grad_norm_W[l]   ||dW[l]||_F
    grad_norm_b[l]   ||db[l]||_2            (Nielsen's "speed of learning" of layer l)
    update_ratio[l]  lr * ||dW[l]||_F / ||W[l]||_F
    saturation[l]    sigmoid: share of entries of A[l] with A (1 - A) < 0.01;
                     tanh: share with |A| > 0.99;
                     relu: share of units that are 0 for every example of the batch (dead);
                     other activations: 0.
All reductions run on the device; one small array crosses to the host. The norms come from the
network's device ops (``net.ops.sum_of_squares``: block by block on the CPU, with no W-sized
temporary per report).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from desktop_nn.nn.network import Gradients, LayerCache, Network


@dataclass
class LayerStats:
    layer: int
    grad_norm_W: float
    grad_norm_b: float
    update_ratio: float
    saturation: float

    def to_dict(self) -> dict:
        return asdict(self)


def saturation(activation: str, a):
    """0-d device array: the saturated share of A (n_l, m) for ``activation``."""
    if activation == "sigmoid":
        return (a * (1.0 - a) < 0.01).mean()
    if activation == "tanh":
        return (abs(a) > 0.99).mean()
    if activation == "relu":
        return (a.max(axis=1) <= 0).mean()
    return a.sum() * 0


def layer_stats(net: Network, caches: list[LayerCache], grads: Gradients,
                lr: float) -> list[LayerStats]:
    """Diagnostics per layer for a forward/backward pass on one batch."""
    xp, ops = net.xp, net.ops
    rows = []
    for l, (W, dW, db, cache) in enumerate(zip(net.W, grads.dW, grads.db, caches, strict=True)):
        gw = xp.sqrt(ops.sum_of_squares(dW))
        gb = xp.sqrt(ops.sum_of_squares(db))
        wn = xp.sqrt(ops.sum_of_squares(W))
        sat = saturation(net.activations[l].name, cache.a)
        rows.append(xp.stack([gw.astype(xp.float64), gb.astype(xp.float64),
                              wn.astype(xp.float64), xp.asarray(sat, dtype=xp.float64)]))
    host = net.backend.to_host(xp.stack(rows))  # one transfer for all layers
    out = []
    for l, (gw, gb, wn, sat) in enumerate(host.tolist(), start=1):
        ratio = lr * gw / wn if wn > 0 else float("inf") if gw > 0 else 0.0
        out.append(LayerStats(layer=l, grad_norm_W=gw, grad_norm_b=gb, update_ratio=ratio,
                              saturation=sat))
    return out
