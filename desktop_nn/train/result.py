"""How a run ended (:class:`TrainResult`) and its plain-dict :func:`summary`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_nn.train.trainer import Trainer


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
