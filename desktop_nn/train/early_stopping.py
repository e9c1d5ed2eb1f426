"""Early stopping: the weights of the best epoch so far, and the epochs since it improved.

The loop hands :meth:`EarlyStopping.should_stop` the monitored cost at each epoch's end (the
validation cost, or the training cost when there is no validation set); when ``patience``
epochs in a row did not improve on the best, it stops and :meth:`EarlyStopping.keep_best`
puts the best epoch's weights back.
"""

from __future__ import annotations

import math

from desktop_nn.nn.network import Network


class EarlyStopping:
    """Watches one run's epochs; ``patience`` 0 never stops."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_cost = math.inf
        self.best_parameters: tuple | None = None  # (W list, b list) in host memory
        self.best_epoch = 0
        self.bad_epochs = 0  # epochs in a row without improvement

    def should_stop(self, cost: float, network: Network, epoch: int) -> bool:
        """Epoch ``epoch`` ended with the monitored ``cost``: copy the weights when it is the
        best so far; True when the patience has run out."""
        if not self.patience:
            return False
        if cost < self.best_cost:
            self.best_cost, self.best_parameters = cost, network.get_parameters()
            self.best_epoch, self.bad_epochs = epoch, 0
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def keep_best(self, network: Network) -> str:
        """Put the best epoch's weights back into ``network``; returns what to tell the user.
        When no epoch had a finite monitored cost there is no best: the weights stay."""
        if self.best_parameters is None:
            return (f"no epoch had a finite monitored cost in {self.bad_epochs} epochs; "
                    "kept the last weights")
        network.set_parameters(*self.best_parameters)
        return (f"no improvement for {self.bad_epochs} epochs; "
                f"kept the weights of epoch {self.best_epoch}")
