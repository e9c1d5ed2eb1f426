"""Device ops: the arithmetic of a training step, one implementation per device behind one
interface (as tinygrad keeps each device's code in its own runtime/ops_*.py file). The
network and the optimisers say what to compute (``net.ops.layer_forward(...)``); the ops say
how, on their device, and nothing else in ``nn/`` asks which device it is on.

    reference.py     DeviceOps: the interface, each op the notes' expression on whole arrays
                     (any array module); what the others are tested against
    numpy_ops.py     NumpyOps, the CPU: OpenBLAS layout trick, reused buffers, cache-sized
                     blocks
    cupy_ops.py      CupyOps, a GPU: fused CUDA kernels (cuda_kernels.py), each checked
                     against the reference on first use
    in_place.py      the reference's gradients and updates written into existing arrays,
                     shared by both

A Network takes its ops once, from its backend (:func:`device_ops`).
"""

from __future__ import annotations

from types import ModuleType

from desktop_nn.nn.ops.cupy_ops import CupyOps
from desktop_nn.nn.ops.numpy_ops import NumpyOps
from desktop_nn.nn.ops.reference import DeviceOps

__all__ = ["CupyOps", "DeviceOps", "NumpyOps", "device_ops"]


def device_ops(xp: ModuleType) -> DeviceOps:
    """New ops for the array module ``xp`` (a backend's ``xp``): :class:`NumpyOps` for numpy,
    :class:`CupyOps` for cupy. Chosen by the module, not by the backend's name: the tests'
    stand-in GPU holds NumPy arrays and gets NumpyOps. Each network has its own."""
    name = getattr(xp, "__name__", "")
    if name == "numpy":
        return NumpyOps()
    if name == "cupy":
        return CupyOps(xp)
    raise ValueError(f"no device ops for the array module {name!r}: use numpy or cupy")
