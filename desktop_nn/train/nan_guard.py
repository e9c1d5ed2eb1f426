"""The NaN guard: a run stops at the first step whose cost or gradients are not finite, and
keeps the weights of the step before.

A step's guard value is its cost plus the sums of its db[l]. A non-finite value in the
forward pass reaches the cost; one in dZ[l] reaches db[l] = sum(dZ[l]) / m, and
dW[l] = dZ[l] A[l-1]^T / m is finite when both factors are. So the cost plus the (small) db
sums cover them all, and the guard is read before the optimiser changes the weights.

On the CPU each step's guard is read at once (:meth:`NanGuard.check_step`). On the GPU that
would make the host wait for the device at every step, so the guard is *deferred*: each
step's value is added to a sum on the device, read only when the run reads the device anyway
(a report, an epoch's end, a pause, the run's end: :meth:`NanGuard.check_pending`). A check
that passes copies the weights and optimiser state (train/checked_copy.py); a check that
fails goes back to that copy and takes the same steps again, reading each, so that the run
ends exactly as a run reading every step would.

How it talks to the run: the Trainer calls :meth:`~NanGuard.begin` when a run starts,
:meth:`~NanGuard.check_step` after each step's backward pass, and
:meth:`~NanGuard.check_pending` wherever it reads the device anyway. It passes its optimiser
and :class:`~desktop_nn.train.progress.Progress`, which a failed check puts back, and, for
taking steps again, its batches and its step. A non-finite step raises
:class:`NonFiniteStep`, which carries the run's :class:`TrainResult`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from desktop_nn.nn.network import Gradients, LayerCache, Network
from desktop_nn.nn.optimizers import Optimizer
from desktop_nn.train.batch_feed import Batches
from desktop_nn.train.checked_copy import CheckedCopy
from desktop_nn.train.progress import Progress
from desktop_nn.train.result import TrainResult

Array = Any


class NonFiniteStep(Exception):
    """A step's cost or gradients were not finite: the run ends with ``result`` (nan), its
    weights those of the step before."""

    def __init__(self, result: TrainResult) -> None:
        super().__init__(result.message)
        self.result = result


class NanGuard:
    """The NaN guard of one Trainer's runs on ``network``: read at every step, or deferred
    (``deferring``, GPU runs) with a checked copy to go back to."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.deferring = False
        # deferred: the guard values of the steps taken since the last check, summed on the
        # device (a float64 scalar), how many, the last step's cost (on the device) and the
        # cost read at the last check
        self.pending: Array = None
        self.unchecked = 0
        self.last_cost: Array = None
        self.checked_cost = math.nan
        self.copy = CheckedCopy()

    def begin(self, deferring: bool, optimizer: Optimizer, progress: Progress) -> None:
        """A run starts; ``deferring``: it reads its guard only at checks (its weights as
        they are now are the first checked copy)."""
        self.deferring = deferring
        self.unchecked, self.checked_cost = 0, math.nan
        if deferring:
            self.pending = self.network.xp.zeros((), dtype=self.network.xp.float64)
            self.copy.take(self.network, optimizer, progress.position(optimizer.t))

    def check_step(self, cost: Array, caches: list[LayerCache], grads: Gradients,
                   progress: Progress) -> float:
        """The guard of a step whose forward and backward passes are done (the optimiser's
        step not taken yet). Returns the batch cost read on the host, or NaN when deferred
        (the guard is then added to the pending sum). Raises NonFiniteStep."""
        net = self.network
        guard = cost + sum(g.sum() for g in grads.db)
        if self.deferring:  # summed on the device, read at the next check
            self.pending += guard
            self.last_cost = cost
            self.unchecked += 1
            return math.nan
        cost_value, guard_value = net.backend.to_floats(cost, guard)
        if not math.isfinite(guard_value):
            raise non_finite_step(net, caches, grads, progress)
        return cost_value

    def check_pending(self, optimizer: Optimizer, progress: Progress,
                      batches: Callable[..., Batches],
                      take_step: Callable[..., float]) -> None:
        """Read the guard of the steps taken since the last check (one host sync). When all
        were finite, copy the weights as the new checked copy. Otherwise go back to the last
        checked copy and take the same steps again, reading each: the first non-finite one
        raises NonFiniteStep, exactly as it would have without deferral. For that,
        ``batches(own_buffers=True)`` gives the run's batches from where it went back to and
        ``take_step(xb, yb, replay=True)`` takes one step that reads its guard and reports
        nothing (the Trainer's)."""
        if not self.deferring or self.unchecked == 0:
            return
        net = self.network
        guard, cost = net.backend.to_floats(self.pending, self.last_cost)
        if math.isfinite(guard):
            self.pending.fill(0)
            self.unchecked, self.checked_cost = 0, cost
            self.copy.take(net, optimizer, progress.position(optimizer.t))
            return
        target = progress.step_count
        self.go_back(optimizer, progress)
        self._replay(target - progress.step_count, optimizer, progress, batches, take_step)

    def go_back(self, optimizer: Optimizer, progress: Progress) -> None:
        """Restore the checked copy's weights, optimiser state and position."""
        pos = self.copy.restore(self.network, optimizer)
        progress.go_to(pos)
        optimizer.t = pos.optimizer_t
        self.pending.fill(0)
        self.unchecked = 0

    def _replay(self, n: int, optimizer: Optimizer, progress: Progress,
                batches: Callable[..., Batches],
                take_step: Callable[..., float]) -> None:
        """Take the ``n`` steps after the checked copy again, reading each (no reports: the
        first run of them made none). When all turn out finite (a device need not repeat a
        computation bit for bit) the run goes on from where the check was."""
        self.deferring = False
        steps = batches(own_buffers=True)
        try:
            for xb_t, yb_t in itertools.islice(steps, n):
                self.checked_cost = take_step(xb_t.T, yb_t.T, replay=True)
        finally:
            steps.close()  # a streamed epoch waits for its copies here
            self.deferring = True
        self.copy.take(self.network, optimizer, progress.position(optimizer.t))

    def epoch_ended(self, optimizer: Optimizer, progress: Progress) -> None:
        """An epoch ended just after a check: a failed check later in the run goes back to
        the start of the next epoch, not into the one that ended."""
        if self.deferring:
            self.copy.position = progress.position(optimizer.t)

    def keep_or_undo_unchecked(self, optimizer: Optimizer, progress: Progress) -> None:
        """The run ends on an error (the device ran out of memory) with steps unchecked: keep
        them when their guard reads finite, otherwise go back to the checked copy. A device
        too troubled to read the guard is trusted for nothing."""
        if not (self.deferring and self.unchecked):
            return
        try:
            finite = math.isfinite(self.network.backend.to_float(self.pending))
        except Exception:  # noqa: BLE001 - the device is in trouble: trust nothing unchecked
            finite = False
        if finite:
            self.unchecked = 0
        else:
            self.go_back(optimizer, progress)


