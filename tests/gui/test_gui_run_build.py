"""A run is made in a worker (workbench/building.py): the window stays responsive while the data
are converted or copied to the device, and pause, step and stop asked meanwhile hold."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop_nn.train.trainer import Trainer


@pytest.fixture
def slow_build(monkeypatch):
    """Trainer.__init__ waits for ``gate`` (as converting a big data set would); ``threads``
    records where it runs."""
    gate, threads = threading.Event(), []
    real = Trainer.__init__

    def init(self, *args, **kwargs):
        threads.append(threading.current_thread())
        assert gate.wait(30), "the test never let the build go on"
        real(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "__init__", init)
    yield gate, threads
    gate.set()


def _building(qtbot, window, threads) -> list:
    """Start a run and wait until its trainer is being made; the started signals seen."""
    started = []
    window.training_started.connect(lambda: started.append(1))
    assert window.start()
    qtbot.waitUntil(lambda: len(threads) == 1, timeout=10_000)
    return started


def test_the_run_is_made_off_the_gui_thread_while_the_window_handles_events(
        qtbot, window, slow_build):
    gate, threads = slow_build
    window.training_panel.epochs_spin.setValue(3)
    started = _building(qtbot, window, threads)
    assert threads[0] is not threading.main_thread()
    assert window.is_training() and not started and window.workbench.trainer is None
    assert not window.training_panel.start_button.isEnabled()
    fired = []
    QTimer.singleShot(0, lambda: fired.append(1))
    qtbot.waitUntil(lambda: fired == [1], timeout=2000)  # the event loop runs
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as finished:
        gate.set()
    assert started == [1]
    assert finished.args[0].stopped == "completed" and window.workbench.trainer.epoch == 3


def test_pause_and_steps_asked_while_the_run_is_made_are_taken(qtbot, window, slow_build):
    gate, threads = slow_build
    window.training_panel.epochs_spin.setValue(1000)
    _building(qtbot, window, threads)
    window.toggle_pause()
    assert window.training_panel.step_button.isEnabled()  # paused: one step at a time
    window.step()
    window.step()
    with qtbot.waitSignal(window.training_started, timeout=10_000):
        gate.set()
    trainer = window.workbench.trainer
    qtbot.waitUntil(lambda: trainer.step_count == 2 and trainer.is_waiting, timeout=10_000)
    window.step()
    qtbot.waitUntil(lambda: trainer.step_count == 3 and trainer.is_waiting, timeout=10_000)
    with qtbot.waitSignal(window.training_finished, timeout=10_000) as finished:
        window.stop()
    assert finished.args[0].stopped == "stopped" and trainer.step_count == 3


def test_stop_while_the_run_is_made_ends_it_before_its_first_step(qtbot, window, slow_build):
    gate, threads = slow_build
    _building(qtbot, window, threads)
    window.stop()
    with qtbot.waitSignal(window.training_finished, timeout=10_000) as finished:
        gate.set()
    assert finished.args[0].stopped == "stopped" and window.workbench.trainer.step_count == 0
    assert not window.is_training()


def test_closing_while_the_run_is_made_starts_nothing(qtbot, window, slow_build):
    gate, threads = slow_build
    started = _building(qtbot, window, threads)
    threading.Timer(0.2, gate.set).start()  # the window waits for the build as it closes
    window.close()
    QApplication.processEvents()
    assert started == [] and window.workbench.trainer is None
    assert not any(job.is_running() for job in window.executor.jobs())


@pytest.mark.parametrize("error, refused", [(ValueError("cannot use these (fake)"), True),
                                            (RuntimeError("broken (fake)"), False)])
def test_a_run_that_cannot_be_made_keeps_the_previous_one(qtbot, window, monkeypatch, error,
                                                          refused):
    window.training_panel.epochs_spin.setValue(1)
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        assert window.start()
    first = window.workbench.trainer
    window.training_panel.seed_spin.setValue(1)  # other weights: a new run is made

    def failing(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(Trainer, "__init__", failing)
    with qtbot.waitSignal(window.run_refused, timeout=10_000) as said, \
            qtbot.waitSignal(window.training_finished, timeout=10_000) as finished:
        assert window.start()
    assert str(error) in said.args[0] and finished.args == [None]
    assert window.workbench.trainer is first and not window.is_training()
    if refused:  # a reason to change the design: next to it
        assert str(error) in window.designer.problem_label.text()
    else:  # a failure: in a dialog
        assert str(error) in window._dialogs[-1].text()
    assert window.training_panel.start_button.isEnabled()


def test_a_step_then_resume_asked_while_the_run_is_made_runs_on(qtbot, window, slow_build):
    gate, threads = slow_build
    window.training_panel.epochs_spin.setValue(2)
    _building(qtbot, window, threads)
    window.step()  # pauses, one step
    window.toggle_pause()  # and runs on
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as finished:
        gate.set()
    assert finished.args[0].stopped == "completed" and window.workbench.trainer.epoch == 2


def test_the_build_job_outlives_the_hand_over_to_the_run(qtbot, window, slow_build):
    """The worker is slow to finish after handing the trainer over (it lost the CPU): its
    job must still be alive then (a QThread destroyed while running aborts the app)."""
    import time

    from PySide6.QtCore import Qt

    gate, threads = slow_build
    window.training_panel.epochs_spin.setValue(1)
    _building(qtbot, window, threads)
    job = window.executor.jobs()[0]
    job.succeeded.connect(lambda _: time.sleep(0.3), Qt.ConnectionType.DirectConnection)
    del job
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as finished:
        gate.set()
    assert finished.args[0].stopped == "completed"
    qtbot.waitUntil(lambda: not window.executor.jobs(), timeout=5000)
