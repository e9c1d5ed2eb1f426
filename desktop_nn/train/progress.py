"""Where a run stands: epochs completed, steps taken, examples seen, the seeded generator that
shuffles each epoch, and the place inside the current epoch.

A run stopped (or saved, or sent back by a failed NaN check) inside an epoch must go on with
the same shuffle: :class:`Progress` keeps the generator's state from before the epoch's
permutation was drawn and the batches taken since, so that the next run draws the same
permutation again and skips those batches. :class:`Position` is a frozen snapshot of it, as
the checked copy (train/checked_copy.py) and a checkpoint (train/checkpoint.py) keep it.

The batch feed calls :meth:`Progress.start_epoch` when it begins an epoch, the loop calls
:meth:`Progress.step_taken` after each optimiser step and :meth:`Progress.end_epoch` or
:meth:`Progress.interrupt_epoch` when an epoch ends or a run stops inside one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Position:
    """Where a run stands between two steps (host numbers only)."""

    epoch: int
    step_count: int
    examples_seen: int
    optimizer_t: int
    rng_state: dict  # the shuffling generator's state before this epoch's permutation
    batch_in_epoch: int  # batches of this epoch already taken


class Progress:
    """The counters and the shuffling generator of a run, and its place inside an epoch."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.epoch = 0  # epochs completed
        self.step_count = 0  # optimiser steps taken
        self.examples_seen = 0
        # inside an epoch: the generator's state before its permutation was drawn (None
        # between epochs) and the batches taken in it
        self.epoch_start_state: dict | None = None
        self.batch_in_epoch = 0
        # the batches the next epoch skips (an interrupted one, taken up again)
        self.resume_batch = 0

    def start_epoch(self) -> int:
        """An epoch begins (its permutation not drawn yet): returns the batches to skip."""
        skip, self.resume_batch = self.resume_batch, 0
        self.epoch_start_state, self.batch_in_epoch = self.rng.bit_generator.state, skip
        return skip

    def step_taken(self, examples: int) -> None:
        """An optimiser step on a batch of ``examples`` examples was taken."""
        self.step_count += 1
        self.batch_in_epoch += 1
        self.examples_seen += examples

    def end_epoch(self) -> None:
        """Every batch of the epoch was taken."""
        self.epoch_start_state, self.batch_in_epoch = None, 0
        self.epoch += 1

    def interrupt_epoch(self) -> None:
        """A run ends inside an epoch: the next run redraws the same permutation and skips the
        batches already taken, as if it had never stopped."""
        if self.epoch_start_state is not None:
            self.rng.bit_generator.state = self.epoch_start_state
            self.resume_batch = self.batch_in_epoch
            self.epoch_start_state, self.batch_in_epoch = None, 0

    def position(self, optimizer_t: int) -> Position:
        """Where the run stands between two steps (``optimizer_t``: the optimiser's step
        counter, which it keeps itself)."""
        if self.epoch_start_state is not None:  # inside an epoch
            rng, batch = self.epoch_start_state, self.batch_in_epoch
        else:
            rng, batch = self.rng.bit_generator.state, self.resume_batch
        return Position(self.epoch, self.step_count, self.examples_seen, optimizer_t, rng,
                        batch)

    def go_to(self, position: Position) -> None:
        """Stand where ``position`` says, between two epochs: the next epoch begins at its
        batch (the optimiser's step counter is the caller's to set)."""
        self.epoch, self.step_count = position.epoch, position.step_count
        self.examples_seen = position.examples_seen
        self.rng.bit_generator.state = position.rng_state
        self.resume_batch = position.batch_in_epoch
        self.epoch_start_state, self.batch_in_epoch = None, 0
