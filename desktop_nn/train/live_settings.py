"""Settings changed while a run goes on, keeping its weights and optimiser state: the
learning rate, the L2 strength and the batch size (:data:`LIVE`).

A change is asked from any thread (:meth:`Trainer.change`) and applied by the training
thread at a step boundary: the learning rate and L2 before the next step, the batch size
before the next epoch (an epoch's shuffled order is cut into batches of one size, so that a
run stopped or saved inside it goes on with the same batches). Each change applied is a
:class:`SettingChange` in the run's history, drawn as a marker on the curves.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from desktop_nn.nn.optimizers import Optimizer
from desktop_nn.train.config import TrainConfig

if TYPE_CHECKING:  # history.py keeps SettingChange records: it imports this module
    from desktop_nn.train.history import History

# TrainConfig field -> the name a marker shows
LIVE = {"lr": "lr", "l2": "L2", "batch_size": "batch"}


def _shown(name: str, value: float) -> str:
    if name == "batch_size":
        return "full" if value <= 0 else str(int(value))
    return f"{value:g}"


@dataclass(frozen=True)
class SettingChange:
    """``name`` (a TrainConfig field of :data:`LIVE`) went from ``old`` to ``new`` after
    ``step`` steps, when ``examples_seen`` examples had been trained on (``epoch`` =
    examples_seen / training examples, the accuracy plot's x): step ``step + 1`` is the first
    taken with the new value."""

    step: int
    epoch: float
    name: str
    old: float
    new: float

    @property
    def label(self) -> str:
        """What the marker says, e.g. "lr 0.1 -> 0.01"."""
        return f"{LIVE[self.name]} {_shown(self.name, self.old)} -> " \
               f"{_shown(self.name, self.new)}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["type"] = "change"
        return d

    @staticmethod
    def from_dict(d: dict) -> SettingChange:
        """A change read back (a saved run's); ValueError when it is not one."""
        try:
            change = SettingChange(int(d["step"]), float(d["epoch"]), str(d["name"]),
                                   float(d["old"]), float(d["new"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError("not a setting change") from exc
        if change.name not in LIVE or change.step < 0 or not all(
                math.isfinite(x) for x in (change.epoch, change.old, change.new)):
            raise ValueError("not a setting change")
        return change


def merge_changes(pending: dict[str, float], current: dict[str, float],
                  asked: dict[str, float | None]) -> None:
    """Add ``asked`` (None: not asked) to ``pending``: a value other than the one in force
    (``current``) is pending, a value back to it drops the pending one. Raises ValueError,
    ``pending`` unchanged, for a value no run can train with."""
    differ, same = {}, []
    for name, value in asked.items():
        if value is None:
            continue
        if name not in LIVE:
            raise ValueError(f"{name} cannot be changed during a run")
        if name == "lr" and not (value > 0 and math.isfinite(value)):
            raise ValueError(f"learning rate must be a positive number, got {value}")
        if name == "l2" and not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"L2 strength must be a number >= 0, got {value}")
        if name == "batch_size":
            value = int(value)
            if value < 0:
                raise ValueError(f"batch size must be >= 0 (0 = full batch), got {value}")
        if value == current[name]:
            same.append(name)
        else:
            differ[name] = value
    for name in same:
        pending.pop(name, None)
    pending.update(differ)


def take_changes(pending: dict[str, float], epoch_start: bool) -> dict[str, float]:
    """Take from ``pending`` the changes to apply now: all of them at an epoch's start,
    else all but the batch size."""
    taken = {k: v for k, v in pending.items() if epoch_start or k != "batch_size"}
    for name in taken:
        del pending[name]
    return taken


def apply_changes(changes: dict[str, float], config: TrainConfig, optimizer: Optimizer,
                  history: History, step: int, epoch: float) -> None:
    """Set ``changes`` in the run's ``config`` and ``optimizer``, and
    record each in its ``history`` as taking effect after ``step`` steps, at ``epoch``."""
    for name, value in changes.items():
        old = getattr(config, name)
        setattr(config, name, value)
        if name == "lr":
            optimizer.lr = float(value)
        history.add_change(SettingChange(step, epoch, name, old, value))
