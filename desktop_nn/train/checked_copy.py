"""The weights and optimiser state at the last check of a GPU run's deferred NaN guard.

On the GPU, reading the cost back after every step would make the host wait for the device
at every step. So a GPU run sums each step's guard value on the device and reads the sum only
when it reads anything anyway (a report, an epoch's end, a pause, the end of the run). Between
two such checks the weights may take a non-finite step; this copy, taken at each check that
passes, is what the run goes back to before it takes the same steps again one check at a time.
"""

from __future__ import annotations

from typing import Any

from desktop_nn.nn.network import Network
from desktop_nn.nn.optimizers import Optimizer
from desktop_nn.train.progress import Position


class CheckedCopy:
    """Device copies of every W, b and optimiser state array, reused from check to check."""

    def __init__(self) -> None:
        self._copies: list[Any] = []
        self.position: Position | None = None

    @staticmethod
    def _live(net: Network, optimizer: Optimizer) -> list[Any]:
        return [*net.W, *net.b, *optimizer.state_buffers()]

    def take(self, net: Network, optimizer: Optimizer, position: Position) -> None:
        """Copy the current weights and optimiser state (device to device, no host sync)."""
        live = self._live(net, optimizer)
        xp = net.xp
        if [(a.shape, a.dtype) for a in live] != [(c.shape, c.dtype) for c in self._copies]:
            self._copies = [xp.empty_like(a) for a in live]
        for copy, a in zip(self._copies, live, strict=True):
            xp.copyto(copy, a)
        self.position = position

    def restore(self, net: Network, optimizer: Optimizer) -> Position:
        """Write the copy back into the live arrays (in place: kernels and buffers that hold
        them stay valid) and return the position it was taken at."""
        if self.position is None:
            raise RuntimeError("no checked copy was taken")
        live = self._live(net, optimizer)
        for a, copy in zip(live, self._copies, strict=True):
            net.xp.copyto(a, copy)
        return self.position
