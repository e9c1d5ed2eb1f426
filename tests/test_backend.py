import itertools

import numpy as np
import pytest

from desktop_nn import backend as backend_mod
from desktop_nn.backend import BackendError, select_backend


def test_cpu_backend_is_numpy():
    b = select_backend("cpu")
    assert b.xp is np and b.name == "numpy" and not b.is_gpu
    a = b.asarray([1.0, 2.0], dtype="float32")
    assert isinstance(b.to_host(a), np.ndarray) and b.to_float(a.sum()) == 3.0
    b.synchronize()


def test_auto_without_cupy_falls_back_with_reason(monkeypatch):
    monkeypatch.setattr(backend_mod, "_try_cupy", lambda: (None, "CuPy not installed"))
    b = select_backend("auto")
    assert b.name == "numpy" and b.reason == "CuPy not installed"
    assert b.label == "CPU - NumPy (CuPy not installed)"


def test_gpu_without_device_raises_clear_error(monkeypatch):
    monkeypatch.setattr(backend_mod, "_try_cupy", lambda: (None, "no CUDA device found"))
    with pytest.raises(BackendError, match="no CUDA device found"):
        select_backend("gpu")


def test_unknown_choice():
    with pytest.raises(BackendError, match="unknown device"):
        select_backend("tpu")


def test_disable_env(monkeypatch):
    monkeypatch.setenv("DESKTOP_NN_DISABLE_GPU", "1")
    assert select_backend("auto").reason.startswith("GPU disabled")


def test_no_module_outside_backend_imports_cupy():
    from pathlib import Path

    root = Path(backend_mod.__file__).parent
    offenders = [p for p in root.rglob("*.py") if p.name != "backend.py"
                 and ("import cupy" in p.read_text() or "from cupy" in p.read_text())]
    assert offenders == []


def test_array_module_names_the_module_that_owns_an_array(monkeypatch):
    import sys
    import types

    assert backend_mod.array_module(np.zeros(2)) is np
    assert backend_mod.array_module(np.float32(1.0)) is np
    fake = types.ModuleType("cupy")
    monkeypatch.setitem(sys.modules, "cupy", fake)
    device_array = type("ndarray", (), {"__module__": "cupy._core.core"})()
    assert backend_mod.array_module(device_array) is fake
    device_array.get = lambda: np.ones(2)
    np.testing.assert_array_equal(backend_mod.to_numpy(device_array), np.ones(2))
    host = np.zeros(3)
    assert backend_mod.to_numpy(host) is host


@pytest.mark.parametrize("package", ["nn", "train", "workbench"])
def test_no_array_is_asked_which_device_it_is_on(package):
    """nn/ chooses its device code once (nn/ops/device_ops); elsewhere in nn/, and in train/
    and workbench/, no branch on the array module, and the reference code finds a module only
    with backend.array_module."""
    import re
    from pathlib import Path

    root = Path(backend_mod.__file__).parent / package
    patterns = (r"xp is (not )?np\b", r"\bfused_ops\b", r"isinstance\([^)]*ndarray",
                r"__module__", r"get_array_module", r"hasattr\([^)]*\"get\"")
    offenders = [f"{p.relative_to(root)}: {pattern}" for p in root.rglob("*.py")
                 for pattern in patterns if re.search(pattern, p.read_text())]
    assert offenders == []


@pytest.mark.gpu
def test_gpu_step_matches_numpy():
    """One training step on CuPy equals NumPy: 1e-5 in float32, 1e-10 in float64."""
    from desktop_nn.nn.network import Network, NetworkSpec
    from desktop_nn.train.trainer import TrainConfig, Trainer

    gpu = select_backend("gpu")
    rng = np.random.default_rng(0)
    X = rng.random((20, 64))
    Y = np.eye(3)[:, rng.integers(0, 3, 64)]
    specs = [NetworkSpec(20, [16, 8], ["relu", "sigmoid"], 3, "softmax", "cross-entropy"),
             NetworkSpec(20, [16, 8], ["tanh", "leaky_relu"], 3, "sigmoid", "cross-entropy"),
             NetworkSpec(20, [16], ["linear"], 3, "linear", "quadratic")]
    used = set()
    for spec, optimizer in itertools.product(specs, ("sgd", "momentum", "adam")):
        for dtype, tol in (("float32", 1e-5), ("float64", 1e-10)):
            nets = [Network(spec, b, dtype=dtype, seed=1) for b in (select_backend("cpu"), gpu)]
            for net in nets:
                Trainer(net, X, Y, TrainConfig(lr=0.1, epochs=1, batch_size=16,
                                               optimizer=optimizer, l2=0.1)).run()
            for a, b in zip(nets[0].get_parameters()[0], nets[1].get_parameters()[0],
                            strict=True):
                np.testing.assert_allclose(a, b, rtol=tol, atol=tol,
                                           err_msg=f"{spec.activations} {optimizer} {dtype}")
            # ... and the GPU steps ran the fused kernels: none was switched off by its check
            assert nets[1].ops.disabled == {}
            used |= {name for name, _dtype in nets[1].ops._state}
    assert {"forward:relu", "forward:sigmoid", "forward:tanh", "forward:leaky_relu",
            "backward:relu", "backward:sigmoid", "backward:tanh", "backward:leaky_relu",
            "sgd", "momentum", "adam", "bce"} <= used
