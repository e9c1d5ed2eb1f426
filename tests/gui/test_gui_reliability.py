"""The window when things go wrong (issue 21): a load that does not answer is cancelled at
once and never holds up closing; errors name the file; the user's own errors print no
traceback; a project's bad values are reported, not silently replaced."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

from PySide6.QtWidgets import QMessageBox

from desktop_nn.data.sources import load_training_data


def _stuck_loader(release: threading.Event, started: threading.Event):
    """A stand-in for a load blocked on a read that ignores Cancel (a FIFO named x.png):
    the bundled sample loads as usual, any other folder blocks until ``release``."""

    def load(source, options, val_split, progress=None, cancel=None, normalisation="scale"):
        if source == "sample":
            return load_training_data(source, options, val_split=val_split,
                                      normalisation=normalisation)
        started.set()
        release.wait(20)
        raise OSError("the read ended")

    return load


# ---------------------------------------------------------------- item 6: cancel, close
def test_cancel_ends_a_load_that_does_not_answer_at_once(qtbot, window, monkeypatch,
                                                         tmp_path):
    import desktop_nn.gui.data_panel as data_panel

    release, started = threading.Event(), threading.Event()
    monkeypatch.setattr(data_panel, "load_training_data", _stuck_loader(release, started))
    panel = window.data_panel
    panel.load(str(tmp_path))
    assert started.wait(5)
    stuck = panel.job
    panel.cancel_button.click()
    # at once, not when the read ends: the panel and the window are usable again
    assert not panel.is_loading() and not panel.cancel_button.isVisible()
    assert panel.message.text() == "Loading cancelled."
    assert panel.load_button.isEnabled() and window.training_panel.start_button.isEnabled()
    assert stuck.is_running()  # still blocked, set aside: its result will be ignored
    with qtbot.waitSignal(window.data_loaded, timeout=10_000):
        panel.load("sample")
    release.set()
    assert stuck.wait(5000)
    qtbot.waitUntil(lambda: not panel._superseded, timeout=5000)
    assert panel.message.text() != "the read ended"  # the cancelled load's end is ignored


def test_closing_during_a_load_that_does_not_answer_neither_waits_nor_aborts(tmp_path):
    """The issue's case in a process of its own: closing waited 30 s, then Python's exit
    destroyed the running QThread ("QThread: Destroyed while thread ... is still running",
    abort)."""
    script = textwrap.dedent(f"""
        import threading, time
        from PySide6.QtCore import QSettings
        import desktop_nn.gui.data_panel as data_panel
        from desktop_nn.gui import create_main_window

        started = threading.Event()
        load = data_panel.load_training_data
        def never_answers(source, *args, **kwargs):
            if source == "sample":
                return load(source, *args, **kwargs)
            started.set()
            threading.Event().wait()  # blocked for good, whatever Cancel says
        data_panel.load_training_data = never_answers
        settings = QSettings({str(tmp_path / "s.ini")!r}, QSettings.Format.IniFormat)
        window = create_main_window(settings=settings)
        window.projects.ask_unsaved = lambda name: "discard"
        window.show()
        window.data_panel.load({str(tmp_path)!r})
        assert started.wait(10)
        t0 = time.monotonic()
        window.close()
        print(f"closed in {{time.monotonic() - t0:.1f}} s", flush=True)
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               DESKTOP_NN_RECOVERY_DIR=str(tmp_path / "recovery"))
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "QThread" not in done.stderr and "Traceback" not in done.stderr
    closed_in = float(done.stdout.split()[2])
    assert closed_in < 5
    assert time.monotonic() - t0 < 30


# ---------------------------------------------------------------- item 17: messages
def test_a_bad_folder_prints_no_traceback(qtbot, window, tmp_path, capfd):
    capfd.readouterr()
    with qtbot.waitSignal(window.data_panel.load_failed, timeout=10_000) as blocker:
        window.data_panel.load(str(tmp_path / "missing"))
    assert "no such folder" in blocker.args[0]
    assert "Traceback" not in capfd.readouterr().err


def test_a_bug_in_a_load_still_prints_its_traceback(qtbot, window, tmp_path, capfd,
                                                     monkeypatch):
    import desktop_nn.gui.data_panel as data_panel

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(data_panel, "load_training_data", broken)
    capfd.readouterr()
    with qtbot.waitSignal(window.data_panel.load_failed, timeout=10_000) as blocker:
        window.data_panel.load(str(tmp_path))
    assert blocker.args[0] == "KeyError: 'a bug'"
    err = capfd.readouterr().err
    assert "Traceback" in err and "KeyError" in err


def test_the_users_errors_and_the_bugs():
    from desktop_nn.backend import BackendError
    from desktop_nn.data.image_folder import FolderError
    from desktop_nn.gui.worker import is_users_error

    assert is_users_error(FolderError("x: no such folder"))
    assert is_users_error(BackendError("no GPU"))
    assert is_users_error(OSError(28, "No space left on device"))
    assert not is_users_error(ValueError("operands could not be broadcast"))
    assert not is_users_error(KeyError("x"))


def _dialogs(window) -> list[QMessageBox]:
    return list(window._dialogs)


def test_an_export_that_fails_names_the_file(qtbot, window, tmp_path, monkeypatch):
    import desktop_nn.gui.model_files as model_files

    def disk_full(path, model):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_files, "save_model", disk_full)
    monkeypatch.setattr(window.workbench, "current_model", lambda: object())
    target = tmp_path / "model.npz"
    assert not window.model_files.export_model(str(target))
    box = _dialogs(window)[-1]
    assert box.text() == f"{target}: No space left on device"
    box.close()


def test_file_error_names_the_file():
    from desktop_nn.gui.worker import file_error

    tmp = OSError(28, "No space left on device", "/d/.p.dnnproj.x1.tmp")
    assert file_error("/d/p.dnnproj", tmp) == "/d/p.dnnproj: No space left on device"
    assert file_error("/d/m.npz", ValueError("/d/m.npz: not a model")) == "/d/m.npz: not a model"
    assert file_error("/d/m.npz", ValueError("bad")) == "/d/m.npz: bad"

