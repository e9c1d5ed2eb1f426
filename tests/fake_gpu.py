"""A stand-in for a GPU backend on machines without one: NumPy arrays, but ``is_gpu`` true, a
chosen amount of free memory and copy streams that copy as late as allowed, so that the
out-of-memory and streaming paths can be tested anywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_nn.backend import Backend
from desktop_nn.nn.network import Network
from desktop_nn.train.device_memory import OutOfDeviceMemory
from desktop_nn.train.trainer import Trainer


@dataclass(frozen=True)
class FakeGPU(Backend):
    free: int = 10**12

    def free_memory_bytes(self) -> int:
        return self.free

    def to_host(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def pinned_empty(self, shape, dtype) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    def copy_streams(self) -> LazyCopies:
        return LazyCopies()


class LazyCopies:
    """Copy streams that run each copy as late as the waits allow: a queued copy runs only
    when the compute stream or the host waits for an event recorded after it, and it reads
    its host buffer then. So a missing wait, or a host buffer refilled too early, shows up as
    a wrong batch. (Steps run at once here, so the copy stream's waits for them are only
    recorded, in ``log``.)"""

    def __init__(self) -> None:
        self.queue: list[tuple] = []
        self.log: list[tuple] = []
        self.events = 0

    def _event(self, stream: str) -> tuple:
        self.events += 1
        return (stream, self.events)

    def copy_async(self, dev, host) -> None:
        self.log.append(("copy", dev.__array_interface__["data"][0]))
        self.queue.append(("copy", dev, host))

    def record_copy(self) -> tuple:
        event = self._event("copy")
        self.queue.append(("event", event))
        return event

    def record_compute(self) -> tuple:
        event = self._event("compute")
        self.log.append(("record_compute", event))
        return event

    def _run_until(self, event) -> None:
        if ("event", event) not in self.queue:
            return  # already reached
        while self.queue:
            op = self.queue.pop(0)
            if op[0] == "copy":
                np.copyto(op[1], op[2])
            elif op[1] == event:
                return

    def copy_wait(self, event) -> None:
        self.log.append(("copy_wait", event))

    def compute_wait(self, event) -> None:
        self._run_until(event)

    def host_wait(self, event) -> None:
        self._run_until(event)


def fake_gpu(free: int = 10**12) -> FakeGPU:
    return FakeGPU(xp=np, name="cupy", device_name="Fake GPU", memory_bytes=free,
                   reason="a test stand-in", free=free)


class FailingForward:
    """Wraps ``net.forward`` so that call number ``fail_at`` (1-based) raises MemoryError,
    as a device running out of memory in the middle of a run would."""

    def __init__(self, net, fail_at: int) -> None:
        self.forward, self.calls, self.fail_at = net.forward, 0, fail_at
        net.forward = self

    def __call__(self, X):
        self.calls += 1
        if self.calls == self.fail_at:
            raise MemoryError("Out of memory allocating 1,024 bytes (fake)")
        return self.forward(X)


def out_of_memory_in(monkeypatch, where: str) -> None:
    """Building a GPU Network (its weights: MemoryError, as CuPy's allocator would) or GPU
    Trainer (its data: OutOfDeviceMemory, as Trainer says it) runs out of memory."""
    real_network, real_trainer = Network.__init__, Trainer.__init__

    def network_init(self, spec, backend=None, *a, **kw):
        if where == "network" and backend is not None and backend.is_gpu:
            raise MemoryError("Out of memory allocating 4,096 bytes (fake)")
        real_network(self, spec, backend, *a, **kw)

    def trainer_init(self, network, *a, **kw):
        if where == "trainer" and network.backend.is_gpu:
            raise OutOfDeviceMemory("Not enough memory on Fake GPU (fake)")
        real_trainer(self, network, *a, **kw)

    monkeypatch.setattr(Network, "__init__", network_init)
    monkeypatch.setattr(Trainer, "__init__", trainer_init)
