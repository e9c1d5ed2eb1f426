"""``desktop-nn --self-test``: passes with a one-line report, fails with the reason."""

from __future__ import annotations

import os
import subprocess
import sys

from desktop_nn.gui import selftest


def test_self_test_command_passes_with_a_one_line_report(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("DESKTOP_NN_CACHE_DIR", None)
    env.pop("DESKTOP_NN_RECOVERY_DIR", None)
    done = subprocess.run([sys.executable, "-m", "desktop_nn", "--self-test"], env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no stray Qt warning (propagateSizeHints) either
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("self-test passed: CPU - NumPy")
    assert " steps on the bundled sample" in lines[0] and "drop" in lines[0]
    # nothing of the user's was written: no settings, no autosave, no image cache
    assert not (tmp_path / "config").exists() and not (tmp_path / "data").exists()
    assert not (tmp_path / "cache").exists()


def test_self_test_fails_with_the_reason_when_learning_breaks(monkeypatch):
    monkeypatch.setattr(selftest, "LEARNING_RATE", 1e9)  # diverges at once
    result = selftest.run_self_test(timeout_s=60)
    assert not result.ok
    assert result.message.startswith("self-test failed: ")
    assert "NaN" in result.message or "did not fall" in result.message
