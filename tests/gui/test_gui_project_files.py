"""Project files in the real window when things go wrong: a save on a full disk changes
nothing, a project with values the window cannot hold is refused and the window stays usable,
and a model or state of another save is left out with a message."""

from __future__ import annotations

import json
import os

import numpy as np
from PySide6.QtWidgets import QMessageBox
from test_gui_inspect import close, new_window, train

from desktop_nn.io.project_file import Project, state_file_path
from desktop_nn.io.project_open import OpenedProject


def dialogs(window) -> list[tuple[str, str]]:
    return [(b.windowTitle(), b.text()) for b in window.findChildren(QMessageBox)
            if b.objectName() == "errorDialog" and b.isVisible()]


def folder_bytes(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_save_on_a_full_disk_keeps_the_old_project_model_and_state(qtbot, window, tmp_path,
                                                                     monkeypatch):
    train(qtbot, window, epochs=1, optimizer="momentum")
    work = tmp_path / "work"
    work.mkdir()
    path = work / "digits.dnnproj"
    assert window.projects.save_to(path)
    before = folder_bytes(work)
    assert set(before) == {"digits.dnnproj", "digits.model.npz", "digits.state.npz"}
    train(qtbot, window, epochs=2, optimizer="momentum")  # new weights and state to save
    real_savez = np.savez

    def full_disk(f, *args, **kwargs):  # the disk fills up as the training state is written
        if "state" in kwargs:
            raise OSError(28, "No space left on device")
        return real_savez(f, *args, **kwargs)

    monkeypatch.setattr(np, "savez", full_disk)
    assert not window.projects.save_to(path)
    monkeypatch.undo()
    [(title, text)] = dialogs(window)
    assert "digits.dnnproj" in text and "No space left on device" in text
    assert folder_bytes(work) == before  # the old set, whole: nothing replaced, no temporaries
    assert window.projects.save_to(path)  # and saving works again once there is room


def bad_project(path, **training) -> None:
    path.write_text(json.dumps({
        "format": "desktop-nn-project", "format_version": 1, "name": "bad",
        "designer": {"layers": [[10**30, "relu"]], "output": "softmax"}, "data": {},
        "training": {"lr": 0.2, **training}, "model": None}))


def test_a_project_with_overflowing_values_is_refused_and_the_window_stays_usable(
        qtbot, window, tmp_path):
    designer, training = window.designer.state(), window.training_panel.state()
    path = tmp_path / "bad.dnnproj"
    bad_project(path, epochs=1e30)
    assert not window.projects.open(path)
    [(title, text)] = dialogs(window)
    assert "bad.dnnproj" in text and "training.epochs" in text and "designer.layers[1]" in text
    # nothing was applied
    assert window.designer.state() == designer and window.training_panel.state() == training
    # and every action still works
    window.projects.mark_dirty()
    assert window.projects.autosave()
    assert window.projects.save_to(tmp_path / "good.dnnproj")
    train(qtbot, window, epochs=1)


def test_the_controller_applies_only_a_project_that_passes_its_checks(window):
    designer = window.designer.state()
    bad = OpenedProject(Project(name="x", designer={"layers": [[1, "relu"]] * 3000}))
    assert not window.projects._apply(bad)
    assert window.designer.state() == designer
    assert "3000 hidden layers" in dialogs(window)[0][1]


def test_a_state_of_another_save_is_left_out_with_a_message(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1, optimizer="momentum")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = tmp_path / "a" / "p.dnnproj", tmp_path / "b" / "p.dnnproj"
    assert window.projects.save_to(a)
    train(qtbot, window, epochs=2, optimizer="momentum")
    assert window.projects.save_to(b)
    # as a save killed between two renames leaves it: a newer state beside the older project
    os.replace(state_file_path(b), state_file_path(a))

    reopened = new_window(qtbot, tmp_path, "reopened")
    with qtbot.waitSignal(reopened.data_loaded, timeout=30_000):
        assert reopened.projects.open(a)
    [(title, text)] = dialogs(reopened)
    assert "p.state.npz belongs to another save" in text and "left out" in text
    model, state = reopened.workbench.saved_state()
    assert model is not None and state is None  # never the state of other weights
    close(reopened)


def test_a_folder_in_the_way_of_the_state_file_is_named_and_nothing_changes(qtbot, window,
                                                                            tmp_path):
    train(qtbot, window, epochs=1, optimizer="momentum")
    path = tmp_path / "digits.dnnproj"
    assert window.projects.save_to(path)
    state_file_path(path).unlink()
    state_file_path(path).mkdir()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert not window.projects.save_to(path)
    [(title, text)] = dialogs(window)
    assert "digits.dnnproj could not be saved" in text and "digits.state.npz" in text
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_autosave_into_an_unusable_folder_is_told_once_and_never_printed(qtbot, window,
                                                                         tmp_path, caplog):
    """The recovery folder is a file (or on a full or read-only disk): the user is told once
    per session, in a dialog; the terminal gets no 'cannot remove' lines."""
    from desktop_nn.io.recovery import RecoveryStore

    (tmp_path / "recfile").write_text("not a folder")
    window.projects.store = RecoveryStore(tmp_path / "recfile" / "session-1-x", lock=True)
    window.projects.recovery_dir = tmp_path / "recfile"
    with caplog.at_level("DEBUG", logger="desktop_nn"):
        window.projects.mark_dirty()
        assert not window.projects.autosave()
        [(title, text)] = dialogs(window)
        assert title == "Autosave is not working"
        assert "recfile" in text and "Not a directory" in text and "save the project" in text
        window.projects.mark_dirty()
        assert not window.projects.autosave()  # tried again, not told again
        assert len(dialogs(window)) == 1
        window.projects.closed_cleanly()
    assert not [r for r in caplog.records if r.levelno >= 30], caplog.text
    for box in window.findChildren(QMessageBox):
        box.done(0)
