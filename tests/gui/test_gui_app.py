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
