"""``desktop-nn --self-test``: the whole app, end to end, without a display or user files.

Starts the real window offscreen with private settings and a private recovery folder, loads
the bundled sample, trains one epoch on the available device in the worker thread, checks that
the plots received the steps and that the cost fell, and reports in one line. It runs the same
in the frozen (PyInstaller) app as in the source tree, so an installer can be checked with it.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass

EPOCHS = 1
BATCH = 10
LEARNING_RATE = 0.5
TIMEOUT_S = 120.0


@dataclass
class SelfTestResult:
    ok: bool
    message: str


def run_self_test(timeout_s: float = TIMEOUT_S) -> SelfTestResult:
    """Run the check; never raises (a failure is a result with the reason)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before the QApplication exists
    private = ("DESKTOP_NN_RECOVERY_DIR", "DESKTOP_NN_CACHE_DIR")
    saved = {k: os.environ.get(k) for k in private}
    with tempfile.TemporaryDirectory(prefix="desktop-nn-self-test-") as tmp:
        # the user's autosave and image cache are never touched by a check
        for k in private:
            os.environ[k] = os.path.join(tmp, k.lower())
        try:
            return _run(tmp, timeout_s)
        except Exception as exc:  # the report says what broke; the exit code says it failed
            return SelfTestResult(False, f"self-test failed: {type(exc).__name__}: {exc}")
        finally:
            from desktop_nn.data.image_folder import wait_for_cache_writes

            wait_for_cache_writes()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _run(tmp: str, timeout_s: float) -> SelfTestResult:
    from PySide6.QtCore import QSettings

    from desktop_nn.data.sources import SAMPLE_NAME
    from desktop_nn.gui.app import create_main_window, ensure_app

    app = ensure_app()
    settings = QSettings(os.path.join(tmp, "settings.ini"), QSettings.Format.IniFormat)
    window = create_main_window(settings=settings, data=SAMPLE_NAME)
    window.projects.ask_unsaved = lambda name: "discard"  # nothing to save in a check
    finished: list = []
    refused: list[str] = []
    window.training_finished.connect(finished.append)
    window.run_refused.connect(refused.append)
    try:
        data = window.data_panel.data
        if data is None:
            return SelfTestResult(False, "self-test failed: the bundled sample did not load "
                                  f"({window.data_panel.message.text()})")
        panel = window.training_panel
        panel.epochs_spin.setValue(EPOCHS)
        panel.batch_spin.setValue(BATCH)
        panel.lr_spin.setValue(LEARNING_RATE)
        window.show()
        if not window.start():
            return SelfTestResult(False, "self-test failed: training did not start "
                                  f"({window.designer.problem_label.text()})")
        deadline = time.monotonic() + timeout_s
        while not finished and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.005)
        if not finished:
            window.stop()
            return SelfTestResult(False, f"self-test failed: training did not finish within "
                                  f"{timeout_s:.0f} s")
        result = finished[0]
        if result is None or result.stopped != "completed":
            if result is None:
                why = refused[0] if refused else "an error in the worker"
            else:
                why = result.message
            return SelfTestResult(False, f"self-test failed: training stopped: {why}")
        return _verdict(window)
    finally:
        window.close()
        app.processEvents()


def _verdict(window) -> SelfTestResult:
    trainer = window.workbench.trainer
    steps = window.plots.steps
    plotted = len(steps.step)
    x, _ = window.plots.step_cost.getData()
    drawn = 0 if x is None else len(x)
    epochs = window.plots.epochs
    if plotted == 0 or drawn == 0 or len(epochs.column("epoch")) != EPOCHS:
        return SelfTestResult(False, f"self-test failed: the plots received {plotted} steps "
                              f"and {len(epochs.column('epoch'))} epochs")
    first = float(steps.cost[0])
    last = float(epochs.column("train_cost")[-1])
    device = window.device_label.text()
    if not (math.isfinite(first) and math.isfinite(last) and last < first):
        return SelfTestResult(False, f"self-test failed: the cost did not fall ({first:.4f} "
                              f"at the first step, {last:.4f} after {EPOCHS} epoch)")
    accuracy = float(epochs.column("train_accuracy")[-1])
    return SelfTestResult(True, f"self-test passed: {device}; {trainer.step_count} steps "
                          f"on the bundled sample; cost {first:.3f} -> {last:.3f} (drop "
                          f"{first - last:.3f}); train accuracy {accuracy:.3f}; {drawn} "
                          f"points plotted")


def main() -> int:
    result = run_self_test()
    print(result.message, file=sys.stdout if result.ok else sys.stderr, flush=True)
    return 0 if result.ok else 1
