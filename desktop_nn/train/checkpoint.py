"""A run's state beyond its weights, to save and to go on from later: the counters, the
shuffling generator, the place inside an epoch, the optimiser's state and whether an epoch's
report is still due.

:func:`checkpoint_state` reads it from the run's :class:`~desktop_nn.train.progress.Progress`
and optimiser; :func:`restored` checks a saved state against the run it is loaded into and
builds a new Progress and optimiser from it (the Trainer swaps them in only when all is
well).
"""

from __future__ import annotations

import math

import numpy as np

from desktop_nn.io.trainer_state import check_trainer_state
from desktop_nn.nn.network import Network
from desktop_nn.nn.optimizers import Optimizer
from desktop_nn.train.config import TrainConfig, optimizer_for
from desktop_nn.train.progress import Progress
from desktop_nn.train.shuffle import SHUFFLE_ALGORITHM


def checkpoint_state(progress: Progress, optimizer: Optimizer, m: int, batch_size: int,
                     epoch_report_pending: bool) -> tuple[dict, dict[str, np.ndarray]]:
    """(JSON-able state, host arrays of the optimiser's per-parameter state) of a run on
    ``m`` training examples in batches of ``batch_size``."""
    pos = progress.position(optimizer.t)
    state = {"epoch": pos.epoch, "step_count": pos.step_count,
             "examples_seen": pos.examples_seen, "rng": pos.rng_state,
             "batch_in_epoch": pos.batch_in_epoch, "m": m,
             "batch_size": batch_size, "optimizer": optimizer.state_dict(),
             "epoch_report_due": epoch_report_pending, "shuffle": SHUFFLE_ALGORITHM}
    return state, optimizer.state_arrays()


def restored(state: dict, arrays: dict[str, np.ndarray], network: Network,
             config: TrainConfig, m: int, batch_size: int
             ) -> tuple[Progress, Optimizer, bool]:
    """The (progress, optimiser, epoch report due?) that :func:`checkpoint_state`'s output
    describes, for a run of ``network`` with ``config`` on ``m`` examples in batches of
    ``batch_size``. Raises ValueError, with a message, when it does not fit (another
    optimiser, other shapes) or is malformed (any value a run cannot go on from: see
    :func:`~desktop_nn.io.trainer_state.check_trainer_state`); nothing else."""
    try:
        check_trainer_state(state, arrays, network.spec)
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        counters = {k: int(state[k]) for k in ("epoch", "step_count", "examples_seen")}
        counters["batch_in_epoch"] = int(state.get("batch_in_epoch") or 0)
        largest = float(np.finfo(network.dtype).max)
        for key, a in arrays.items():  # a float64 state of a float32 run would become inf
            if a.size and float(np.abs(a).max()) > largest:
                raise ValueError(f"optimiser state {key} does not fit {network.dtype}")
        optimizer = optimizer_for(config)
        optimizer.load_state(state["optimizer"], arrays, network)
    except (LookupError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise ValueError(f"the saved training state cannot be used: {exc}") from None
    progress = Progress(rng)
    progress.epoch = counters["epoch"]
    progress.step_count = counters["step_count"]
    progress.examples_seen = counters["examples_seen"]
    # The position inside an epoch means something only for the same examples, batch size
    # and way of shuffling (states saved before the order was drawn on the device have
    # none); otherwise the interrupted epoch starts again, from its start.
    same = (state.get("m") == m and state.get("batch_size") == batch_size
            and state.get("shuffle") == SHUFFLE_ALGORITHM)
    batch = counters["batch_in_epoch"]
    steps_per_epoch = math.ceil(m / batch_size)
    progress.resume_batch = batch if same and 0 <= batch < steps_per_epoch else 0
    return progress, optimizer, state.get("epoch_report_due") is True
