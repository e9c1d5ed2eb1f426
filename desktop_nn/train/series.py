"""Bounded arrays of a run's reports, ready to plot: fixed memory whatever the run's length.

The live plots redraw from these at most ~30 times a second; a plot library takes NumPy arrays,
so the reports are stored column-wise once rather than converted on every redraw.
"""

from __future__ import annotations

import math

import numpy as np

from desktop_nn.nn.diagnostics import LAYER_FIELDS
from desktop_nn.nn.histograms import HISTOGRAM_BINS
from desktop_nn.train.history import EpochReport, StepReport

STEP_FIELDS = LAYER_FIELDS


class _Thinned:
    """What the bounded series share: at most ``capacity`` points; when full, every other
    point is dropped and only every ``stride``-th later report is kept (the older part of the
    curve gets coarser, never the memory bigger)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self.clear()

    def clear(self) -> None:
        self.n = 0
        self.stride = 1
        self._seen = 0

    def _kept(self) -> bool:
        """Count a report; whether it is one to keep at the current stride."""
        self._seen += 1
        return (self._seen - 1) % self.stride == 0

    @property
    def _full(self) -> bool:
        return self.n == self.capacity

    def _halve(self, *over_time: np.ndarray) -> None:
        """Keep every other point of each array (views whose first axis is time) and double
        the stride: called when full."""
        half = self.capacity // 2
        for a in over_time:
            a[:half] = a[: 2 * half : 2]
        self.n = half
        self.stride *= 2


class StepSeries(_Thinned):
    """Per-step values: ``step`` (n,), ``cost`` (n,), and per layer ``layers[field]`` (L, n).

    Holds at most ``capacity`` points, thinned as :class:`_Thinned` says."""

    def __init__(self, capacity: int = 4096) -> None:
        super().__init__(capacity)

    def clear(self) -> None:
        super().clear()
        self.n_layers = 0
        self._step = np.zeros(self.capacity)
        self._cost = np.zeros(self.capacity)
        self._layers: dict[str, np.ndarray] = {}

    def add(self, report: StepReport) -> None:
        if not self._kept():
            return
        if not self._layers:
            self.n_layers = len(report.layers)
            self._layers = {f: np.zeros((self.n_layers, self.capacity)) for f in STEP_FIELDS}
        if self._full:
            self._halve(self._step, self._cost, *(a.T for a in self._layers.values()))
        i = self.n
        self._step[i] = report.step
        self._cost[i] = report.batch_cost
        for f in STEP_FIELDS:
            column = self._layers[f]
            for stats in report.layers:
                column[stats.layer - 1, i] = getattr(stats, f)
        self.n += 1

    @property
    def step(self) -> np.ndarray:
        return self._step[: self.n]

    @property
    def cost(self) -> np.ndarray:
        return self._cost[: self.n]

    def layer_values(self, field: str) -> np.ndarray:
        """(L, n) values of ``field`` (one of STEP_FIELDS) for each layer."""
        if field not in STEP_FIELDS:
            raise ValueError(f"unknown field {field!r}; expected one of {STEP_FIELDS}")
        if not self._layers:
            return np.zeros((0, 0))
        return self._layers[field][:, : self.n]


class HistogramSeries(_Thinned):
    """The reports' activation histograms, ready for a heat map: ``step`` (n,) and per layer
    ``shares(l)`` (n, bins), the share of A[l]'s entries in each bin at each kept report, with
    the bins' ``ranges`` (lo, hi) per layer. At most ``capacity`` reports, decimated as in
    :class:`StepSeries`."""

    def __init__(self, capacity: int = 1024) -> None:
        super().__init__(capacity)

    def clear(self) -> None:
        super().clear()
        self.ranges: list[tuple[float, float]] = []
        self.bins = HISTOGRAM_BINS
        self._step = np.zeros(self.capacity)
        self._shares = np.zeros((0, self.capacity, self.bins))
        self.version = 0  # counts the changes, for a view that redraws only on change

    def add(self, report: StepReport) -> None:
        h = report.histograms
        if h is None:
            return
        if not self._kept():
            return
        if self.n == 0 or h.shares.shape != self._shares[:, 0].shape:
            self.n, self.stride, self._seen = 0, 1, 1  # the first report, or another network
            self.bins = h.shares.shape[1]
            self._shares = np.zeros((h.shares.shape[0], self.capacity, self.bins))
        if self._full:
            self._halve(self._step, np.moveaxis(self._shares, 1, 0))
        self.ranges = list(h.ranges)
        self._step[self.n] = report.step
        self._shares[:, self.n] = h.shares
        self.n += 1
        self.version += 1

    @property
    def n_layers(self) -> int:
        return self._shares.shape[0]

    @property
    def step(self) -> np.ndarray:
        return self._step[: self.n]

    def shares(self, layer: int) -> np.ndarray:
        """(n, bins) shares of layer ``layer`` (1-based) at each kept report."""
        return self._shares[layer - 1, : self.n]


class EpochSeries:
    """Per-epoch values (few: kept whole)."""

    def __init__(self) -> None:
        self.reports: list[EpochReport] = []

    def clear(self) -> None:
        self.reports.clear()

    def add(self, report: EpochReport) -> None:
        self.reports.append(report)

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(r, name) for r in self.reports], dtype=float)


def finite_or_nan(a: np.ndarray) -> np.ndarray:
    """``a`` with infinities replaced by NaN (a plot skips NaN but would rescale to inf)."""
    return np.where(np.isfinite(a), a, math.nan)


SMOOTHING_WEIGHT = 0.95  # EMA weight of the live per-step curves: about the last 20 points


def ema(values: np.ndarray, weight: float = SMOOTHING_WEIGHT) -> np.ndarray:
    """Exponential moving average along the last axis of ``values`` ((n,) or (L, n)), as
    TensorBoard smooths: s_k = weight * s_{k-1} + (1 - weight) * x_k from s_{-1} = 0, divided
    by 1 - weight^(k+1) so the first points are not pulled towards 0. Non-finite entries are
    skipped (the average carries over them) and stay NaN in the result.

    Vectorised in blocks: within a block s_k = w^(k+1) s_in + (1 - w) w^k cumsum(x_j w^-j),
    with blocks short enough that w^-j stays far from overflow."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"weight must be in [0, 1), got {weight}")
    v = np.asarray(values, dtype=float)
    if v.ndim not in (1, 2):
        raise ValueError(f"expected (n,) or (L, n) values, got shape {v.shape}")
    rows = v.reshape(1, -1) if v.ndim == 1 else v
    out = np.full(rows.shape, math.nan)
    for row_in, row_out in zip(rows, out, strict=True):
        ok = np.isfinite(row_in)
        row_out[ok] = _debiased_ema(row_in[ok], weight)
    return out.reshape(v.shape)


def _debiased_ema(x: np.ndarray, w: float) -> np.ndarray:
    """The debiased EMA of a finite (n,) array."""
    if w == 0.0 or x.size == 0:
        return x.copy()
    block = int(max(1, min(256, 100 / -math.log10(w))))  # w^-block <= 1e100
    powers = w ** -np.arange(block)
    s = np.empty_like(x)
    carry = 0.0
    for start in range(0, x.size, block):
        chunk = x[start:start + block]
        k = np.arange(chunk.size)
        s[start:start + chunk.size] = (w ** (k + 1) * carry
                                       + (1 - w) * w ** k * np.cumsum(chunk * powers[:chunk.size]))
        carry = s[start + chunk.size - 1]
    return s / (1 - w ** np.arange(1, x.size + 1))


def smooth(values: np.ndarray, log: bool = False,
           weight: float = SMOOTHING_WEIGHT) -> np.ndarray:
    """:func:`ema` of ``values``; with ``log`` (for a log axis) of log10(values), so the
    average is geometric and one spike does not lift the curve for tens of points. Values
    <= 0 are skipped then (a log axis cannot show them)."""
    if not log:
        return ema(values, weight)
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), math.nan)
    return 10.0 ** ema(logs, weight)
