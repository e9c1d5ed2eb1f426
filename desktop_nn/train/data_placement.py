"""Where a run's data set lives: on the network's device, or, when the GPU cannot hold it
beside the rest of the run, in host memory, from which each mini-batch is copied to the GPU
as it is needed (streamed: train/batch_feed.py).

Data are stored example-major, XT (m, n_x) and YT (m, n_y), so that a mini-batch is a block
(or a gather) of rows and its transpose is the (n_x, batch) column block the math expects,
with no strided copy. :func:`place_run_data` decides whether to stream and places the
training and validation sets; :func:`place` places one more set (an evaluation's) the same
way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_nn.nn.network import Network
from desktop_nn.train.device_memory import (
    OutOfDeviceMemory,
    Tensor,
    fits,
    out_of_memory_message,
)

Array = Any


@dataclass
class PlacedData:
    """A data set placed for training, rows as examples."""

    XT: Array  # (m, n_x) on the device, or in host memory when the data set is streamed
    YT: Array  # (m, n_y) likewise

    @property
    def m(self) -> int:
        return int(self.XT.shape[0])


def place_run_data(network: Network, X_train: Array, Y_train: Array, X_val: Array | None,
                   Y_val: Array | None, stream_data: bool | None, tensors: list[Tensor]
                   ) -> tuple[PlacedData, PlacedData | None, bool]:
    """(training set, validation set or None, streamed?) for X (n_x, m), Y (n_y, m).

    ``stream_data`` None streams only on a GPU that cannot hold ``tensors`` (the run's
    estimate, data on the device) or that runs out of memory while taking the data; on the
    CPU nothing is streamed. Raises OutOfDeviceMemory, saying what to change, when the data
    cannot be placed at all."""
    backend = network.backend
    if stream_data is None:
        stream_data = backend.is_gpu and not fits(tensors, backend.free_memory_bytes())
    streaming = bool(stream_data) and backend.is_gpu
    try:
        train, val = _place_both(network, X_train, Y_train, X_val, Y_val, streaming)
    except Exception as exc:
        if not backend.is_out_of_memory(exc):
            raise
        if not backend.is_gpu or streaming:
            raise OutOfDeviceMemory(out_of_memory_message(
                tensors, backend.device_name, backend.free_memory_bytes(),
                backend.is_gpu)) from None
        streaming = True  # the data set did not fit after all: stream it
        train, val = _place_both(network, X_train, Y_train, X_val, Y_val, streaming)
    return train, val, streaming


def _place_both(network: Network, X_train: Array, Y_train: Array, X_val: Array | None,
                Y_val: Array | None, on_host: bool) -> tuple[PlacedData, PlacedData | None]:
    train = place(network, X_train, Y_train, "training", on_host)
    val = None if X_val is None else place(network, X_val, Y_val, "validation", on_host)
    return train, val


def place(network: Network, X: Array, Y: Array, what: str, on_host: bool = False
          ) -> PlacedData:
    """(m, n_x) and (m, n_y) copies of X (n_x, m) and Y (n_y, m) on the network's device, or
    in host memory when ``on_host`` (a streamed data set). ``what`` names the set in errors."""
    net = network
    if Y is None:
        raise ValueError(f"{what} labels Y are missing")
    if on_host:
        host = net.backend.to_host
        X, Y = host(X).astype(net.dtype, copy=False), host(Y).astype(net.dtype, copy=False)
        if Y.ndim == 1:
            Y = Y.reshape(1, -1)
        check_shapes(net, X, Y, what)
        return PlacedData(XT=np.ascontiguousarray(X.T), YT=np.ascontiguousarray(Y.T))
    n_x = net.spec.input_size
    if np.ndim(X) != 2 or np.shape(X)[0] != n_x:
        raise ValueError(f"X must have shape ({n_x}, m), got {np.shape(X)}")
    XT = net.backend.transposed(X, net.dtype)
    xp = net.xp
    Y = xp.asarray(Y, dtype=net.dtype)
    if Y.ndim == 1:
        Y = Y.reshape(1, -1)
    check_shapes(net, XT.T, Y, what)
    return PlacedData(XT=XT, YT=xp.ascontiguousarray(Y.T))


def check_shapes(network: Network, X: Array, Y: Array, what: str) -> None:
    """Raise ValueError unless X is (n_x, m) and Y (n_y, m) for the network, with m > 0."""
    n_x, n_out = network.spec.input_size, network.spec.output_size
    if X.ndim != 2 or X.shape[0] != n_x:
        raise ValueError(f"X must have shape ({n_x}, m), got {X.shape}")
    if Y.shape != (n_out, X.shape[1]):
        raise ValueError(f"{what} Y has shape {Y.shape}, expected ({n_out}, {X.shape[1]}) "
                         f"for {X.shape[1]} examples and {n_out} outputs")
    if X.shape[1] == 0:
        raise ValueError(f"the {what} set is empty")