def non_finite_step(network: Network, caches: list[LayerCache], grads: Gradients,
                    progress: Progress) -> NonFiniteStep:
    """Say where the first non-finite number of the step after ``progress`` appeared; the
    weights are the last good ones."""
    xp = network.xp
    where = "the cost"
    layer = None
    for l, cache in enumerate(caches, start=1):
        if not bool(xp.isfinite(cache.z).all()) or not bool(xp.isfinite(cache.a).all()):
            where, layer = f"the forward pass of layer {l} (Z or A)", l
            break
    else:
        for l in range(len(grads.dW), 0, -1):
            if not (bool(xp.isfinite(grads.dW[l - 1]).all())
                    and bool(xp.isfinite(grads.db[l - 1]).all())):
                where, layer = f"the gradients of layer {l}", l
                break
    step = progress.step_count + 1
    msg = (f"training stopped: a NaN or infinite value appeared in {where} at step {step} "
           f"(epoch {progress.epoch + 1}); the weights of step {progress.step_count} are "
           f"kept. Try a smaller learning rate.")
    return NonFiniteStep(TrainResult(stopped="nan", message=msg, epochs=progress.epoch,
                                     steps=progress.step_count, seconds=0.0,
                                     final_cost=math.nan, nan_step=step, nan_layer=layer))
