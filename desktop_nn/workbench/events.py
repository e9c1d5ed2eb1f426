"""Plain callbacks by which the workbench tells its viewers what happened (no Qt).

A viewer (the window, the command line) connects a function to an :class:`Event`; the
workbench calls it on the thread the workbench itself runs on, which for the window is the GUI
thread (its executor delivers a finished job's outcome there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Event:
    """A list of callbacks called in the order they were connected."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


@dataclass
class WorkbenchEvents:
    """What a viewer of the workbench may want to show.

    - ``device_changed(label)``: the device the model in hand lives on ("CPU - NumPy (...)").
    - ``notice(text)``: a passing message (status bar, stderr).
    - ``run_made(trainer, new_run)``: a run was made and is about to train; ``new_run`` when it
      starts afresh (plots and the Runs tab start over), False when the same run goes on
      elsewhere (on the CPU after the GPU ran out of memory).
    - ``training_started(span)``: a :class:`TrainingSpan` begins in the worker.
    - ``training_ended(result, continuing)``: that span ended (``result`` None when it failed
      with an error); ``continuing`` when the same run goes on on the CPU.
    - ``not_made(message, refused)``: no run could be made; ``refused`` when it cannot be made
      as designed (memory, device), else an unexpected failure.
    - ``failed(message)``: training raised an error (the app stays usable).
    - ``finished(result)``: what a start asked for is done (None: nothing was trained).
    - ``model_changed()``: the model in hand is another one (inspection views go stale).
    """

    device_changed: Event = field(default_factory=Event)
    notice: Event = field(default_factory=Event)
    run_made: Event = field(default_factory=Event)
    training_started: Event = field(default_factory=Event)
    training_ended: Event = field(default_factory=Event)
    not_made: Event = field(default_factory=Event)
    failed: Event = field(default_factory=Event)
    finished: Event = field(default_factory=Event)
    model_changed: Event = field(default_factory=Event)


@dataclass(frozen=True)
class TrainingSpan:
    """One stretch of training handed to the worker: from step ``first_step`` to
    ``last_step`` (the run's step counts), ending at epoch ``last_epoch``."""

    first_step: int
    last_step: int
    last_epoch: int
