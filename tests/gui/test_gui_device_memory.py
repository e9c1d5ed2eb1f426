"""What the window shows of the workbench's device-memory policies (the policies themselves
are tested once, in tests/test_workbench.py): the device label, refusals beside the design,
dialogs, and a project saved while a new GPU run is made."""

from __future__ import annotations

import numpy as np
from fake_gpu import FailingForward, fake_gpu, out_of_memory_in

import desktop_nn.train.device_memory as device_memory
from desktop_nn.train.trainer import Trainer
from desktop_nn.workbench import SetAside, Training


def test_window_shows_a_run_going_on_on_the_cpu_without_a_dialog(qtbot, window,
                                                                 monkeypatch):
    """The policy is the workbench's (tests/test_workbench.py); the window shows the device
    the run goes on on, and no error."""
    from PySide6.QtWidgets import QComboBox, QMessageBox, QSpinBox

    monkeypatch.setattr(device_memory, "select_backend", lambda choice: fake_gpu())
    real_init = Trainer.__init__
    trainers = []

    def init(self, network, *a, **kw):
        real_init(self, network, *a, **kw)
        trainers.append(self)
        if len(trainers) == 1:  # the GPU run fails on its 5th step
            FailingForward(network, fail_at=5)

    monkeypatch.setattr(Trainer, "__init__", init)
    window.findChild(QComboBox, "deviceCombo").setCurrentText("auto")
    window.findChild(QSpinBox, "epochsSpin").setValue(2)
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as blocker:
        assert window.start()
    assert blocker.args[0].stopped == "completed" and len(trainers) == 2
    assert window.device_label.text().startswith("CPU - NumPy (the GPU ran out of memory)")
    assert window.findChild(QMessageBox, "errorDialog") is None


def test_window_on_a_chosen_device_stops_with_the_message(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QComboBox, QMessageBox

    real_init = Trainer.__init__

    def init(self, network, *a, **kw):
        real_init(self, network, *a, **kw)
        FailingForward(network, fail_at=3)

    monkeypatch.setattr(Trainer, "__init__", init)
    window.findChild(QComboBox, "deviceCombo").setCurrentText("cpu")
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as blocker:
        assert window.start()
    assert blocker.args[0].stopped == "out_of_memory" and window.workbench.trainer.step_count == 2
    dialog = window.findChild(QMessageBox, "errorDialog")
    assert dialog is not None and "The largest tensor is" in dialog.text()
    dialog.accept()


def _gpu_run_then_another(qtbot, window, monkeypatch, free: dict | None = None) -> Trainer:
    """Train one epoch on the stand-in GPU under auto; return that trainer, with the seed
    changed so that the next start builds a new run. ``free["bytes"]``: the GPU's free
    memory, read at each check (default: plenty)."""
    from PySide6.QtWidgets import QComboBox, QSpinBox

    free = {"bytes": 10**12} if free is None else free
    monkeypatch.setattr(device_memory, "select_backend",
                        lambda choice: fake_gpu(free["bytes"]))
    window.findChild(QComboBox, "deviceCombo").setCurrentText("auto")
    window.findChild(QSpinBox, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        assert window.start()
    first = window.workbench.trainer
    assert first.network.backend.is_gpu
    window.findChild(QSpinBox, "seedSpin").setValue(1)  # a new network: a new run
    return first

def test_window_shows_why_a_run_was_not_made_and_where_the_previous_one_is(
        qtbot, window, monkeypatch):
    """The policy is the workbench's (tests/test_workbench.py); the window shows the refusal
    beside the design, and the device the previous run is back on."""
    from PySide6.QtWidgets import QComboBox

    _gpu_run_then_another(qtbot, window, monkeypatch)
    window.findChild(QComboBox, "deviceCombo").setCurrentText("gpu")
    out_of_memory_in(monkeypatch, "trainer")
    _start_refused(qtbot, window)
    assert "Not enough memory on Fake GPU" in window.designer.problem_label.text()
    assert window.device_label.text().startswith("CPU - NumPy (moved off the GPU")
    assert window.training_panel.start_button.isEnabled()

def _start_refused(qtbot, window) -> str:
    """Start a run that cannot be built (it is built in a worker): its refusal."""
    with qtbot.waitSignal(window.run_refused, timeout=60_000) as refused, \
            qtbot.waitSignal(window.training_finished, timeout=60_000) as finished:
        assert window.start()
    assert finished.args == [None] and not window.is_training()
    return refused.args[0]

def test_a_project_saved_while_a_new_gpu_run_is_made_keeps_the_previous_run(
        qtbot, window, monkeypatch, tmp_path):
    """The previous run has left the GPU (its weights wait in host memory) and the new one
    is not made yet: saving then writes the previous run's weights and state, not nothing."""
    import threading

    from desktop_nn.io.project_file import load_project, load_project_model, load_project_state

    first = _gpu_run_then_another(qtbot, window, monkeypatch)
    weights = [w.copy() for w in first.network.get_parameters()[0]]
    steps = first.step_count
    gate, entered = threading.Event(), threading.Event()
    real = Trainer.__init__

    def slow(self, *args, **kwargs):
        entered.set()
        assert gate.wait(30)
        real(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "__init__", slow)
    del first
    try:
        assert window.start()
        qtbot.waitUntil(entered.is_set, timeout=10_000)
        assert isinstance(window.workbench.state, SetAside)
        path = tmp_path / "meanwhile.dnnproj"
        assert window.projects.save_to(path)
    finally:
        gate.set()
    project = load_project(path)
    saved = load_project_model(project, path).network
    for a, b in zip(saved.get_parameters()[0], weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert load_project_state(path)[0]["step_count"] == steps
    qtbot.waitUntil(lambda: not window.is_training(), timeout=60_000)
    assert isinstance(window.workbench.state, Training)
    assert window.workbench.trainer.network.backend.is_gpu
