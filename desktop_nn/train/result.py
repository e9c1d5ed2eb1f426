"""How a run ended (:class:`TrainResult`) and its plain-dict :func:`summary`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop_nn.backend import Backend
from desktop_nn.train.device_memory import Tensor, out_of_memory_message
from desktop_nn.train.progress import Progress

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


def out_of_memory_result(progress: Progress, tensors: list[Tensor], backend: Backend
                         ) -> TrainResult:
    """A run that ``backend`` ran out of memory for, stopped where ``progress`` stands (its
    weights kept); the message names what the run needs (``tensors``) and what to change."""
    message = out_of_memory_message(tensors, backend.device_name,
                                    backend.free_memory_bytes(), backend.is_gpu)
    return TrainResult(stopped="out_of_memory",
                       message=f"training stopped at step {progress.step_count} "
                               f"(its weights are kept): {message}",
                       epochs=progress.epoch, steps=progress.step_count, seconds=0.0,
                       final_cost=math.nan)


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
