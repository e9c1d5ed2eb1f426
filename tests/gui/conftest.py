"""Fixtures of the window's tests (pytest-qt, offscreen)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def settings(tmp_path):
    """Window settings in a private INI file, never the user's."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    """The real main window with the bundled sample loaded; closed (training stopped) after
    the test, which fails if a training or loading thread is still alive, or if the test left
    another window of its own open (as napari's make_napari_viewer checks for leaks)."""
    import gc

    from PySide6.QtWidgets import QApplication

    from desktop_nn.gui import create_main_window

    gc.collect()  # earlier tests' windows go now, on this thread, not while being listed
    before = {id(x) for x in QApplication.topLevelWidgets() if x.isVisible()}
    w = create_main_window(settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
    assert not any(job.is_running() for job in w.executor.jobs())
    assert w.data_panel.job is None or not w.data_panel.job.is_running()
    left_open = [x.objectName() or type(x).__name__ for x in QApplication.topLevelWidgets()
                 if x.isVisible() and id(x) not in before]
    assert left_open == [], f"the test left windows open: {left_open}"


@pytest.fixture(autouse=True)
def _no_modal_questions(monkeypatch):
    """A modal question would wait forever offscreen: unsaved changes are discarded, no
    recovery is taken and no file is chosen unless a test says otherwise."""
    from desktop_nn.gui import projects

    monkeypatch.setattr(projects.ProjectController, "_ask_unsaved", lambda self, name: "discard")
    monkeypatch.setattr(projects.ProjectController, "_ask_recover", lambda self, info: False)
    monkeypatch.setattr(projects.ProjectController, "_ask_path", lambda self, save: None)

