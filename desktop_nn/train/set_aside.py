"""A run set aside without its data: its weights, optimiser state, position, history and
listeners (:class:`SetAsideRun`), so that a GPU's memory can be given back and the run taken
up again later, there or on another device.

:func:`set_aside_run` takes a Trainer's run aside (through its checkpoint, train/checkpoint.py);
:meth:`SetAsideRun.resume` builds a Trainer again from the data; :func:`move` does both to
carry a run to another device (a run that ran out of GPU memory goes on on the CPU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from desktop_nn.backend import Backend
from desktop_nn.nn.network import Network
from desktop_nn.train.config import TrainConfig
from desktop_nn.train.history import EpochReport, History, StepReport

if TYPE_CHECKING:
    from desktop_nn.train.trainer import Trainer

Array = Any


@dataclass
class SetAsideRun:
    """A run's weights (``network``), optimiser state and position (``state``, ``arrays``,
    as :meth:`Trainer.checkpoint` gives them), history and listeners, without its data: what
    :meth:`Trainer.set_aside` keeps and :meth:`resume` goes on from."""

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
        from desktop_nn.train.trainer import Trainer  # trainer.py imports this module

        trainer = Trainer(self.network, X_train, Y_train, self.config,
                          X_val=X_val if self.has_val else None,
                          Y_val=Y_val if self.has_val else None,
                          on_step=self.on_step, on_epoch=self.on_epoch, history=self.history)
        trainer.restore(self.state, self.arrays)
        return trainer


def set_aside_run(trainer: Trainer, backend: Backend) -> SetAsideRun:
    """``trainer``'s run without its data, its weights on ``backend``. Take it while the run
    is not training."""
    state, arrays = trainer.checkpoint()
    return SetAsideRun(trainer.network.to(backend), trainer.config, state, arrays,
                     trainer.history, trainer.on_step, trainer.on_epoch,
                     trainer.val is not None)


def move(trainer: Trainer, backend: Backend, X_train: Array | None = None,
         Y_train: Array | None = None, X_val: Array | None = None,
         Y_val: Array | None = None) -> Trainer:
    """``trainer``'s run on ``backend``, from the host arrays it was built from, (n_x, m)
    and (n_y, m), or, when they are not given, from copies of its data."""
    host = trainer.network.backend.to_host
    if X_train is None or Y_train is None:
        X_train, Y_train = host(trainer.train.XT).T, host(trainer.train.YT).T
    if trainer.val is not None and (X_val is None or Y_val is None):
        X_val, Y_val = host(trainer.val.XT).T, host(trainer.val.YT).T
    return set_aside_run(trainer, backend).resume(X_train, Y_train, X_val, Y_val)
