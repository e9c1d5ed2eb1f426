"""The Data panel's built-in 2-D data sets (gui/toy_source.py, issue 25 item 1): choosing one
loads it, a project keeps it, and a network trains on it with the plots fed as for images."""

from __future__ import annotations

import numpy as np
from test_gui_flow import click, train_epochs
from test_gui_inspect import close, new_window

from desktop_nn.data.toy2d import ToySpec, make_toy


def choose(qtbot, window, name: str, n: int | None = None, noise: float | None = None,
           seed: int | None = None) -> None:
    """Set the chooser's values and pick ``name`` in its list, as a user would."""
    toy = window.data_panel.toy_source
    for spin, value in ((toy.points_spin, n), (toy.noise_spin, noise), (toy.seed_spin, seed)):
        if value is not None:
            spin.setValue(value)
    combo = toy.name_combo
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        combo.setCurrentIndex(combo.findData(name))
        combo.activated.emit(combo.currentIndex())  # what a click on the item sends


def press_load(qtbot, window) -> None:
    """Click the chooser's Load once it is enabled again: data_loaded comes before the end
    of the load's job, which turns the panel's buttons back on."""
    qtbot.waitUntil(window.data_panel.toy_source.load_button.isEnabled, timeout=10_000)
    click(qtbot, window, "toyLoadButton")


def test_choosing_spiral_loads_its_points(qtbot, window):
    panel = window.data_panel
    assert panel.thumbnails.isVisible()  # the sample's images
    choose(qtbot, window, "spiral", n=300, noise=0.1, seed=2)
    data = panel.data.prepared
    assert panel.folder_edit.text() == "toy:spiral,n=300,noise=0.1,seed=2"
    assert data.train.n_x == 2 and data.train.m + data.val.m == 300
    toy = make_toy(ToySpec("spiral", 300, 0.1, 2))
    shown = np.concatenate([data.train.X, data.val.X], axis=1)
    assert sorted(map(tuple, shown.T.tolist())) == sorted(map(tuple, toy.X.T.tolist()))
    table = panel.class_table
    rows = [[table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())]
    train, val = np.bincount(data.train.labels()), np.bincount(data.val.labels())
    assert rows == [["arm 1", str(train[0]), str(val[0]), "-"],
                    ["arm 2", str(train[1]), str(val[1]), "-"]]
    assert panel.summary.text().startswith("toy:spiral,n=300,noise=0.1,seed=2: n_x = 2 "
                                           "(inputs as given)")
    assert not panel.thumbnails.isVisible() and not panel.skipped_table.isVisible()
    assert window.designer.sizes_and_activations()[0][0] == 2  # the network's 2 inputs
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        press_load(qtbot, window)  # Load: the values shown, again
    assert panel.data.source == "toy:spiral,n=300,noise=0.1,seed=2"


def test_a_typed_spec_loads_and_shows_in_the_chooser(qtbot, window):
    panel = window.data_panel
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        panel.load("toy:gauss,noise=0.25,n=50")
    toy = panel.toy_source
    assert toy.spec() == ToySpec("gauss", 50, 0.25, 0)
    assert panel.data.prepared.class_names == ["upper right", "lower left"]
    with qtbot.waitSignal(panel.load_failed, timeout=10_000) as failed:
        panel.load("toy:gauss,n=2")
    assert failed.args[0] == "toy:gauss,n=2: n must be a whole number from 4 to 100,000, got 2"
    assert panel.data.source == "toy:gauss,n=50,noise=0.25,seed=0"  # still the last data


def test_load_with_nothing_changed_loads_a_typed_spec_exactly(qtbot, window):
    """A noise of three decimals and a seed past the spin box show rounded; Load with no
    widget changed loads the spec itself again, not other points; a change loads the change."""
    panel, toy = window.data_panel, window.data_panel.toy_source
    typed = "toy:gauss,n=40,noise=0.123,seed=3000000000"
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        panel.load(typed)
    assert (toy.noise_spin.value(), toy.seed_spin.value()) == (0.12, 2**31 - 1)
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        press_load(qtbot, window)
    assert panel.data.source == typed
    toy.points_spin.setValue(41)
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        press_load(qtbot, window)
    assert panel.data.source == "toy:gauss,n=41,noise=0.12,seed=2147483647"


def test_a_project_reopens_with_its_toy_data(qtbot, window, tmp_path):
    choose(qtbot, window, "circle", n=120, noise=0.2, seed=5)
    path = tmp_path / "toy.dnnproj"
    assert window.projects.save_to(path)
    reopened = new_window(qtbot, tmp_path, "reopened")
    with qtbot.waitSignal(reopened.data_loaded, timeout=30_000):
        assert reopened.projects.open(path)
    panel = reopened.data_panel
    assert panel.data.source == "toy:circle,n=120,noise=0.2,seed=5"
    assert panel.toy_source.spec() == ToySpec("circle", 120, 0.2, 5)
    assert np.array_equal(panel.data.prepared.train.X, window.data_panel.data.prepared.train.X)
    assert not reopened.projects.dirty  # the project's own data: nothing to save
    close(reopened)


def test_a_network_trains_on_the_spiral_and_the_plots_get_its_reports(qtbot, window):
    choose(qtbot, window, "spiral")
    toy = window.data_panel.toy_source
    assert toy.isEnabled()
    window.designer.layer_table.cellWidget(0, 0).setValue(8)
    enabled = []
    window.training_started.connect(lambda *_: enabled.append(toy.isEnabled()))
    train_epochs(qtbot, window, 3)
    assert enabled == [False]  # no new data while a network trains on these
    plots = window.plots
    assert window.workbench.trainer.network.spec.input_size == 2
    for curve in [plots.step_cost, *plots.gradient_curves, *plots.saturation_curves]:
        assert len(curve.getData()[0]) > 0
    assert toy.isEnabled()


def test_no_set_shows_as_chosen_while_other_data_are_loaded(qtbot, window):
    """At start (the sample) and after a set, once images load again, the chooser shows no
    set, not a spiral that is not loaded; Load with none chosen loads the default set."""
    panel, combo = window.data_panel, window.data_panel.toy_source.name_combo
    assert combo.currentIndex() == -1 and combo.placeholderText() == "choose a set"
    choose(qtbot, window, "xor")
    assert combo.currentData() == "xor"
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        panel.load("sample")
    assert combo.currentIndex() == -1
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        press_load(qtbot, window)
    assert panel.data.source == "toy:spiral,n=400,noise=0,seed=0"
    assert combo.currentData() == "spiral"
