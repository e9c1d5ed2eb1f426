"""A run's hyperparameters (:class:`TrainConfig`) and the optimiser they ask for."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from desktop_nn.nn.optimizers import Optimizer, make_optimizer


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
        if not (self.l2 >= 0 and math.isfinite(self.l2)):
            raise ValueError(f"L2 strength must be a number >= 0, got {self.l2}")
        if self.report_every < 1:
            raise ValueError(f"report_every must be >= 1, got {self.report_every}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")
        if self.patience and not self.evaluate:
            raise ValueError("early stopping (patience) watches the cost evaluated at each "
                             "epoch's end: it needs the evaluation on")

    def to_dict(self) -> dict:
        return asdict(self)


def optimizer_for(config: TrainConfig) -> Optimizer:
    """A fresh optimiser of the kind and with the settings ``config`` names (no state yet)."""
    kwargs: dict[str, float] = {}
    if config.optimizer == "momentum":
        kwargs = {"beta": config.momentum}
    elif config.optimizer == "adam":
        kwargs = {"beta1": config.beta1, "beta2": config.beta2}
    return make_optimizer(config.optimizer, config.lr, **kwargs)
