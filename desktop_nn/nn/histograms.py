"""The distribution of each layer's activations A[l] over a reported batch, as histograms
counted on the device (for the live heat map of activations over time, docs/diagnostics.md).

Each layer has fixed bins for the whole run, so that the histograms of successive reports
line up: HISTOGRAM_BINS equal bins over [0, 1] for sigmoid and softmax, [-1, 1] for tanh, and
for the unbounded activations (relu, leaky_relu, linear) over a range set at the first
report: from 0 (or below, when that batch had negative values) to a round number at least
1.25 times the largest value. Values outside the range are counted in the first or last bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_nn.nn.network import LayerCache, Network

Array = Any

HISTOGRAM_BINS = 40
BOUNDED = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0)}


@dataclass
class ActivationHistograms:
    """Host numbers: for layer l (list index l - 1), ``shares[l]`` (bins,) is the share of the
    entries of A[l] (units x examples of the batch) in each of the equal bins between
    ``ranges[l]`` = (lo, hi); each row sums to 1."""

    ranges: list[tuple[float, float]]
    shares: np.ndarray  # (L, bins)


def round_up(x: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= x (x > 0)."""
    k = math.floor(math.log10(x))
    for f in (1.0, 2.0, 5.0, 10.0):
        if f * 10.0**k >= x * (1 - 1e-12):
            return f * 10.0**k
    return 10.0 ** (k + 1)


def choose_ranges(net: Network, caches: list[LayerCache]) -> list[tuple[float, float]]:
    """The bins' range of each layer, from this batch for the unbounded activations (their
    minimum and maximum are read to the host: once per run)."""
    ranges: list[tuple[float, float] | None] = [BOUNDED.get(g.name) for g in net.activations]
    loose = [l for l, r in enumerate(ranges) if r is None]
    if loose:
        xp = net.xp
        ends = xp.stack([xp.stack([caches[l].a.min(), caches[l].a.max()]).astype(xp.float64)
                         for l in loose])
        for l, (lo, hi) in zip(loose, net.backend.to_host(ends).tolist(), strict=True):
            top = round_up(1.25 * hi) if math.isfinite(hi) and hi > 0 else 1.0
            bottom = -round_up(1.25 * -lo) if math.isfinite(lo) and lo < 0 else 0.0
            ranges[l] = (bottom, top)
    return [r for r in ranges if r is not None]


def histogram_counts(net: Network, caches: list[LayerCache],
                     ranges: list[tuple[float, float]], bins: int = HISTOGRAM_BINS) -> Array:
    """(L, bins) float64 device array: how many entries of each A[l] (n_l, m) fall in each
    bin (values beyond the range in the end bins)."""
    xp = net.xp
    rows = []
    for cache, (lo, hi) in zip(caches, ranges, strict=True):
        scaled = (cache.a - lo) * (bins / (hi - lo))
        index = xp.clip(scaled, 0, bins - 1).astype(xp.int64)  # >= 0: truncation is floor
        rows.append(xp.bincount(index.ravel(), minlength=bins)[:bins])
    return xp.stack(rows).astype(xp.float64)


def as_shares(counts: np.ndarray, ranges: list[tuple[float, float]]) -> ActivationHistograms:
    """Host counts (L, bins) as shares of each layer's entries."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return ActivationHistograms(list(ranges), counts / np.where(totals > 0, totals, 1.0))
