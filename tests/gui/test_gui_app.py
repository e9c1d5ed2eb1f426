"""Starting the app from the command line."""

from __future__ import annotations

from desktop_nn.cli import main


def test_no_arguments_starts_the_app(monkeypatch):
    import desktop_nn.gui.app as app

    calls = []
    monkeypatch.setattr(app, "main", lambda data=None: calls.append(data) or 0)
    assert main([]) == 0
    assert main(["gui", "some/folder"]) == 0
    assert calls == [None, "some/folder"]


def test_the_offscreen_plugins_size_hints_warning_is_dropped_and_nothing_else():
    import os
    import subprocess
    import sys

    script = (
        "from PySide6.QtCore import qWarning\n"
        "from desktop_nn.gui.app import ensure_app\n"
        "ensure_app()\n"
        "qWarning('This plugin does not support propagateSizeHints()')\n"
        "qWarning('another warning')\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "propagateSizeHints" not in done.stderr
    assert "another warning" in done.stderr


def test_a_script_without_the_main_guard_is_not_run_again_in_the_workers(tmp_path):
    """Issue 21, item 19: a worker process started with spawn (the image decoders) imports
    the parent's script again; a script that makes the window at import time made it once
    more in every worker. Now the worker stops there with the reason, and only the parent
    has a window."""
    import os
    import subprocess
    import sys

    script = tmp_path / "my_app.py"
    script.write_text(
        "import multiprocessing\n"
        "from PySide6.QtCore import QSettings\n"
        "from desktop_nn.gui import create_main_window\n"
        f"settings = QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat)\n"
        "window = create_main_window(settings=settings)  # no __main__ guard\n"
        "print('window made in', multiprocessing.current_process().name, flush=True)\n"
        "def work():\n"
        "    pass\n"
        "if multiprocessing.parent_process() is None:\n"
        "    worker = multiprocessing.get_context('spawn').Process(target=work)\n"
        "    worker.start()\n"
        "    worker.join(60)\n"
        "    print('worker exit code', worker.exitcode, flush=True)\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               DESKTOP_NN_RECOVERY_DIR=str(tmp_path / "recovery"))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["window made in MainProcess", "worker exit code 1"]
    assert "put the code that makes the window under `if __name__ == \"__main__\":`" in \
        done.stderr
