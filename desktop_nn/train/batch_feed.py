"""The mini-batches of an epoch, in the epoch's shuffled order.

A data set held on the device (train/data_placement.py) is gathered batch by batch into two
buffers reused for the whole epoch: a fresh (b, n_x) array per step costs more than the
gather itself (page faults). A streamed data set, held in host memory, is gathered on the
host into one of two page-locked buffers and copied to the device on a copy stream while the
device runs the step before (train/batch_upload.py's DoubleBuffer); one DoubleBuffer serves
all the epochs of a run, since page-locked memory is slow to allocate.

Each batch is used up before the next is asked for. The order comes from the run's seeded
generator (train/shuffle.py), drawn once per epoch, after
:meth:`~desktop_nn.train.progress.Progress.start_epoch` has noted where the epoch began, so
that an epoch interrupted and taken up again draws the same order and skips the batches it
already took.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from desktop_nn.nn.network import Network
from desktop_nn.nn.ops import NumpyOps
from desktop_nn.train.batch_upload import DoubleBuffer
from desktop_nn.train.data_placement import PlacedData
from desktop_nn.train.progress import Progress
from desktop_nn.train.shuffle import draw_key, epoch_permutation

Array = Any
# (XT_batch (b, n_x), YT_batch (b, n_y)) on the device, one epoch; close() ends it early
Batches = Generator[tuple[Array, Array], None, None]


class BatchFeed:
    """The batches of a run's epochs on ``network``'s device, from a data set held there or
    streamed from host memory (``streaming``)."""

    def __init__(self, network: Network, streaming: bool) -> None:
        self.network = network
        self.streaming = streaming
        self.upload: DoubleBuffer | None = None  # the streaming buffers of the current run
        self._host_ops = NumpyOps()  # a streamed batch is gathered in host memory

    def release(self) -> None:
        """The run ended: let its streaming buffers go."""
        self.upload = None

    def epoch(self, data: PlacedData, progress: Progress, batch_size: int, shuffle: bool,
              own_buffers: bool = False) -> Batches:
        """Yield (XT_batch (b, n_x), YT_batch (b, n_y)) for one epoch of ``data`` in batches
        of ``batch_size`` (the last may be smaller), skipping the batches an interrupted
        epoch already took (same permutation: drawn from the same state). ``own_buffers``:
        a streamed data set goes through a double buffer of its own, not the run's (a failed
        NaN check's replay, taken while the run's epoch holds a batch)."""
        m, bs = data.m, batch_size
        skip = progress.start_epoch()
        if self.streaming:
            yield from self._streamed(data, progress, bs, skip, shuffle, own_buffers)
        elif shuffle:
            xp, ops = self.network.xp, self.network.ops
            perm = epoch_permutation(xp, draw_key(progress.rng), m)  # drawn on the device
            xbuf = xp.empty((bs, data.XT.shape[1]), dtype=data.XT.dtype)
            ybuf = xp.empty((bs, data.YT.shape[1]), dtype=data.YT.dtype)
            for i in range(skip * bs, m, bs):
                idx = perm[i:i + bs]
                k = idx.shape[0]
                ops.gather(data.XT, idx, xbuf[:k])
                ops.gather(data.YT, idx, ybuf[:k])
                yield xbuf[:k], ybuf[:k]
        else:
            for i in range(skip * bs, m, bs):
                yield data.XT[i:i + bs], data.YT[i:i + bs]

    def _streamed(self, data: PlacedData, progress: Progress, bs: int, skip: int,
                  shuffle: bool, own_buffers: bool) -> Batches:
        """The batches of a data set held in host memory: gathered on the host into one of
        two page-locked buffers and copied to the device on a copy stream while the device
        runs the step before. Same permutation as the resident path (drawn on the host)."""
        m = data.m
        backend, xp = self.network.backend, self.network.xp
        XT, YT = data.XT, data.YT
        perm = epoch_permutation(np, draw_key(progress.rng), m) if shuffle else None
        # A replay needs buffers of its own: the run's epoch is suspended with a batch copied
        # but not yet trained on, and its slots and events must not change under it. The
        # memory estimate counts both pairs (device_memory.training_tensors).
        buffers = None if own_buffers else self.upload
        if buffers is None:
            buffers = DoubleBuffer(backend.copy_streams(), xp, [(bs, XT.shape[1]),
                                   (bs, YT.shape[1])], XT.dtype, backend.pinned_empty)
            if not own_buffers:
                self.upload = buffers
        try:
            for i in range(skip * bs, m, bs):
                k = min(bs, m - i)
                host_x, host_y = buffers.host_buffers()
                if perm is not None:
                    self._host_ops.gather(XT, perm[i:i + k], host_x[:k])
                    self._host_ops.gather(YT, perm[i:i + k], host_y[:k])
                else:
                    host_x[:k], host_y[:k] = XT[i:i + k], YT[i:i + k]
                xb, yb = buffers.upload(k)
                yield xb, yb
                buffers.step_queued()  # the consumer asks for the next batch after queuing
        finally:
            buffers.drain()

