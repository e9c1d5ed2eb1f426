"""Copying the mini-batches of a data set held in host memory to the GPU, double-buffered.

Two page-locked host buffers and two device buffers take turns: while the device runs the
step on batch i (device buffer i % 2), the host gathers batch i + 1 into the other host
buffer and queues its copy on a second stream. Three waits keep it correct, none of which
blocks the host in the steady state:

- the host waits for the copy out of a host buffer before it refills that buffer;
- the copy stream waits until the step that read a device buffer is done before it
  overwrites that buffer (an event recorded after the step was queued);
- the compute stream waits for a batch's copy before the step that reads it.

The streams themselves come from the backend (:meth:`Backend.copy_streams`): CuPy streams
and events on the GPU, or a stand-in in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

Array = Any


class CopyStreams(Protocol):
    """A copy stream beside the compute stream, and events between them and the host."""

    def copy_async(self, dev: Array, host: Array) -> None:
        """Queue a copy of the host array into the device array on the copy stream."""

    def record_copy(self) -> Any:
        """An event after everything queued so far on the copy stream."""

    def record_compute(self) -> Any:
        """An event after everything queued so far on the compute stream."""

    def copy_wait(self, event: Any) -> None:
        """Make the copy stream wait for ``event`` (the host does not wait)."""

    def compute_wait(self, event: Any) -> None:
        """Make the compute stream wait for ``event`` (the host does not wait)."""

    def host_wait(self, event: Any) -> None:
        """Block the host until ``event`` has happened."""


class DoubleBuffer:
    """Two host and two device buffers for arrays of ``shapes`` (one mini-batch of each of
    X and Y, rows as examples). Use per batch: :meth:`host_buffers`, fill them,
    :meth:`upload`, queue the step, :meth:`step_queued`; :meth:`drain` at the end."""

    def __init__(self, streams: CopyStreams, xp: Any, shapes: Sequence[tuple[int, ...]],
                 dtype: Any, pinned_empty: Callable[[tuple[int, ...], Any], Array]) -> None:
        self.streams = streams
        self.host = [[pinned_empty(s, dtype) for s in shapes] for _ in range(2)]
        self.dev = [[xp.empty(s, dtype=dtype) for s in shapes] for _ in range(2)]
        self.copied: list[Any] = [None, None]  # per slot: after its last copy
        self.read: list[Any] = [None, None]  # per slot: after the last step that read it
        self.slot = 1

    def host_buffers(self) -> list[Array]:
        """The next slot's host buffers, free to be filled (their last copy is done)."""
        self.slot ^= 1
        if self.copied[self.slot] is not None:
            self.streams.host_wait(self.copied[self.slot])
        return self.host[self.slot]

    def upload(self, rows: int) -> list[Array]:
        """Queue the copy of the first ``rows`` rows of the filled host buffers; return the
        device views the next step may read (the compute stream waits for the copy)."""
        s = self.slot
        if self.read[s] is not None:
            self.streams.copy_wait(self.read[s])
        for dev, host in zip(self.dev[s], self.host[s], strict=True):
            self.streams.copy_async(dev[:rows], host[:rows])
        self.copied[s] = self.streams.record_copy()
        self.streams.compute_wait(self.copied[s])
        return [dev[:rows] for dev in self.dev[s]]

    def step_queued(self) -> None:
        """The step that reads the current slot has been queued."""
        self.read[self.slot] = self.streams.record_compute()

    def drain(self) -> None:
        """Wait for every queued copy, so that the host buffers may be freed."""
        for event in self.copied:
            if event is not None:
                self.streams.host_wait(event)
