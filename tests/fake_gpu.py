"""A stand-in for a GPU backend on machines without one: NumPy arrays, but ``is_gpu`` true and
a chosen amount of free memory, so that the out-of-memory paths can be tested anywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_nn.backend import Backend


@dataclass(frozen=True)
class FakeGPU(Backend):
    free: int = 10**12

    def free_memory_bytes(self) -> int:
        return self.free

    def to_host(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def pinned_empty(self, shape, dtype) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    def upload_into(self, out, host) -> None:
        np.copyto(out, host)


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
