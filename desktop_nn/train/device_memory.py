"""How much device memory a training run needs, and what to say when a GPU has too little.

:func:`training_tensors` lists the arrays a :class:`~desktop_nn.train.trainer.Trainer` keeps on
the device (the data, the parameters, their gradients and optimiser state, the mini-batch
buffers) and the largest set of temporaries alive at once (one batch's forward caches and
backward deltas, or one evaluation chunk's). A data set too big for the GPU is streamed from
host memory (train/data_placement.py decides); :func:`choose_training_backend` falls back to
the CPU when the user chose ``auto`` and the GPU cannot hold even the rest of the run, and
:func:`out_of_memory_message` names the largest tensor and what to change when it cannot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_nn.backend import Backend, BackendError, cpu_backend, select_backend
from desktop_nn.data.memory import format_bytes

EVAL_CHUNK = 8192  # columns per evaluation forward pass (Trainer.evaluate_data)
HEADROOM = 1.1  # the estimate is close but not exact (allocator rounding, small temporaries)
_COUNT_WORDS = {2: "two", 4: "four"}

# optimiser -> arrays it keeps per parameter (its state plus one scratch buffer)
_STATE_ARRAYS = {"sgd": 1, "momentum": 2, "adam": 3}


class OutOfDeviceMemory(BackendError):
    """The device has too little memory for this run; the message says what to change."""


@dataclass(frozen=True)
class Tensor:
    """One array (or one kind of array, ``count`` times) the run keeps on the device.
    ``kind``: data | parameters | batch | evaluation (what to change to make it smaller).
    When the data set is streamed from host memory (:func:`streamed`), the data tensors leave
    the device: the training data come through ``stream_buffers`` buffers of shape
    ``stream_buffer`` (one mini-batch) instead, and a ``resident_only`` tensor (the gather
    buffers of a data set held on the device) is not needed.
    ``transient``: alive only while a step or an evaluation runs (given back to the memory
    pool between runs), not kept for the whole run."""

    name: str
    shape: tuple[int, ...]
    itemsize: int
    kind: str
    count: int = 1
    stream_buffer: tuple[int, ...] | None = None
    stream_buffers: int = 2
    resident_only: bool = False
    transient: bool = False

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.itemsize * self.count

    def describe(self) -> str:
        dims = " x ".join(str(n) for n in self.shape)
        dtype = {4: "float32", 8: "float64"}.get(self.itemsize, f"{self.itemsize}-byte")
        return f"{self.name}, {dims} {dtype} = {format_bytes(self.nbytes)}"


def defers_guard(on_gpu: bool, report_every: int) -> bool:
    """Whether a run reads its NaN guard only when it reads the device anyway, keeping a
    checked copy to go back to (train/checked_copy.py): on a GPU, when reports come less often
    than every step."""
    return on_gpu and report_every > 1


def run_tensors(sizes: list[int], m_train: int, m_val: int, config: Any, dtype: str,
                on_gpu: bool) -> list[Tensor]:
    """:func:`training_tensors` of a run with ``config`` (a TrainConfig: batch size,
    optimiser, shuffle, report_every): what a Trainer on that device keeps, and what the CLI
    and the window estimate for the GPU before they build one."""
    return training_tensors(sizes, m_train, m_val, config.batch_size, dtype, config.optimizer,
                            config.shuffle,
                            checked_copy=defers_guard(on_gpu, config.report_every))


def training_tensors(sizes: list[int], m_train: int, m_val: int = 0, batch_size: int = 0,
                     dtype: str = "float32", optimizer: str = "sgd", shuffle: bool = True,
                     checked_copy: bool = False) -> list[Tensor]:
    """The tensors kept for the whole run and the largest set of temporaries alive at once,
    for a network with layer sizes [n_x, n_1, ..., n_L] trained on ``m_train`` examples (and
    evaluated on ``m_val`` more) in mini-batches of ``batch_size`` (0: full batch).
    ``checked_copy``: the run keeps a second copy of the weights and optimiser state (a GPU
    run's deferred NaN guard, see train/checked_copy.py)."""
    item = np.dtype(dtype).itemsize
    n_x, n_y = sizes[0], sizes[-1]
    b = m_train if batch_size <= 0 or batch_size > m_train else batch_size
    # streamed: two buffers taking turns, and two more while a failed check's steps are taken
    # again (the deferred guard's replay has a double buffer of its own)
    buffers = 4 if checked_copy else 2
    kept = [Tensor("the training images XT", (m_train, n_x), item, "data",
                   stream_buffer=(b, n_x), stream_buffers=buffers),
            Tensor("the training targets YT", (m_train, n_y), item, "data",
                   stream_buffer=(b, n_y), stream_buffers=buffers)]
    if m_val:
        kept += [Tensor("the validation images", (m_val, n_x), item, "data"),
                 Tensor("the validation targets", (m_val, n_y), item, "data")]
    per_param = 2 + _STATE_ARRAYS.get(optimizer, 3)  # the parameter, its gradient, the state
    for l in range(1, len(sizes)):
        kept.append(Tensor(f"W[{l}] with its gradient and {optimizer} state",
                           (sizes[l], sizes[l - 1]), item, "parameters", per_param))
        kept.append(Tensor(f"b[{l}] with its gradient and {optimizer} state",
                           (sizes[l], 1), item, "parameters", per_param))
    if checked_copy:
        # the parameter and its optimiser state (the count above also has a scratch array)
        copies = _STATE_ARRAYS.get(optimizer, 3)
        kept += [Tensor("the copy of W and b and their optimiser state at the last check",
                        (sum(sizes[l] * (sizes[l - 1] + 1) for l in range(1, len(sizes))),),
                        item, "parameters", copies)]
    if shuffle and b < m_train:
        # alive while an epoch runs
        kept += [Tensor("the mini-batch buffer", (b, n_x), item, "batch", resident_only=True,
                        transient=True),
                 Tensor("the mini-batch targets buffer", (b, n_y), item, "batch",
                        resident_only=True, transient=True),
                 # drawn on the device, or on the host when the data set is streamed
                 Tensor("the epoch's shuffled order", (m_train,), 8, "data", resident_only=True,
                        transient=True)]
    # One step: Z[l] and A[l] of every layer stay alive until backward ends, plus about two
    # (n_l, b) deltas at a time (dZ[l] and dA[l-1]), and, when a report is due, one squared
    # copy of the biggest W or dW (the diagnostics' norms).
    step = [Tensor(f"Z[{l}] and A[{l}] of one mini-batch", (sizes[l], b), item, "batch", 2,
                   transient=True) for l in range(1, len(sizes))]
    widest = max(sizes[1:])
    step.append(Tensor("the backward deltas of one mini-batch", (widest, b), item, "batch", 2,
                       transient=True))
    biggest = max(range(1, len(sizes)), key=lambda l: sizes[l] * sizes[l - 1])
    step.append(Tensor(f"the diagnostics' squares of dW[{biggest}]",
                       (sizes[biggest], sizes[biggest - 1]), item, "parameters",
                       transient=True))
    chunk = min(EVAL_CHUNK, max(m_train, m_val))
    evaluation = [Tensor(f"Z[{l}] and A[{l}] of one evaluation chunk", (sizes[l], chunk),
                         item, "evaluation", 2, transient=True) for l in range(1, len(sizes))]
    return kept + max(step, evaluation, key=total_bytes)


def total_bytes(tensors: list[Tensor]) -> int:
    return sum(t.nbytes for t in tensors)


def held_bytes(tensors: list[Tensor]) -> int:
    """What a run holds between its steps: its tensors less the transient ones (which, once
    it stops, wait in the memory pool and are counted as free already)."""
    return sum(t.nbytes for t in tensors if not t.transient)


def fits(tensors: list[Tensor], free: int | None) -> bool:
    """Whether ``tensors`` fit in ``free`` bytes with some headroom (None: unknown, assume
    they do, as on the CPU)."""
    return free is None or total_bytes(tensors) * HEADROOM <= free


def streamed(tensors: list[Tensor]) -> list[Tensor]:
    """What stays on the device when the data set is streamed from host memory: not the
    data, but two buffers of one mini-batch of it each (one is filled while a step reads the
    other; train/batch_upload.py)."""
    out = []
    for t in tensors:
        if t.kind == "data":
            if t.stream_buffer is not None:
                n = t.stream_buffers
                # released when a run ends (Trainer.run)
                out.append(Tensor(f"{_COUNT_WORDS.get(n, n)} mini-batch buffers for {t.name} "
                                  "(streamed)", t.stream_buffer, t.itemsize, "batch", n,
                                  transient=True))
        elif not t.resident_only:
            out.append(t)
    return out


def _suggestion(largest: Tensor, on_gpu: bool) -> str:
    cpu = ", or train on the CPU (device cpu)" if on_gpu else ""
    if largest.kind == "data":
        return f"use smaller images or fewer of them{cpu}"
    if largest.kind == "parameters":
        return f"use fewer units in the widest layers{cpu}"
    return f"use a smaller mini-batch size{cpu}"


def out_of_memory_message(tensors: list[Tensor], device: str,
                          free_bytes: int | None = None, on_gpu: bool = True) -> str:
    """What a user reads when ``device`` cannot hold the run: the need, the largest tensor
    and what to change."""
    need = total_bytes(tensors)
    largest = max(tensors, key=lambda t: t.nbytes)
    free = "" if free_bytes is None else f", {format_bytes(free_bytes)} free"
    return (f"Not enough memory on {device}: this training needs about {format_bytes(need)}"
            f"{free}. The largest tensor is {largest.describe()}. To fit, "
            f"{_suggestion(largest, on_gpu)}.")


@contextmanager
def out_of_memory_said(backend: Backend, tensors: list[Tensor]) -> Iterator[None]:
    """Turn ``backend`` running out of memory inside the block (allocating a network's
    weights, say) into :class:`OutOfDeviceMemory` with the user's message for a run that
    needs ``tensors``; other errors pass unchanged."""
    try:
        yield
    except Exception as exc:
        if not backend.is_out_of_memory(exc):
            raise
        raise OutOfDeviceMemory(out_of_memory_message(
            tensors, backend.device_name, backend.free_memory_bytes(), backend.is_gpu)
        ) from None


def choose_training_backend(choice: str, tensors: list[Tensor], reclaimable: int = 0
                            ) -> Backend:
    """:func:`~desktop_nn.backend.select_backend`, then a check that the chosen GPU can hold
    ``tensors``: when it cannot, ``auto`` falls back to the CPU (the backend's reason says
    why) and ``gpu`` raises :class:`OutOfDeviceMemory` naming the largest tensor.
    ``reclaimable``: GPU bytes held now that the caller frees before training (a previous
    run's :func:`held_bytes`), counted as free."""
    backend = select_backend(choice)
    if not backend.is_gpu:
        return backend
    free = backend.free_memory_bytes()
    if free is not None:
        free += reclaimable
    need = total_bytes(tensors)
    # the data set may stay in host memory and be streamed (train/data_placement.py decides)
    on_device = streamed(tensors)
    if fits(on_device, free):
        return backend
    if str(choice).lower() == "auto":
        return cpu_backend(f"{backend.device_name} has {format_bytes(free)} free, this "
                           f"training needs about {format_bytes(need)}")
    raise OutOfDeviceMemory(out_of_memory_message(on_device, backend.device_name, free))
