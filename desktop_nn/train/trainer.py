"""The training loop and its control, shared by the CLI, the tests and the GUI worker.

    for each epoch: shuffle (seeded) -> for each mini-batch:
        forward (caches) -> cost -> backward -> NaN guard -> optimiser step
        -> every ``report_every`` steps: LayerStats, activation histograms -> StepReport to
           the listeners (train/step_diagnostics.py; only reported steps are measured)
    -> EpochReport (train / validation cost and accuracy) -> early stopping

``run()`` blocks; other threads control it with ``pause()``, ``resume()``, ``step()`` and
``stop()``. Listeners receive plain host numbers only, never device arrays.

The :class:`Trainer` owns the loop, its control and the step reports; the other concerns
are parts in modules of their own, which it holds and calls (their docstrings say how):
train/data_placement.py places the data set on the device, or in host memory to be streamed
(``train``, ``val``, ``streaming``); train/batch_feed.py gives each epoch's shuffled batches
(``_feed``); train/progress.py keeps the counters, the shuffling generator and the place in
an epoch (``_progress``, read through ``epoch``, ``step_count``, ``examples_seen``, ``rng``);
train/nan_guard.py reads the NaN guard at every step or, on a GPU, deferred with a checked
copy to go back to (``_guard``); train/evaluation.py evaluates in chunks (``_evaluator``);
train/early_stopping.py keeps the best epoch's weights; train/checkpoint.py and
train/set_aside.py save a run's state and set a run aside without its data. TrainConfig,
TrainResult, Evaluation, SetAsideRun and summary are imported from here too.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from enum import Enum, auto
from typing import Any

import numpy as np

from desktop_nn.backend import Backend
from desktop_nn.nn.network import Gradients, Network
from desktop_nn.nn.optimizers import Optimizer
from desktop_nn.train.batch_feed import Batches, BatchFeed
from desktop_nn.train.checkpoint import checkpoint_state, restored
from desktop_nn.train.config import TrainConfig, optimizer_for
from desktop_nn.train.data_placement import PlacedData, place, place_run_data
from desktop_nn.train.device_memory import Tensor, defers_guard, run_tensors, streamed
from desktop_nn.train.early_stopping import EarlyStopping
from desktop_nn.train.evaluation import Evaluation, Evaluator
from desktop_nn.train.history import EpochReport, History, StepReport
from desktop_nn.train.live_settings import apply_changes, merge_changes, take_changes
from desktop_nn.train.nan_guard import NanGuard, NonFiniteStep
from desktop_nn.train.progress import Progress
from desktop_nn.train.result import TrainResult, out_of_memory_result, summary
from desktop_nn.train.set_aside import SetAsideRun, move, set_aside_run
from desktop_nn.train.step_diagnostics import StepDiagnostics

Array = Any


class Go(Enum):
    """What the loop does next, once a pause lets it (:meth:`Trainer._wait_for_go`)."""

    GO = auto()  # take the next step
    SINGLE_STEP = auto()  # take one step (asked while paused), reported, then wait again
    STOP = auto()  # end the run
    CHECK_FIRST = auto()  # about to wait paused: check the deferred NaN guard first


# The loop compares against these at every step, and reaching an Enum member through its
# class costs about 0.1 us (Python 3.11): a module name costs a tenth of that.
_GO, _SINGLE_STEP, _STOP, _CHECK_FIRST = Go.GO, Go.SINGLE_STEP, Go.STOP, Go.CHECK_FIRST


def _in_progress(name: str, doc: str) -> property:
    """A Trainer attribute kept in its Progress: ``trainer.epoch`` is
    ``trainer._progress.epoch``, read and written."""
    return property(lambda self: getattr(self._progress, name),
                    lambda self, value: setattr(self._progress, name, value), doc=doc)


class Trainer:
    """Trains ``network`` on (X_train, Y_train), columns as examples: X (n_x, m), Y (n_y, m)."""

    def __init__(
        self,
        network: Network,
        X_train: Array,
        Y_train: Array,
        config: TrainConfig | None = None,
        X_val: Array | None = None,
        Y_val: Array | None = None,
        on_step: Callable[[StepReport], None] | None = None,
        on_epoch: Callable[[EpochReport], None] | None = None,
        history: History | None = None,
        stream_data: bool | None = None,
    ) -> None:
        """``stream_data``: keep the data set in host memory and copy each mini-batch to the
        GPU (through a page-locked buffer) instead of holding it on the GPU. None (the
        default) streams only when the GPU cannot hold the data set beside the rest of the
        run, or runs out of memory while taking it."""
        self.network = network
        self.config = config or TrainConfig()
        self.config.validate()
        # On the GPU the NaN guard is read only when a report, an epoch's end, a pause or the
        # run's end reads the device anyway (train/nan_guard.py).
        self.defer_guard = network.backend.is_gpu
        m_val = 0 if X_val is None else int(np.shape(X_val)[1])
        tensors = run_tensors(network.spec.sizes, int(np.shape(X_train)[1]), m_val,
                              self.config, str(network.dtype), self.defer_guard)
        self.train, self.val, self.streaming = place_run_data(
            network, X_train, Y_train, X_val, Y_val, stream_data, tensors)
        self.on_step = on_step
        self.on_epoch = on_epoch
        self.history = history if history is not None else History()
        self.optimizer: Optimizer = optimizer_for(self.config)
        self._progress = Progress(np.random.default_rng(self.config.seed))
        self._feed = BatchFeed(network, self.streaming)
        self._guard = NanGuard(network)
        self._evaluator = Evaluator(network, self.streaming)
        # an epoch ended but its report was not made (the device ran out of memory in the
        # evaluation): the next run makes it before its first step
        self._epoch_report_pending = False
        self.last_result: TrainResult | None = None
        self._grads: Gradients | None = None  # reused every step (see Network.backward)
        # the reports' diagnostics (made at the first report, for the network then trained);
        # ``activation_histograms`` False: the reports carry none
        self._diagnostics: StepDiagnostics | None = None
        self.activation_histograms = True
        self._started = 0.0  # perf_counter() when the current run started
        self._total_steps = 0  # the step count the current run will end at
        self._cond = threading.Condition()
        self._paused = False
        self._stop = False
        self._steps_allowed = 0
        self._running = False
        self._waiting = False
        # slow motion: at least this many seconds from one step's start to the next (0: full
        # speed), and when the last step started (perf_counter)
        self._interval = 0.0
        self._last_step_at = 0.0
        # live changes asked (TrainConfig field -> value), applied by the training thread
        self._pending: dict[str, float] = {}
        self.ended_paused = self.ended_stop_asked = False

    # ------------------------------------------------------------------ where the run stands
    epoch = _in_progress("epoch", "Epochs completed.")
    step_count = _in_progress("step_count", "Optimiser steps taken.")
    examples_seen = _in_progress("examples_seen", "Examples trained on.")
    rng = _in_progress("rng", "The seeded generator that draws each epoch's shuffle.")

    @property
    def epoch_report_pending(self) -> bool:
        """An epoch ended without its report (the device ran out of memory evaluating it):
        the next run makes it first."""
        return self._epoch_report_pending

    @property
    def batch_size(self) -> int:
        bs = self.config.batch_size
        return self.train.m if bs <= 0 or bs > self.train.m else bs

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train.m / self.batch_size)

    def memory_tensors(self, m_train: int | None = None, m_val: int | None = None
                       ) -> list[Tensor]:
        """The arrays this run keeps on the device and its largest temporaries (for the
        message when the device runs out of memory)."""
        m_train = self.train.m if m_train is None else m_train
        if m_val is None:
            m_val = self.val.m if self.val is not None else 0
        tensors = run_tensors(self.network.spec.sizes, m_train, m_val, self.config,
                              str(self.network.dtype), self.defer_guard)
        return streamed(tensors) if self.streaming else tensors

    # ------------------------------------------------------------------ saving, moving
    def checkpoint(self) -> tuple[dict, dict[str, np.ndarray]]:
        """What continuing this run later needs beyond the weights: (JSON-able state, host
        arrays of the optimiser's per-parameter state). Take it while the run is not training
        (between runs, or paused). Continuing from it at an epoch boundary gives the same
        weights as training straight through: the shuffling generator is kept too."""
        return checkpoint_state(self._progress, self.optimizer, self.train.m, self.batch_size,
                                self._epoch_report_pending)

    def restore(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        """Continue from :meth:`checkpoint`'s output. Raises ValueError when it does not fit
        (another optimiser, other shapes) or is malformed; the trainer is then unchanged."""
        self._progress, self.optimizer, self._epoch_report_pending = restored(
            state, arrays, self.network, self.config, self.train.m, self.batch_size)

    def moved_to(self, backend: Backend, X_train: Array | None = None,
                 Y_train: Array | None = None, X_val: Array | None = None,
                 Y_val: Array | None = None) -> Trainer:
        """This run on another device: the same weights, optimiser state, history, listeners
        and position (a run that ran out of GPU memory goes on on the CPU). Pass the host
        arrays it was built from, (n_x, m) and (n_y, m), to save copying the data back from
        the device."""
        return move(self, backend, X_train, Y_train, X_val, Y_val)

    def set_aside(self, backend: Backend) -> SetAsideRun:
        """This run without its data, its weights on ``backend`` (the CPU: host memory, so
        that the device's can be given back), to :meth:`SetAsideRun.resume` later. Take it
        while the run is not training."""
        return set_aside_run(self, backend)

    # ------------------------------------------------------------------ control (any thread)
    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step(self) -> None:
        """Take exactly one more step, then stay paused."""
        with self._cond:
            self._paused = True
            self._steps_allowed += 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def set_pace(self, steps_per_s: float | None) -> None:
        """Slow motion: at most ``steps_per_s`` steps a second, each one reported (None: full
        speed). Takes effect at once, also in the middle of a wait for the next step."""
        with self._cond:
            self._interval = 1.0 / steps_per_s if steps_per_s else 0.0
            self._cond.notify_all()

    @property
    def pace(self) -> float | None:
        """Steps a second in slow motion, None at full speed."""
        return 1.0 / self._interval if self._interval else None

    def change(self, lr: float | None = None, l2: float | None = None,
               batch_size: int | None = None) -> None:
        """Go on with another learning rate, L2 or batch size (None: unchanged), same weights
        and optimiser state (any thread; train/live_settings.py). ValueError: unusable."""
        c = self.config
        with self._cond:
            merge_changes(self._pending, {"lr": c.lr, "l2": c.l2, "batch_size": c.batch_size},
                          {"lr": lr, "l2": l2, "batch_size": batch_size})

    @property
    def pending_changes(self) -> dict[str, float]:
        """The changes asked and not applied yet (TrainConfig field -> value)."""
        with self._cond:
            return dict(self._pending)

    def _apply_changes(self, epoch_start: bool) -> None:
        """Between two steps (training thread): apply the changes asked, each recorded in
        the history, after reading a deferred NaN guard (no replay crosses a change)."""
        with self._cond:
            changes = take_changes(self._pending, epoch_start)
        if changes:
            self._check()
            apply_changes(changes, self.config, self.optimizer, self.history,
                          self._progress.step_count, self._progress.examples_seen / self.train.m)

    @property
    def is_paused(self) -> bool:
        return self._paused

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def is_waiting(self) -> bool:
        """Paused and blocked between two steps (no step in progress)."""
        return self._waiting

    def _wait_for_go(self, unchecked: bool = False) -> Go:
        """Block while paused, then say what to do. With ``unchecked`` steps, a run about to
        wait paused answers CHECK_FIRST without blocking: a paused run's weights are looked
        at, so its deferred NaN guard must be read before it waits."""
        with self._cond:
            while True:
                if unchecked and self._paused and not self._stop and self._steps_allowed == 0:
                    return _CHECK_FIRST
                if self._paused and not self._stop and self._steps_allowed == 0:
                    waited = time.perf_counter()
                    while self._paused and not self._stop and self._steps_allowed == 0:
                        self._waiting = True
                        self._cond.wait()
                    self._waiting = False
                    # time spent paused is no training time (speed, time left)
                    self._started += time.perf_counter() - waited
                if self._stop:
                    return _STOP
                if self._paused:
                    self._steps_allowed -= 1
                    return _SINGLE_STEP
                if not self._interval:
                    return _GO
                # slow motion: wait for the step's time (a pause, stop or new speed wakes it)
                now = time.perf_counter()
                delay = self._last_step_at + self._interval - now
                if delay <= 0:
                    self._last_step_at = now
                    return _GO
                self._cond.wait(delay)

    # ------------------------------------------------------------------ the loop
    def run(self, epochs: int | None = None, start_paused: bool = False) -> TrainResult:
        """Train for ``epochs`` more epochs (default: config.epochs). Blocks until done.

        A pause, step or stop asked for before the run begins (another thread may start it a
        moment later) is honoured; the run clears them when it ends."""
        epochs = self.config.epochs if epochs is None else epochs
        with self._cond:
            self._paused = self._paused or start_paused
            self._last_step_at = 0.0  # in slow motion too, a run's first step goes at once
        self._running = True
        try:
            # Divergence is handled by the NaN guard: NumPy's overflow warnings are noise here.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                try:
                    result = self._run(epochs)
                except Exception as exc:
                    if not self.network.backend.is_out_of_memory(exc):
                        raise
                    result = self._out_of_memory_result()
        finally:
            self._feed.release()  # the streaming buffers go with the run
            with self._cond:
                # what was asked when the run ended: a run continued elsewhere honours it
                self.ended_paused, self.ended_stop_asked = self._paused, self._stop
                self._stop = self._paused = False
                self._steps_allowed = 0
            self._running = False
        self.last_result = result
        return result

    def _batches(self, own_buffers: bool = False) -> Batches:
        """The training set's batches for one epoch (train/batch_feed.py)."""
        bs = self.batch_size
        return self._feed.epoch(self.train, self._progress, bs,
                                self.config.shuffle and bs < self.train.m, own_buffers)

    def _run(self, epochs: int) -> TrainResult:
        self._started = t0 = time.perf_counter()
        progress, guard = self._progress, self._guard
        self.optimizer.allocate(self.network)
        guard.begin(defers_guard(self.defer_guard, self.config.report_every), self.optimizer,
                    progress)
        if self._epoch_report_pending:
            self._epoch_report_pending = False
            try:
                self._epoch_report()
            except Exception as exc:
                # still too little memory to evaluate here: train on without that point (a
                # run that could not evaluate would otherwise never train again)
                if not self.network.backend.is_out_of_memory(exc):
                    raise
        target_epoch = progress.epoch + epochs
        self._total_steps = (progress.step_count + epochs * self.steps_per_epoch
                             - progress.resume_batch)
        last_cost = math.nan
        early_stopping = EarlyStopping(self.config.patience)
        status, message = "completed", f"trained {epochs} epochs"
        try:
            while progress.epoch < target_epoch:
                if self._pending:
                    self._apply_changes(epoch_start=progress.resume_batch == 0)
                    self._total_steps = progress.step_count - progress.resume_batch + (
                        target_epoch - progress.epoch) * self.steps_per_epoch
                for xb_t, yb_t in self._batches():
                    go = self._wait_for_go(guard.unchecked > 0)
                    if go is _CHECK_FIRST:  # about to pause: check the steps taken so far
                        self._check()
                        go = self._wait_for_go()
                    if go is _STOP:
                        status = "stopped"
                        message = f"stopped by the user at step {progress.step_count}"
                        self._check()
                        break
                    if self._pending:  # a change asked meanwhile
                        self._apply_changes(epoch_start=False)
                    last_cost = self._train_step(xb_t.T, yb_t.T, go is _SINGLE_STEP)
                else:
                    self._check()
                    progress.end_epoch()
                    guard.epoch_ended(self.optimizer, progress)
                    self._epoch_report_pending = True
                    report = self._epoch_report()
                    self._epoch_report_pending = False
                    monitored = report.val_cost if self.val is not None else report.train_cost
                    if early_stopping.should_stop(monitored, self.network, progress.epoch):
                        status = "early_stopping"
                        message = early_stopping.keep_best(self.network)
                        break
                    continue
                progress.interrupt_epoch()
                break
        except NonFiniteStep as non_finite:
            non_finite.result.seconds = time.perf_counter() - t0
            progress.interrupt_epoch()
            return non_finite.result
        if guard.deferring:
            last_cost = guard.checked_cost
        return TrainResult(stopped=status, message=message, epochs=progress.epoch,
                           steps=progress.step_count, seconds=time.perf_counter() - t0,
                           final_cost=last_cost)

    def _check(self) -> None:
        """Read the deferred NaN guard of the steps taken since the last check (GPU runs);
        raises NonFiniteStep when one of them was not finite (train/nan_guard.py)."""
        self._guard.check_pending(self.optimizer, self._progress, self._batches,
                                  self._train_step)

    def _train_step(self, xb: Array, yb: Array, single_step: bool = False,
                    replay: bool = False) -> float:
        """One optimiser step on a batch xb (n_x, b), yb (n_y, b). Returns the batch cost (NaN
        when a deferred guard has not read it yet); raises NonFiniteStep when the cost or a
        gradient is not finite (the weights are left untouched). A single step, or any step in
        slow motion, is reported whatever ``report_every`` says; a ``replay``
        (train/nan_guard.py) is never."""
        net, c, progress = self.network, self.config, self._progress
        _, caches = net.forward(xb)
        cost = net.cost_value(caches, yb, c.l2, self.train.m)
        grads = self._grads = net.backward(caches, yb, c.l2, self.train.m, out=self._grads)
        cost_value = self._guard.check_step(cost, caches, grads, progress)
        reported = not replay and (single_step or self._interval
                                   or (progress.step_count + 1) % c.report_every == 0)
        if reported:
            diagnostics = self._diagnostics_for(net)
            diagnostics.before_step()  # ||W|| before the step, for the update ratio
        self.optimizer.step(net, grads)
        # The step is taken: count it before the report, which may still fail (out of memory)
        progress.step_taken(int(xb.shape[1]))
        if reported:
            if self._guard.deferring:
                self._check()
                cost_value = self._guard.checked_cost
            layers, histograms = diagnostics.after_step(caches, grads, self.optimizer)
            elapsed = time.perf_counter() - self._started
            report = StepReport(
                epoch=progress.epoch + 1, step=progress.step_count, batch_cost=cost_value,
                layers=layers, examples_seen=progress.examples_seen, elapsed_s=elapsed,
                examples_per_s=progress.examples_seen / elapsed if elapsed else 0.0,
                total_steps=self._total_steps, histograms=histograms)
            self.history.add_step(report)
            if self.on_step:
                self.on_step(report)
        return cost_value

    def _diagnostics_for(self, net: Network) -> StepDiagnostics:
        if self._diagnostics is None or self._diagnostics.net is not net:
            self._diagnostics = StepDiagnostics(net, self.activation_histograms)
        self._diagnostics.histograms = self.activation_histograms
        return self._diagnostics

    def _out_of_memory_result(self) -> TrainResult:
        """The device ran out of memory in a step or an evaluation. The optimiser allocates
        its arrays before the first step and a step changes the weights only after the
        forward and backward passes, so the weights are those of the last step taken (or,
        when the unchecked steps of a deferred guard include a non-finite one, of the
        checked copy)."""
        self._guard.keep_or_undo_unchecked(self.optimizer, self._progress)
        self._progress.interrupt_epoch()
        return out_of_memory_result(self._progress, self.memory_tensors(),
                                    self.network.backend)

    def _epoch_report(self) -> EpochReport:
        """Report the epoch just completed (train / validation cost and accuracy, NaN when
        not evaluated) to the history and the listener."""
        tr = va = Evaluation(math.nan, math.nan)
        if self.config.evaluate:
            tr = self.evaluate_data(self.train)
            if self.val is not None:
                va = self.evaluate_data(self.val)
        report = EpochReport(epoch=self.epoch, step=self.step_count, train_cost=tr.cost,
                             train_accuracy=tr.accuracy, val_cost=va.cost,
                             val_accuracy=va.accuracy,
                             seconds=time.perf_counter() - self._started)
        self.history.add_epoch(report)
        if self.on_epoch:
            self.on_epoch(report)
        return report

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, X: Array, Y: Array) -> Evaluation:
        """Cost (with the L2 term of the training set) and accuracy on X (n_x, m), Y (n_y, m)."""
        return self.evaluate_data(place(self.network, X, Y, "evaluation", self.streaming))

    def evaluate_data(self, data: PlacedData, chunk: int | None = None) -> Evaluation:
        """Cost and accuracy on a whole data set, ``chunk`` columns at a time (default
        EVAL_CHUNK). When a chunk does not fit in the device's memory the evaluation starts
        again with chunks half as big (down to MIN_EVAL_CHUNK), and later ones keep that
        size (train/evaluation.py)."""
        return self._evaluator.evaluate(data, self.config.l2, self.train.m, chunk)


__all__ = ["TrainConfig", "TrainResult", "Trainer", "SetAsideRun", "Evaluation", "summary",
           "Go", "NonFiniteStep"]
