"""The training loop, shared by the CLI, the tests and the GUI worker.

    for each epoch: shuffle (seeded) -> for each mini-batch:
        forward (caches) -> cost -> backward -> NaN guard -> optimiser step
        -> every ``report_every`` steps: LayerStats -> StepReport to the listeners
    -> EpochReport (train / validation cost and accuracy) -> early stopping

``run()`` blocks; other threads control it with ``pause()``, ``resume()``, ``step()`` and
``stop()``. Listeners receive plain host numbers only, never device arrays.

Data are stored example-major on the device, XT (m, n_x), so a mini-batch is a row gather and
its transpose is the (n_x, batch) column block the math expects, with no strided copy.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from desktop_nn.backend import Backend
from desktop_nn.nn.blocks import sum_of_squares
from desktop_nn.nn.diagnostics import layer_stats
from desktop_nn.nn.network import Gradients, LayerCache, Network, labels_from_outputs
from desktop_nn.nn.optimizers import Optimizer, make_optimizer
from desktop_nn.train.batch_upload import DoubleBuffer
from desktop_nn.train.checked_copy import CheckedCopy, Position
from desktop_nn.train.device_memory import (
    EVAL_CHUNK,
    OutOfDeviceMemory,
    Tensor,
    defers_guard,
    fits,
    out_of_memory_message,
    run_tensors,
    streamed,
)
from desktop_nn.train.history import EpochReport, History, StepReport
from desktop_nn.train.shuffle import SHUFFLE_ALGORITHM, draw_key, epoch_permutation

Array = Any
MIN_EVAL_CHUNK = 256  # an evaluation that runs out of memory halves its chunks down to this


@dataclass
class TrainConfig:
    """Hyperparameters of a run. ``batch_size`` 0 means full batch."""

    lr: float = 0.1
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    l2: float = 0.0
    seed: int = 0
    shuffle: bool = True
    report_every: int = 10
    patience: int = 0
    evaluate: bool = True  # train / validation cost and accuracy at each epoch's end
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999

    def validate(self) -> None:
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be a positive number, got {self.lr}")
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 0:
            raise ValueError(f"batch size must be >= 0 (0 = full batch), got {self.batch_size}")
        if self.l2 < 0:
            raise ValueError(f"L2 strength must be >= 0, got {self.l2}")
        if self.report_every < 1:
            raise ValueError(f"report_every must be >= 1, got {self.report_every}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """How a run ended. ``stopped``: completed | stopped | nan | early_stopping |
    out_of_memory (the device ran out of memory; the weights of the last step are kept)."""

    stopped: str
    message: str
    epochs: int
    steps: int
    seconds: float
    final_cost: float
    nan_step: int | None = None
    nan_layer: int | None = None


@dataclass
class Evaluation:
    cost: float
    accuracy: float


@dataclass
class _Data:
    XT: Array  # (m, n_x) on the device, or in host memory when the data set is streamed
    YT: Array  # (m, n_y) likewise

    @property
    def m(self) -> int:
        return int(self.XT.shape[0])


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
        backend = network.backend
        # On the GPU the NaN guard is read only when a report, an epoch's end, a pause or the
        # run's end reads the device anyway, so that the host never waits for the device at
        # every step; a failed check goes back to a copy of the weights taken at the last
        # check that passed and takes the same steps again, checking each (see _check).
        self.defer_guard = backend.is_gpu
        m_val = 0 if X_val is None else int(np.shape(X_val)[1])
        tensors = self.memory_tensors(int(np.shape(X_train)[1]), m_val)
        if stream_data is None:
            stream_data = backend.is_gpu and not fits(tensors, backend.free_memory_bytes())
        self.streaming = bool(stream_data) and backend.is_gpu
        self._upload: DoubleBuffer | None = None  # the streaming buffers of the current run
        try:
            self._take_data(X_train, Y_train, X_val, Y_val)
        except Exception as exc:
            if not backend.is_out_of_memory(exc):
                raise
            if not backend.is_gpu or self.streaming:
                raise OutOfDeviceMemory(out_of_memory_message(
                    tensors, backend.device_name, backend.free_memory_bytes(),
                    backend.is_gpu)) from None
            self.streaming = True  # the data set did not fit after all: stream it
            self._take_data(X_train, Y_train, X_val, Y_val)
        self.on_step = on_step
        self.on_epoch = on_epoch
        self.history = history if history is not None else History()
        self.optimizer: Optimizer = self._make_optimizer()
        self.rng = np.random.default_rng(self.config.seed)
        self.epoch = 0  # epochs completed
        self.step_count = 0  # optimiser steps taken
        self.examples_seen = 0
        # Where an epoch stands, so that a run stopped (or saved) inside an epoch goes on with
        # the same shuffle: the generator's state before the epoch's permutation was drawn,
        # the batches taken in it, and the batches the next epoch skips (an interrupted one).
        self._epoch_start_state: dict | None = None
        self._batch_in_epoch = 0
        self._resume_batch = 0
        # an epoch ended but its report was not made (the device ran out of memory in the
        # evaluation): the next run makes it before its first step
        self._report_due = False
        self.last_result: TrainResult | None = None
        self._grads: Gradients | None = None  # reused every step (see Network.backward)
        self._eval_chunk = EVAL_CHUNK  # halved when an evaluation runs out of memory
        # the deferred NaN guard (GPU runs): the guard values of the steps taken since the
        # last check, summed on the device, the last step's cost, and the checked copy
        self._deferring = False
        self._pending: Array = None
        self._unchecked = 0
        self._last_cost: Array = None
        self._checked_cost = math.nan
        self._checked = CheckedCopy()
        self._cond = threading.Condition()
        self._paused = False
        self._stop = False
        self._steps_allowed = 0
        self._running = False
        self._waiting = False
        self.ended_paused = self.ended_stop_asked = False

    # ------------------------------------------------------------------ set-up
    def _take_data(self, X_train: Array, Y_train: Array, X_val: Array | None,
                   Y_val: Array | None) -> None:
        self.train = self.val = None
        self.train = self._to_device(X_train, Y_train, "training", self.streaming)
        if X_val is not None:
            self.val = self._to_device(X_val, Y_val, "validation", self.streaming)

    def _to_device(self, X: Array, Y: Array, what: str, on_host: bool = False) -> _Data:
        """(m, n_x) and (m, n_y) copies of X (n_x, m) and Y (n_y, m) on the network's device,
        or in host memory when ``on_host`` (a streamed data set)."""
        net = self.network
        if Y is None:
            raise ValueError(f"{what} labels Y are missing")
        if on_host:
            host = net.backend.to_host
            X, Y = host(X).astype(net.dtype, copy=False), host(Y).astype(net.dtype, copy=False)
            if Y.ndim == 1:
                Y = Y.reshape(1, -1)
            self._check_shapes(X, Y, what)
            return _Data(XT=np.ascontiguousarray(X.T), YT=np.ascontiguousarray(Y.T))
        if net.backend.is_gpu and isinstance(X, np.ndarray) and X.ndim == 2:
            # Transpose on the host, so that the device holds one copy of the data, not two
            # for a moment (the (n_x, m) upload and its (m, n_x) transpose).
            X = np.ascontiguousarray(X.T, dtype=net.dtype).T
        X = net.as_input(X)
        Y = net.xp.asarray(Y, dtype=net.dtype)
        if Y.ndim == 1:
            Y = Y.reshape(1, -1)
        self._check_shapes(X, Y, what)
        xp = net.xp
        return _Data(XT=xp.ascontiguousarray(X.T), YT=xp.ascontiguousarray(Y.T))

    def _check_shapes(self, X: Array, Y: Array, what: str) -> None:
        n_x, n_out = self.network.spec.input_size, self.network.spec.output_size
        if X.ndim != 2 or X.shape[0] != n_x:
            raise ValueError(f"X must have shape ({n_x}, m), got {X.shape}")
        if Y.shape != (n_out, X.shape[1]):
            raise ValueError(f"{what} Y has shape {Y.shape}, expected ({n_out}, {X.shape[1]}) "
                             f"for {X.shape[1]} examples and {n_out} outputs")
        if X.shape[1] == 0:
            raise ValueError(f"the {what} set is empty")

    def _rows_on_device(self, rows: Array) -> Array:
        """A block of rows of a data set on the device (uploaded when it is streamed)."""
        return self.network.xp.asarray(rows) if self.streaming else rows

    def _make_optimizer(self) -> Optimizer:
        c = self.config
        kwargs: dict[str, float] = {}
        if c.optimizer == "momentum":
            kwargs = {"beta": c.momentum}
        elif c.optimizer == "adam":
            kwargs = {"beta1": c.beta1, "beta2": c.beta2}
        return make_optimizer(c.optimizer, c.lr, **kwargs)

    def memory_tensors(self, m_train: int | None = None, m_val: int | None = None
                       ) -> list[Tensor]:
        """The arrays this run keeps on the device and its largest temporaries (for the
        message when the device runs out of memory)."""
        c = self.config
        m_train = self.train.m if m_train is None else m_train
        if m_val is None:
            m_val = self.val.m if getattr(self, "val", None) is not None else 0
        tensors = run_tensors(self.network.spec.sizes, m_train, m_val, c,
                              str(self.network.dtype), self.defer_guard)
        if getattr(self, "streaming", False):
            tensors = streamed(tensors)
        return tensors

    def moved_to(self, backend: Backend, X_train: Array | None = None,
                 Y_train: Array | None = None, X_val: Array | None = None,
                 Y_val: Array | None = None) -> Trainer:
        """This run on another device: the same weights, optimiser state, history, listeners
        and position (a run that ran out of GPU memory goes on on the CPU). Pass the host
        arrays it was built from, (n_x, m) and (n_y, m), to save copying the data back from
        the device."""
        host = self.network.backend.to_host
        if X_train is None or Y_train is None:
            X_train, Y_train = host(self.train.XT).T, host(self.train.YT).T
        if self.val is not None and (X_val is None or Y_val is None):
            X_val, Y_val = host(self.val.XT).T, host(self.val.YT).T
        return self.parked(backend).resume(X_train, Y_train, X_val, Y_val)

    def parked(self, backend: Backend) -> ParkedRun:
        """This run without its data, its weights on ``backend`` (the CPU: host memory, so
        that the device's can be given back), to :meth:`ParkedRun.resume` later. Take it
        while the run is not training."""
        state, arrays = self.checkpoint()
        return ParkedRun(self.network.to(backend), self.config, state, arrays, self.history,
                         self.on_step, self.on_epoch, self.val is not None)

    @property
    def report_due(self) -> bool:
        """An epoch ended without its report (the device ran out of memory evaluating it):
        the next run makes it first."""
        return self._report_due

    @property
    def batch_size(self) -> int:
        bs = self.config.batch_size
        return self.train.m if bs <= 0 or bs > self.train.m else bs

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train.m / self.batch_size)

    # ------------------------------------------------------------------ checkpoint
    def checkpoint(self) -> tuple[dict, dict[str, np.ndarray]]:
        """What continuing this run later needs beyond the weights: (JSON-able state, host
        arrays of the optimiser's per-parameter state). Take it while the run is not training
        (between runs, or paused). Continuing from it at an epoch boundary gives the same
        weights as training straight through: the shuffling generator is kept too."""
        pos = self._position()
        state = {"epoch": pos.epoch, "step_count": pos.step_count,
                 "examples_seen": pos.examples_seen, "rng": pos.rng_state,
                 "batch_in_epoch": pos.batch_in_epoch, "m": self.train.m,
                 "batch_size": self.batch_size, "optimizer": self.optimizer.state_dict(),
                 "epoch_report_due": self._report_due, "shuffle": SHUFFLE_ALGORITHM}
        return state, self.optimizer.state_arrays()

    def _position(self) -> Position:
        """Where the run stands between two steps."""
        if self._epoch_start_state is not None:  # inside an epoch
            rng, batch = self._epoch_start_state, self._batch_in_epoch
        else:
            rng, batch = self.rng.bit_generator.state, self._resume_batch
        return Position(self.epoch, self.step_count, self.examples_seen, self.optimizer.t,
                        rng, batch)

    def restore(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        """Continue from :meth:`checkpoint`'s output. Raises ValueError when it does not fit
        (another optimiser, other shapes) or is malformed; the trainer is then unchanged."""
        try:
            rng = np.random.default_rng()
            rng.bit_generator.state = state["rng"]
            counters = {k: int(state[k]) for k in ("epoch", "step_count", "examples_seen")}
            counters["batch_in_epoch"] = int(state.get("batch_in_epoch", 0))
            optimizer = self._make_optimizer()
            optimizer.load_state(state["optimizer"], arrays, self.network)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the saved training state cannot be used: {exc}") from None
        if any(v < 0 for v in counters.values()):
            raise ValueError("the saved training state has negative counters")
        self.rng, self.optimizer = rng, optimizer
        self.epoch = counters["epoch"]
        self.step_count = counters["step_count"]
        self.examples_seen = counters["examples_seen"]
        self._report_due = state.get("epoch_report_due") is True
        # The position inside an epoch means something only for the same examples, batch size
        # and way of shuffling (states saved before the order was drawn on the device have
        # none); otherwise the interrupted epoch starts again, from its start.
        same = (state.get("m") == self.train.m and state.get("batch_size") == self.batch_size
                and state.get("shuffle") == SHUFFLE_ALGORITHM)
        batch = counters["batch_in_epoch"]
        self._resume_batch = batch if same and 0 <= batch < self.steps_per_epoch else 0
        self._epoch_start_state, self._batch_in_epoch = None, 0

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

    def _wait_for_go(self, unchecked: bool = False) -> tuple[bool | None, bool]:
        """Block while paused. Returns (go on?, is this a single step?), or (None, False)
        without blocking when it would block and ``unchecked`` steps must be checked first
        (a paused run's weights are looked at)."""
        with self._cond:
            if unchecked and self._paused and not self._stop and self._steps_allowed == 0:
                return None, False
            while self._paused and not self._stop and self._steps_allowed == 0:
                self._waiting = True
                self._cond.wait()
            self._waiting = False
            if self._stop:
                return False, False
            if self._paused:
                self._steps_allowed -= 1
                return True, True
            return True, False

    # ------------------------------------------------------------------ the loop
    def run(self, epochs: int | None = None, start_paused: bool = False) -> TrainResult:
        """Train for ``epochs`` more epochs (default: config.epochs). Blocks until done.

        A pause, step or stop asked for before the run begins (another thread may start it a
        moment later) is honoured; the run clears them when it ends."""
        epochs = self.config.epochs if epochs is None else epochs
        with self._cond:
            self._paused = self._paused or start_paused
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
            self._upload = None  # the streaming buffers go with the run
            with self._cond:
                # what was asked when the run ended: a run continued elsewhere honours it
                self.ended_paused, self.ended_stop_asked = self._paused, self._stop
                self._stop = self._paused = False
                self._steps_allowed = 0
            self._running = False
        self.last_result = result
        return result

    def _batches(self, own_buffers: bool = False):
        """Yield (XT_batch (b, n_x), YT_batch (b, n_y)) for one epoch, skipping the batches an
        interrupted epoch already took (same permutation: drawn from the same state).
        ``own_buffers``: a streamed data set goes through a double buffer of its own, not the
        run's (a failed check's replay, taken while the run's epoch holds a batch)."""
        m, bs = self.train.m, self.batch_size
        skip, self._resume_batch = self._resume_batch, 0
        self._epoch_start_state, self._batch_in_epoch = self.rng.bit_generator.state, skip
        shuffle = self.config.shuffle and bs < m
        if self.streaming:
            yield from self._streamed_batches(skip, shuffle, own_buffers)
        elif shuffle:
            xp = self.network.xp
            perm = epoch_permutation(xp, draw_key(self.rng), m)  # drawn on the device
            # Gather into buffers reused across batches: a fresh (b, n_x) array per step costs
            # more than the gather itself (page faults). Each batch is used up before the next.
            xbuf = xp.empty((bs, self.train.XT.shape[1]), dtype=self.train.XT.dtype)
            ybuf = xp.empty((bs, self.train.YT.shape[1]), dtype=self.train.YT.dtype)
            for i in range(skip * bs, m, bs):
                idx = perm[i:i + bs]
                k = idx.shape[0]
                _gather(xp, self.train.XT, idx, xbuf[:k])
                _gather(xp, self.train.YT, idx, ybuf[:k])
                yield xbuf[:k], ybuf[:k]
        else:
            for i in range(skip * bs, m, bs):
                yield self.train.XT[i:i + bs], self.train.YT[i:i + bs]

    def _streamed_batches(self, skip: int, shuffle: bool, own_buffers: bool = False):
        """The batches of a data set held in host memory: gathered on the host into one of
        two page-locked buffers and copied to the device on a copy stream while the device
        runs the step before (train/batch_upload.py). Same permutation as the resident
        path."""
        m, bs = self.train.m, self.batch_size
        backend, xp = self.network.backend, self.network.xp
        XT, YT = self.train.XT, self.train.YT
        perm = epoch_permutation(np, draw_key(self.rng), m) if shuffle else None
        # One double buffer for all the epochs of a run (page-locked memory is slow to
        # allocate). A replay needs its own: the run's epoch is suspended with a batch copied
        # but not yet trained on, and its slots and events must not change under it. The
        # memory estimate counts both pairs (device_memory.training_tensors).
        buffers = None if own_buffers else self._upload
        if buffers is None:
            buffers = DoubleBuffer(backend.copy_streams(), xp, [(bs, XT.shape[1]),
                                   (bs, YT.shape[1])], XT.dtype, backend.pinned_empty)
            if not own_buffers:
                self._upload = buffers
        try:
            for i in range(skip * bs, m, bs):
                k = min(bs, m - i)
                host_x, host_y = buffers.host_buffers()
                if perm is not None:
                    _gather(np, XT, perm[i:i + k], host_x[:k])
                    _gather(np, YT, perm[i:i + k], host_y[:k])
                else:
                    host_x[:k], host_y[:k] = XT[i:i + k], YT[i:i + k]
                xb, yb = buffers.upload(k)
                yield xb, yb
                buffers.step_queued()  # the consumer asks for the next batch after queuing
        finally:
            buffers.drain()

    def _run(self, epochs: int) -> TrainResult:
        t0 = time.perf_counter()
        self.optimizer.allocate(self.network)
        self._deferring = defers_guard(self.defer_guard, self.config.report_every)
        self._unchecked, self._checked_cost = 0, math.nan
        if self._deferring:
            self._pending = self.network.xp.zeros((), dtype=self.network.xp.float64)
            self._checked.take(self.network, self.optimizer, self._position())
        if self._report_due:
            self._report_due = False
            try:
                self._epoch_report(t0)
            except Exception as exc:
                # still too little memory to evaluate here: train on without that point (a
                # run that could not evaluate would otherwise never train again)
                if not self.network.backend.is_out_of_memory(exc):
                    raise
        target_epoch = self.epoch + epochs
        total_steps = self.step_count + epochs * self.steps_per_epoch - self._resume_batch
        last_cost = math.nan
        best = (math.inf, None, 0)  # (monitored cost, parameters, epoch)
        bad_epochs = 0
        status, message = "completed", f"trained {epochs} epochs"
        while self.epoch < target_epoch:
            for xb_t, yb_t in self._batches():
                go, single = self._wait_for_go(self._unchecked > 0)
                if go is None:  # about to pause: check the steps taken so far first
                    if (fail := self._check(t0, total_steps)) is not None:
                        return self._failed(fail, t0)
                    go, single = self._wait_for_go()
                if not go:
                    status, message = "stopped", f"stopped by the user at step {self.step_count}"
                    if (fail := self._check(t0, total_steps)) is not None:
                        return self._failed(fail, t0)
                    break
                fail = self._train_step(xb_t.T, yb_t.T, single, t0, total_steps)
                if isinstance(fail, TrainResult):
                    return self._failed(fail, t0)
                last_cost = fail
            else:
                if (fail := self._check(t0, total_steps)) is not None:
                    return self._failed(fail, t0)
                self._epoch_start_state, self._batch_in_epoch = None, 0
                self.epoch += 1
                if self._deferring:  # a failed check later in the run goes back to here
                    self._checked.position = self._position()
                self._report_due = True
                report = self._epoch_report(t0)
                self._report_due = False
                monitored = report.val_cost if self.val is not None else report.train_cost
                if self.config.patience:
                    if monitored < best[0]:
                        best, bad_epochs = (monitored, self.network.get_parameters(), self.epoch), 0
                    else:
                        bad_epochs += 1
                        if bad_epochs >= self.config.patience:
                            self.network.set_parameters(*best[1])
                            status = "early_stopping"
                            message = (f"no improvement for {bad_epochs} epochs; "
                                       f"kept the weights of epoch {best[2]}")
                            break
                continue
            self._interrupt_epoch()
            break
        if self._deferring:
            last_cost = self._checked_cost
        return TrainResult(stopped=status, message=message, epochs=self.epoch,
                           steps=self.step_count, seconds=time.perf_counter() - t0,
                           final_cost=last_cost)

    def _failed(self, result: TrainResult, t0: float) -> TrainResult:
        result.seconds = time.perf_counter() - t0
        self._interrupt_epoch()
        return result

    # ------------------------------------------------------------------ deferred NaN guard
    def _check(self, t0: float, total_steps: int) -> TrainResult | None:
        """Read the guard of the steps taken since the last check (one host sync). When all
        were finite, copy the weights as the new checked copy. Otherwise go back to the last
        checked copy and take the same steps again, checking each: the first non-finite one
        ends the run exactly as it would have without deferral (its TrainResult)."""
        if not self._deferring or self._unchecked == 0:
            return None
        net, xp = self.network, self.network.xp
        guard, cost = net.backend.to_host(
            xp.stack([self._pending, xp.asarray(self._last_cost, dtype=xp.float64)])).tolist()
        if math.isfinite(guard):
            self._pending.fill(0)
            self._unchecked, self._checked_cost = 0, cost
            self._checked.take(net, self.optimizer, self._position())
            return None
        target = self.step_count
        self._go_back()
        return self._replay(target - self.step_count, t0, total_steps)

    def _go_back(self) -> None:
        """Restore the checked copy's weights, optimiser state and position."""
        pos = self._checked.restore(self.network, self.optimizer)
        self.epoch, self.step_count = pos.epoch, pos.step_count
        self.examples_seen, self.optimizer.t = pos.examples_seen, pos.optimizer_t
        self.rng.bit_generator.state = pos.rng_state
        self._resume_batch = pos.batch_in_epoch
        self._epoch_start_state, self._batch_in_epoch = None, 0
        self._pending.fill(0)
        self._unchecked = 0

    def _replay(self, n: int, t0: float, total_steps: int) -> TrainResult | None:
        """Take the ``n`` steps after the checked copy again, checking each (no reports: the
        first run of them made none). None when all turn out finite (a device need not repeat
        a computation bit for bit): the run then goes on from where the check was."""
        self._deferring = False
        batches = self._batches(own_buffers=True)
        try:
            for xb_t, yb_t in itertools.islice(batches, n):
                fail = self._train_step(xb_t.T, yb_t.T, False, t0, total_steps,
                                        may_report=False)
                if isinstance(fail, TrainResult):
                    return fail
                self._checked_cost = fail
        finally:
            batches.close()  # a streamed epoch waits for its copies here
            self._deferring = True
        self._checked.take(self.network, self.optimizer, self._position())
        return None

    def _out_of_memory_result(self) -> TrainResult:
        """The device ran out of memory in a step or an evaluation. The optimiser allocates
        its arrays before the first step and a step changes the weights only after the
        forward and backward passes, so the weights are those of the last step taken (or,
        when the unchecked steps of a deferred guard include a non-finite one, of the
        checked copy)."""
        if self._deferring and self._unchecked:
            try:
                finite = math.isfinite(self.network.backend.to_float(self._pending))
            except Exception:  # noqa: BLE001 - the device is in trouble: trust nothing unchecked
                finite = False
            if finite:
                self._unchecked = 0
            else:
                self._go_back()
        self._interrupt_epoch()
        backend = self.network.backend
        message = out_of_memory_message(self.memory_tensors(), backend.device_name,
                                        backend.free_memory_bytes(), backend.is_gpu)
        return TrainResult(stopped="out_of_memory",
                           message=f"training stopped at step {self.step_count} "
                                   f"(its weights are kept): {message}",
                           epochs=self.epoch, steps=self.step_count, seconds=0.0,
                           final_cost=math.nan)

    def _interrupt_epoch(self) -> None:
        """A run ends inside an epoch: the next run redraws the same permutation and skips the
        batches already taken, as if it had never stopped."""
        if self._epoch_start_state is not None:
            self.rng.bit_generator.state = self._epoch_start_state
            self._resume_batch = self._batch_in_epoch
            self._epoch_start_state, self._batch_in_epoch = None, 0

    def _train_step(self, xb: Array, yb: Array, force_report: bool, t0: float,
                    total_steps: int, may_report: bool = True) -> float | TrainResult:
        """One optimiser step on a batch xb (n_x, b), yb (n_y, b). Returns the batch cost (NaN
        when a deferred guard has not read it yet), or a TrainResult when the cost or a
        gradient is not finite (the weights are left untouched)."""
        net, c = self.network, self.config
        _, caches = net.forward(xb)
        cost = net.cost_value(caches, yb, c.l2, self.train.m)
        grads = self._grads = net.backward(caches, yb, c.l2, self.train.m, out=self._grads)
        # NaN guard. A non-finite value in the forward pass reaches the cost; one in dZ[l]
        # reaches db[l] = sum(dZ[l]) / m, and dW[l] = dZ[l] A[l-1]^T / m is finite when both
        # factors are. So the cost plus the (small) db sums cover them all.
        xp = net.xp
        guard = cost + sum(g.sum() for g in grads.db)
        if self._deferring:  # summed on the device, read at the next check
            self._pending += guard
            self._last_cost = cost
            self._unchecked += 1
            cost_value = math.nan
        else:
            if net.backend.is_gpu:  # cost and guard cross to the host together: one sync
                cost_value, guard_value = net.backend.to_host(xp.stack(
                    [xp.asarray(cost, dtype=xp.float64), xp.asarray(guard, dtype=xp.float64)])
                ).tolist()
            else:
                cost_value, guard_value = float(cost), float(guard)
            if not math.isfinite(guard_value):
                return self._nan_result(caches, grads)
        self.optimizer.step(net, grads)
        # The step is taken: count it before the report, which may still fail (out of memory)
        self.step_count += 1
        self._batch_in_epoch += 1
        self.examples_seen += int(xb.shape[1])
        if may_report and (force_report or self.step_count % c.report_every == 0):
            if self._deferring:
                if (fail := self._check(t0, total_steps)) is not None:
                    return fail
                cost_value = self._checked_cost
            elapsed = time.perf_counter() - t0
            report = StepReport(
                epoch=self.epoch + 1, step=self.step_count, batch_cost=cost_value,
                layers=layer_stats(net, caches, grads, c.lr), examples_seen=self.examples_seen,
                elapsed_s=elapsed, examples_per_s=self.examples_seen / elapsed if elapsed else 0.0,
                total_steps=total_steps)
            self.history.add_step(report)
            if self.on_step:
                self.on_step(report)
        return cost_value

    def _nan_result(self, caches: list[LayerCache], grads: Gradients) -> TrainResult:
        """Say where the first non-finite number appeared; the weights are the last good ones."""
        xp = self.network.xp
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
        step = self.step_count + 1
        msg = (f"training stopped: a NaN or infinite value appeared in {where} at step {step} "
               f"(epoch {self.epoch + 1}); the weights of step {self.step_count} are kept. "
               f"Try a smaller learning rate.")
        return TrainResult(stopped="nan", message=msg, epochs=self.epoch, steps=self.step_count,
                           seconds=0.0, final_cost=math.nan, nan_step=step, nan_layer=layer)

    def _epoch_report(self, t0: float) -> EpochReport:
        if not self.config.evaluate:
            report = EpochReport(self.epoch, self.step_count, math.nan, math.nan,
                                 seconds=time.perf_counter() - t0)
            self.history.add_epoch(report)
            if self.on_epoch:
                self.on_epoch(report)
            return report
        tr = self.evaluate_data(self.train)
        va = Evaluation(math.nan, math.nan)
        if self.val is not None:
            va = self.evaluate_data(self.val)
        report = EpochReport(epoch=self.epoch, step=self.step_count, train_cost=tr.cost,
                             train_accuracy=tr.accuracy, val_cost=va.cost,
                             val_accuracy=va.accuracy, seconds=time.perf_counter() - t0)
        self.history.add_epoch(report)
        if self.on_epoch:
            self.on_epoch(report)
        return report

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, X: Array, Y: Array) -> Evaluation:
        """Cost (with the L2 term of the training set) and accuracy on X (n_x, m), Y (n_y, m)."""
        return self.evaluate_data(self._to_device(X, Y, "evaluation", self.streaming))

    def evaluate_data(self, data: _Data, chunk: int | None = None) -> Evaluation:
        """Cost and accuracy on a whole data set, ``chunk`` columns at a time (default
        EVAL_CHUNK). When a chunk does not fit in the device's memory the evaluation starts
        again with chunks half as big (down to MIN_EVAL_CHUNK), and later ones keep that
        size."""
        while True:
            size = chunk or self._eval_chunk
            try:
                return self._evaluate_chunks(data, size)
            except Exception as exc:
                if not self.network.backend.is_out_of_memory(exc) or size <= MIN_EVAL_CHUNK:
                    raise
                chunk = None
                self._eval_chunk = max(MIN_EVAL_CHUNK, size // 2)

    def _evaluate_chunks(self, data: _Data, chunk: int) -> Evaluation:
        net = self.network
        xp = net.xp
        total_cost = xp.zeros((), dtype=xp.float64)
        correct = xp.zeros((), dtype=xp.int64)
        for i in range(0, data.m, chunk):
            x = self._rows_on_device(data.XT[i:i + chunk]).T
            y = self._rows_on_device(data.YT[i:i + chunk]).T
            _, caches = net.forward(x)
            total_cost += net.cost.value(caches[-1].z, caches[-1].a, y, net.activations[-1]) \
                * x.shape[1]
            correct += (labels_from_outputs(caches[-1].a) == labels_from_outputs(y)).sum()
        cost = net.backend.to_float(total_cost) / data.m
        if self.config.l2:
            cost += self.config.l2 / (2 * self.train.m) * sum(
                net.backend.to_float(sum_of_squares(W)) for W in net.W)
        return Evaluation(cost=cost, accuracy=int(net.backend.to_host(correct)) / data.m)


@dataclass
class ParkedRun:
    """A run's weights (``network``), optimiser state and position (``state``, ``arrays``,
    as :meth:`Trainer.checkpoint` gives them), history and listeners, without its data: what
    :meth:`Trainer.parked` keeps and :meth:`resume` goes on from."""

    network: Network
    config: TrainConfig
    state: dict
    arrays: dict[str, np.ndarray]
    history: History
    on_step: Callable[[StepReport], None] | None
    on_epoch: Callable[[EpochReport], None] | None
    has_val: bool

    def resume(self, X_train: Array, Y_train: Array, X_val: Array | None = None,
               Y_val: Array | None = None) -> Trainer:
        """The run again, on ``network``'s device, from the data it was trained on: X
        (n_x, m) and Y (n_y, m), and the validation set when it had one."""
        trainer = Trainer(self.network, X_train, Y_train, self.config,
                          X_val=X_val if self.has_val else None,
                          Y_val=Y_val if self.has_val else None,
                          on_step=self.on_step, on_epoch=self.on_epoch, history=self.history)
        trainer.restore(self.state, self.arrays)
        return trainer


def _gather(xp: Any, rows: Array, idx: Array, out: Array) -> None:
    """out[:] = rows[idx] (a shuffled batch) into a reused buffer. NumPy buffers ``out`` (an
    extra copy) unless told that out-of-range indices need no check, so it is told: idx is
    a slice of a permutation. CuPy writes into ``out`` directly."""
    if xp is np:
        np.take(rows, idx, axis=0, out=out, mode="clip")
    else:
        xp.take(rows, idx, axis=0, out=out)


def summary(result: TrainResult, trainer: Trainer) -> dict[str, Any]:
    """Plain dict of a finished run (for JSON output and model files)."""
    last = trainer.history.epochs[-1] if trainer.history.epochs else None
    return {
        "stopped": result.stopped,
        "message": result.message,
        "epochs": result.epochs,
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "final_cost": result.final_cost if math.isfinite(result.final_cost) else None,
        "train_accuracy": last.train_accuracy if last else None,
        "val_accuracy": last.val_accuracy if last and trainer.val is not None else None,
        "config": trainer.config.to_dict(),
    }


__all__ = ["TrainConfig", "TrainResult", "Trainer", "ParkedRun", "Evaluation", "summary"]
