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
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a setting change: {d!r}") from exc
        if change.name not in LIVE or change.step < 0 or not all(
                math.isfinite(x) for x in (change.epoch, change.old, change.new)):
            raise ValueError(f"not a setting change: {d!r}")
        return change


def asked_changes(current: dict[str, float], asked: dict[str, float | None]
                  ) -> tuple[dict[str, float], list[str]]:
    """Split ``asked`` (None: not asked) into the values that differ from ``current`` (the
    values in force) and the names asked back to their current value (a pending change to
    drop). Raises ValueError for a value no run can train with."""
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
    return differ, same
