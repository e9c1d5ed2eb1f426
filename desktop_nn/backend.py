"""Choose the array library: NumPy on the CPU or CuPy on an NVIDIA GPU.

This is the only module that imports cupy. Everything else takes ``backend.xp`` and writes
array code once for both; code given an array and no backend (the reference activations and
costs) asks :func:`array_module`.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import numpy as np

DeviceChoice = Literal["auto", "cpu", "gpu"]


class BackendError(RuntimeError):
    """The requested device cannot be used; the message says why."""


def array_module(a: Any) -> ModuleType:
    """numpy or cupy, whichever owns the array ``a`` (cupy only when it is already imported,
    as it is once a cupy array exists). The one way ``nn/`` finds the module of an array it
    was given without a backend."""
    if type(a).__module__.split(".")[0] == "cupy":
        return sys.modules["cupy"]
    return np


def to_numpy(a: Any) -> np.ndarray:
    """a's values in a NumPy array: a itself when it is one, else a host copy of the CuPy
    array (for code that has an array and no backend, as :func:`array_module`)."""
    if array_module(a) is np:
        return np.asarray(a)
    return a.get()


def gpu_out_of_memory(exc: BaseException, cp: ModuleType) -> bool:
    """Whether ``exc``, raised by CuPy (module ``cp``), says the GPU ran out of memory: CuPy's
    OutOfMemoryError, a cuBLAS or CUDA allocation failure, or NumPy's MemoryError."""
    if isinstance(exc, MemoryError):
        return True
    cuda = getattr(cp, "cuda", None)
    oom = getattr(getattr(cuda, "memory", None), "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    text = str(exc)
    return ("ALLOC_FAILED" in text or "cudaErrorMemoryAllocation" in text
            or "out of memory" in text.lower())


@dataclass(frozen=True)
class Backend:
    """An array module and the device it runs on.

    Attributes:
        xp: ``numpy`` or ``cupy``.
        name: ``"numpy"`` or ``"cupy"``.
        device_name: e.g. ``"CPU"`` or ``"NVIDIA H100 80GB HBM3"``.
        memory_bytes: device memory in bytes (0 when unknown, e.g. for the CPU).
        reason: a human sentence saying why this backend was chosen.
    """

    xp: ModuleType
    name: str
    device_name: str
    memory_bytes: int
    reason: str
    _extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_gpu(self) -> bool:
        return self.name == "cupy"

    @property
    def label(self) -> str:
        """Short text for a status bar: ``"NVIDIA H100 - CuPy"`` or ``"CPU - NumPy (...)"``."""
        if self.is_gpu:
            return f"{self.device_name} - CuPy"
        return f"CPU - NumPy ({self.reason})"

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        """Copy a host array (or anything array-like) onto this backend's device."""
        return self.xp.asarray(a, dtype=dtype)

    def to_host(self, a: Any) -> np.ndarray:
        """Return a NumPy array for a device array (no copy when already on the host)."""
        if self.is_gpu and not isinstance(a, np.ndarray):
            return a.get()
        return np.asarray(a)

    def transposed(self, a: Any, dtype: Any) -> Any:
        """a.T (a 2-D host or device array) as a C-contiguous array of ``dtype`` on this
        device. A host array going to a GPU is transposed on the host, so that the device
        holds one copy of it, not two for a moment (the upload and its transpose)."""
        if self.is_gpu and isinstance(a, np.ndarray):
            return self.xp.asarray(np.ascontiguousarray(a.T, dtype=dtype))
        return self.xp.ascontiguousarray(self.xp.asarray(a, dtype=dtype).T)

    def to_floats(self, *scalars: Any) -> list[float]:
        """0-d device arrays as Python floats, read together: on a GPU one copy to the host
        (one wait for the device) rather than one per value."""
        if not self.is_gpu:
            return [float(a) for a in scalars]
        xp = self.xp
        return self.to_host(xp.stack([xp.asarray(a, dtype=xp.float64) for a in scalars])
                            ).tolist()

    def to_float(self, a: Any) -> float:
        """A 0-d device array (or a number) as a Python float."""
        return float(self.to_host(a))

    def free_memory_bytes(self) -> int | None:
        """Device memory free for new arrays (the driver's free memory plus what CuPy's pool
        holds unused); None on the CPU, whose arrays the operating system places."""
        if not self.is_gpu:
            return None
        free, _total = self.xp.cuda.runtime.memGetInfo()
        return int(free) + int(self.xp.get_default_memory_pool().free_bytes())

    def is_out_of_memory(self, exc: BaseException) -> bool:
        """Whether ``exc`` says this device ran out of memory (CuPy's OutOfMemoryError, a
        cuBLAS or CUDA allocation failure, or NumPy's MemoryError)."""
        if isinstance(exc, MemoryError):
            return True
        return self.is_gpu and gpu_out_of_memory(exc, self.xp)

    def pinned_empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A host array to copy to the device from: page-locked on the GPU (cudaMemcpy from
        it is a DMA with no staging copy), a plain array on the CPU."""
        if not self.is_gpu:
            return np.empty(shape, dtype=dtype)
        import cupyx

        return cupyx.empty_pinned(shape, dtype=dtype)

    def copy_streams(self) -> Any:
        """A copy stream beside the compute stream, with events (train/batch_upload.py's
        CopyStreams), for streaming a data set to the GPU; the CPU has no streams."""
        if not self.is_gpu:
            raise BackendError("copy streams are a GPU's: the CPU streams no data")
        return _CupyStreams(self.xp)

    def synchronize(self) -> None:
        """Wait until queued device work is done (no-op on the CPU); use before timing."""
        if self.is_gpu:
            self.xp.cuda.Device().synchronize()


class _CupyStreams:
    """CopyStreams on CuPy: a non-blocking copy stream, events, and the current stream as
    the compute stream. A copy from page-locked memory with a stream given is asynchronous
    (cudaMemcpyAsync), which is why its host buffer must not be refilled before its event."""

    def __init__(self, cp: Any) -> None:
        self.cp = cp
        self.copy = cp.cuda.Stream(non_blocking=True)

    def copy_async(self, dev: Any, host: np.ndarray) -> None:
        dev.set(host, stream=self.copy)

    def record_copy(self) -> Any:
        return self.copy.record()

    def record_compute(self) -> Any:
        return self.cp.cuda.get_current_stream().record()

    def copy_wait(self, event: Any) -> None:
        self.copy.wait_event(event)

    def compute_wait(self, event: Any) -> None:
        self.cp.cuda.get_current_stream().wait_event(event)

    def host_wait(self, event: Any) -> None:
        event.synchronize()


def cpu_backend(reason: str = "chosen") -> Backend:
    return Backend(xp=np, name="numpy", device_name="CPU", memory_bytes=0, reason=reason)


def _try_cupy() -> tuple[ModuleType | None, str]:
    """Import CuPy and look for a device; return (cupy or None, reason)."""
    if os.environ.get("DESKTOP_NN_DISABLE_GPU"):
        return None, "GPU disabled by DESKTOP_NN_DISABLE_GPU"
    try:
        cp = importlib.import_module("cupy")
    except ImportError:
        return None, "CuPy not installed"
    except Exception as exc:  # a broken CUDA install raises all sorts of errors
        return None, f"CuPy failed to import: {exc}"
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"no CUDA device found ({exc.__class__.__name__}: {exc})"
    if count < 1:
        return None, "no CUDA device found"
    return cp, ""


def _gpu_backend(cp: ModuleType) -> Backend:
    dev = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    memory = int(props.get("totalGlobalMem", 0))
    return Backend(
        xp=cp,
        name="cupy",
        device_name=name,
        memory_bytes=memory,
        reason=f"{name}, {memory / 2**30:.0f} GiB (CuPy {cp.__version__})",
    )


def select_backend(choice: DeviceChoice | str = "auto") -> Backend:
    """Return the backend for ``choice``.

    ``"auto"`` takes CuPy when it imports and sees a CUDA device, else NumPy, with the reason;
    ``"cpu"`` always NumPy; ``"gpu"`` CuPy or a :class:`BackendError` saying what is missing.
    """
    choice = str(choice).lower()
    if choice == "cpu":
        return cpu_backend("chosen")
    if choice not in ("auto", "gpu"):
        raise BackendError(f"unknown device {choice!r}: use auto, cpu or gpu")
    cp, why_not = _try_cupy()
    if cp is not None:
        return _gpu_backend(cp)
    if choice == "gpu":
        raise BackendError(f"GPU requested but unavailable: {why_not}. Use --device cpu or auto.")
    return cpu_backend(why_not)


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    return _try_cupy()[0] is not None
