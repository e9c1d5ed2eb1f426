"""Fixtures shared by every test. Tests never need ../shared: data are generated here.

The tests in this folder need no Qt: they run where PySide6 and pyqtgraph are not installed
(.ci/run checks it). The window's tests sit in gui/, with their own conftest."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np
import pytest


def pytest_runtest_setup(item):
    """The app collects garbage on its GUI thread only (gui/app.py turns Python's automatic
    collection off while a window lives): the tests outside gui/ get it back."""
    if "gui" not in item.path.relative_to(Path(__file__).parent).parts:
        gc.enable()


def pytest_collection_modifyitems(config, items):
    """`gpu` tests skip only where no GPU is present, and run where one is."""
    from desktop_nn.backend import gpu_available

    if gpu_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device with CuPy on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory):
    """Decoded-image caches go to a temporary folder, never the user's cache dir."""
    os.environ["DESKTOP_NN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(autouse=True)
def _private_recovery_dir(tmp_path, monkeypatch):
    """Autosaves go to the test's folder, never the user's data dir."""
    monkeypatch.setenv("DESKTOP_NN_RECOVERY_DIR", str(tmp_path / "recovery"))


@pytest.fixture
def blobs():
    """Two well separated Gaussian blobs: X (2, 200), Y (1, 200)."""
    rng = np.random.default_rng(0)
    m = 200
    labels = rng.integers(0, 2, m)
    centres = np.array([[-2.0, -2.0], [2.0, 2.0]])
    X = (centres[labels] + rng.normal(scale=0.5, size=(m, 2))).T
    return X, labels.reshape(1, -1).astype(float)


@pytest.fixture
def xor():
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
    Y = np.array([[0, 1, 1, 0]], dtype=float)
    return X, Y


# onnx and onnxruntime for the ONNX export's tests (tests/onnx_support.py: a skip outside CI
# when one is missing, a failure in CI)
@pytest.fixture(scope="module")
def onnx():
    from onnx_support import need

    return need("onnx")


@pytest.fixture(scope="module")
def ort():
    from onnx_support import need

    return need("onnxruntime")

