"""The diagnostics a trainer measures on its reported steps (only those: a step that is not
reported pays nothing), kept across the run's reports: the unit window (nn/diagnostics.py)
and the activation histograms' bins (nn/histograms.py).

Around a reported step the trainer calls :meth:`StepDiagnostics.before_step` (||W||^2 of
each layer, before the optimiser changes W) and :meth:`StepDiagnostics.after_step`, which
returns the layers' :class:`LayerStats` and the :class:`ActivationHistograms`, brought to the
host in one transfer.
"""

from __future__ import annotations

from typing import Any

from desktop_nn.nn.diagnostics import (
    LayerStats,
    UnitWindow,
    layer_stats,
    weight_sums_of_squares,
)
from desktop_nn.nn.histograms import (
    HISTOGRAM_BINS,
    ActivationHistograms,
    as_shares,
    choose_ranges,
    histogram_counts,
)
from desktop_nn.nn.network import Gradients, LayerCache, Network
from desktop_nn.nn.optimizers import Optimizer

Array = Any


class StepDiagnostics:
    """What a run's reports measure, for ``net`` (made anew for another network)."""

    def __init__(self, net: Network, histograms: bool = True) -> None:
        self.net = net
        self.window = UnitWindow(net)
        self.histograms = histograms
        self.ranges: list[tuple[float, float]] | None = None
        self._weight_sq: list[Array] | None = None

    def before_step(self) -> None:
        """||W[l]||^2 before the step (0-d device arrays: nothing is read yet)."""
        self._weight_sq = weight_sums_of_squares(self.net)

    def after_step(self, caches: list[LayerCache], grads: Gradients, optimizer: Optimizer
                   ) -> tuple[list[LayerStats], ActivationHistograms | None]:
        """The step's diagnostics, from the batch's caches and gradients and the step the
        optimiser just took (:meth:`before_step` must have been called before it)."""
        net = self.net
        weight_sq, self._weight_sq = self._weight_sq, None
        if weight_sq is None:
            raise RuntimeError("before_step was not called before the reported step")
        extra = []
        if self.histograms:
            if self.ranges is None:
                self.ranges = choose_ranges(net, caches)
            extra.append(histogram_counts(net, caches, self.ranges))
        stats, rest = layer_stats(net, caches, grads, optimizer.step_sums_of_squares(net, grads),
                                  weight_sq, self.window, extra)
        hist = None
        if self.histograms and self.ranges is not None:
            hist = as_shares(rest.reshape(len(stats), HISTOGRAM_BINS), self.ranges)
        return stats, hist
