"""Shared fixtures. Tests never need ../shared: data are generated here."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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


@pytest.fixture
def settings(tmp_path):
    """Window settings in a private INI file, never the user's."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    """The real main window with the bundled sample loaded; closed (training stopped) after
    the test, which fails if a training or loading thread is still alive."""
    from desktop_nn.gui import create_main_window

    w = create_main_window(settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
    assert not any(job.is_running() for job in w.executor.jobs())
    assert w.data_panel.job is None or not w.data_panel.job.is_running()


@pytest.fixture(autouse=True)
def _no_modal_questions(monkeypatch):
    """A modal question would wait forever offscreen: unsaved changes are discarded, no
    recovery is taken and no file is chosen unless a test says otherwise."""
    from desktop_nn.gui import projects

    monkeypatch.setattr(projects.ProjectController, "_ask_unsaved", lambda self, name: "discard")
    monkeypatch.setattr(projects.ProjectController, "_ask_recover", lambda self, info: False)
    monkeypatch.setattr(projects.ProjectController, "_ask_path", lambda self, save: None)
