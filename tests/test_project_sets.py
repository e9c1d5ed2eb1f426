"""A project save is one unit: project, model and training state are written all-or-nothing,
carry one generation, and a model or state of another save is never used with the project
without the user being told. Paths that are not regular files never hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from npz_factory import trainer_state

from desktop_nn.io import atomic
from desktop_nn.io.model_file import ModelFile, load_model
from desktop_nn.io.project_file import (
    Project,
    ProjectFileError,
    load_project,
    model_file_name,
    save_project,
    state_file_path,
)
from desktop_nn.io.project_open import open_project
from desktop_nn.io.recovery import RecoveryStore
from desktop_nn.nn.network import Network, NetworkSpec


def model(seed: int) -> ModelFile:
    spec = NetworkSpec(input_size=4, hidden_sizes=[3], hidden_activations=["tanh"],
                       output_size=2, output_activation="softmax", cost="cross-entropy")
    return ModelFile(network=Network(spec, seed=seed), class_names=["no", "yes"])


def state(step: int) -> tuple[dict, dict]:
    return trainer_state([4, 3, 2], "momentum", step)


def project(name: str = "p") -> Project:
    return Project(name=name, designer={"layers": [[3, "tanh"]], "output": "softmax"},
                   training={"lr": 0.1, "epochs": 2, "optimizer": "momentum"})


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def saved(tmp_path) -> Path:
    """Set A: a project saved with its model (seed 1) and state (step 90)."""
    return save_project(tmp_path / "p.dnnproj", project(), model(1), state(90))


def test_the_three_files_carry_one_generation_and_open_together(saved):
    opened = open_project(saved)
    assert opened.notes == []
    g = opened.project.generation
    assert g and opened.model.generation == g
    assert opened.state[0]["step_count"] == 90
    assert sorted(os.listdir(saved.parent)) == ["p.dnnproj", "p.model.npz", "p.state.npz"]


def test_a_project_saved_through_a_link_keeps_its_set_beside_the_real_file(tmp_path):
    """Issue 21 re-test: saving l.dnnproj -> real/p.dnnproj wrote the project through the
    link but its model and state beside the link, so real/p.dnnproj no longer opened."""
    (tmp_path / "real").mkdir()
    real = save_project(tmp_path / "real" / "p.dnnproj", project(), model(1), state(90))
    link = tmp_path / "l.dnnproj"
    link.symlink_to(real)
    save_project(link, project(), model(2), state(180))
    assert link.is_symlink() and sorted(os.listdir(tmp_path)) == ["l.dnnproj", "real"]
    assert sorted(os.listdir(real.parent)) == ["p.dnnproj", "p.model.npz", "p.state.npz"]
    for path in (real, link):  # one set, whichever name opens it
        opened = open_project(path)
        assert opened.notes == [] and opened.state[0]["step_count"] == 180
        np.testing.assert_array_equal(opened.model.network.W[0], model(2).network.W[0])


# ------------------------------------------------------------------ all-or-nothing (item 2)
@pytest.mark.parametrize("failing", ["state", "model", "project"])
def test_a_save_that_fails_on_any_file_leaves_the_old_set_whole(saved, monkeypatch, failing):
    before = files(saved.parent)
    real_savez = np.savez

    def full_disk(f, *args, **kwargs):
        if ("state" in kwargs) == (failing == "state"):
            raise OSError(28, "No space left on device")
        return real_savez(f, *args, **kwargs)

    if failing == "project":
        real_replace = os.replace

        def replace(src, dst):
            if Path(dst).name == "p.dnnproj" and Path(src).name.startswith(".p.dnnproj."):
                raise OSError(28, "No space left on device")
            return real_replace(src, dst)
        monkeypatch.setattr(atomic.os, "replace", replace)
    else:
        monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space"):
        save_project(saved, project(), model(2), state(180))
    monkeypatch.undo()
    assert files(saved.parent) == before  # the same three files, byte for byte, nothing else
    assert open_project(saved).notes == []


def test_saving_without_a_state_removes_the_old_one_with_the_set(saved):
    save_project(saved, project(), model(2), None)
    assert not state_file_path(saved).exists()
    opened = open_project(saved)
    assert opened.state is None and opened.notes == []


def test_a_recovery_autosave_without_a_model_drops_the_old_model_too(tmp_path):
    store = RecoveryStore(tmp_path)
    store.write(project(), model(1), state=state(5))
    assert store.model_path.exists() and state_file_path(store.project_path).exists()
    store.write(project(), None)
    assert not store.model_path.exists() and not state_file_path(store.project_path).exists()


# ------------------------------------------------------------------ generations (item 4)
def mixed(saved: Path, which: str) -> None:
    """Put the model or the state of another save (set B) beside set A's project."""
    (saved.parent / "b").mkdir()
    other = save_project(saved.parent / "b" / "p.dnnproj", project(), model(2), state(180))
    name = model_file_name(saved) if which == "model" else state_file_path(saved).name
    (saved.parent / name).write_bytes((other.parent / name).read_bytes())


def test_a_state_of_another_save_is_left_out_and_said(saved):
    mixed(saved, "state")
    opened = open_project(saved)
    assert opened.model is not None and opened.state is None
    [note] = opened.notes
    assert "p.state.npz belongs to another save" in note and "left out" in note
    assert "p.dnnproj" in note


def test_a_model_of_another_save_is_left_out_with_its_state_and_said(saved):
    mixed(saved, "model")
    opened = open_project(saved)
    assert opened.model is None and opened.state is None and opened.project.model is None
    [note] = opened.notes
    assert "p.model.npz belongs to another save" in note and "kept as it is" in note
    assert load_model(saved.parent / "p.model.npz")  # the file is not touched


def test_files_without_a_generation_match_a_project_without_one(tmp_path):
    """Projects saved before generations existed still open whole."""
    from desktop_nn.io.model_file import save_model
    from desktop_nn.io.trainer_state import save_trainer_state

    path = tmp_path / "old.dnnproj"
    save_model(tmp_path / "old.model.npz", model(1))
    save_trainer_state(state_file_path(path), *state(3))
    path.write_text(json.dumps({"format": "desktop-nn-project", "format_version": 1,
                                "name": "old", "designer": {}, "data": {}, "training": {},
                                "model": "old.model.npz"}))
    opened = open_project(path)
    assert opened.notes == [] and opened.model is not None and opened.state is not None


KILLED_SAVE = """
import os, sys
import numpy as np
sys.path.insert(0, sys.argv[3])
from test_project_sets import model, project, state
from desktop_nn.io import atomic
from desktop_nn.io.project_file import save_project
path, stop_after = sys.argv[1], int(sys.argv[2])
real, done = os.replace, []
def replace(src, dst):
    real(src, dst)
    done.append(dst)
    if len(done) == stop_after:
        os._exit(9)  # killed between two renames
atomic.os.replace = replace
save_project(path, project(), model(2), state(180))
"""


@pytest.mark.parametrize("stop_after", [1, 2])
def test_a_save_killed_between_two_renames_is_caught_on_open(saved, stop_after):
    """Killed after the new state (1) or the new state and model (2) were moved into place:
    the old project is there, and what does not belong to it is left out, with a note."""
    subprocess.run([sys.executable, "-c", KILLED_SAVE, str(saved), str(stop_after),
                    str(Path(__file__).parent)], check=False)
    opened = open_project(saved)
    assert opened.state is None and len(opened.notes) == 1
    assert "belongs to another save" in opened.notes[0]
    assert (opened.model is not None) == (stop_after == 1)  # 1: the old model is still its


def test_an_autosave_killed_between_two_renames_is_caught_on_recovery(tmp_path):
    store = RecoveryStore(tmp_path)
    store.write(project(), model(1), state=state(90))
    subprocess.run([sys.executable, "-c", KILLED_SAVE, str(store.project_path), "2",
                    str(Path(__file__).parent)], check=False)
    assert store.pending() is not None  # still offered: the settings are worth having
    recovered = store.open()
    assert recovered.model is None and recovered.state is None
    assert "recovery.model.npz belongs to another save" in recovered.notes[0]
    project_back, model_back = store.restore()
    assert model_back is None and project_back.name == "p"


# ------------------------------------------------------------------ not regular files (item 6)
def returns_within(seconds: float, fn, *args):
    out: list = []
    t = threading.Thread(target=lambda: out.append(_outcome(fn, *args)), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn.__name__} hangs"
    return out[0]


def _outcome(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 (the test looks at what came out)
        return exc


fifo_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@fifo_only
@pytest.mark.parametrize("which", ["state", "model", "project"])
def test_a_fifo_in_a_project_is_refused_without_hanging(saved, which):
    target = {"state": state_file_path(saved), "model": saved.parent / "p.model.npz",
              "project": saved}[which]
    target.unlink()
    os.mkfifo(target)
    got = returns_within(5, open_project, saved)
    assert isinstance(got, ProjectFileError), got
    assert target.name in str(got) and "named pipe" in str(got)


@fifo_only
def test_a_fifo_as_the_recovery_marker_is_ignored_without_hanging(tmp_path):
    store = RecoveryStore(tmp_path)
    store.write(project(), None)
    store.marker_path.unlink()
    os.mkfifo(store.marker_path)
    assert returns_within(5, store.pending) is None


# ------------------------------------------------------------------ settings (items 10, 15)
BAD_SETTINGS = {
    "training.lr": ("training", "lr", float("nan")),
    "training.epochs": ("training", "epochs", 10**30),
    "training.batch": ("training", "batch", 1e30),
    "training.optimizer": ("training", "optimizer", "rmsprop"),
    "training.device": ("training", "device", "tpu"),
    "training.seed": ("training", "seed", -1),
    "data.val_split": ("data", "val_split", 5),
    "data.size": ("data", "size", 28),
    "data.normalisation": ("data", "normalisation", "zscore"),
    "designer.output": ("designer", "output", "relu"),
    "designer.layers[1] units": ("designer", "layers", [[10**9, "relu"]]),
    "designer.layers[1] activation": ("designer", "layers", [[30, "swish"]]),
    "designer.layers has 3000": ("designer", "layers", [[1, "relu"]] * 3000),
}


def write_settings(path: Path, changes: list[tuple[str, str, object]]) -> Path:
    doc = {"format": "desktop-nn-project", "format_version": 1, "name": "p",
           "designer": {}, "data": {}, "training": {}, "model": None}
    for section, key, value in changes:
        doc[section][key] = value
    path.write_text(json.dumps(doc))  # json writes NaN as NaN, as a hand edit might
    return path


@pytest.mark.parametrize("named", list(BAD_SETTINGS))
def test_a_bad_setting_is_refused_naming_it(tmp_path, named):
    path = write_settings(tmp_path / "p.dnnproj", [BAD_SETTINGS[named]])
    with pytest.raises(ProjectFileError) as info:
        load_project(path)
    assert "p.dnnproj" in str(info.value) and named in str(info.value)


def test_every_bad_setting_is_listed_in_one_message(tmp_path):
    changes = [v for k, v in BAD_SETTINGS.items() if not k.startswith("designer.layers")]
    path = write_settings(tmp_path / "p.dnnproj", changes)
    with pytest.raises(ProjectFileError) as info:
        load_project(path)
    lines = [line for line in str(info.value).splitlines() if line.startswith("- ")]
    assert len(lines) == len(changes)


def test_what_the_window_saves_passes_and_missing_values_are_fine(tmp_path):
    from desktop_nn.io.project_settings import check_project_settings

    # what the widgets can hold: 0 units and a size the user typed are shown as they are, and
    # the panels say what is wrong with them
    good = Project(designer={"layers": [[30, "sigmoid"], [0, "relu"]], "output": "softmax",
                             "cost": "cross-entropy", "init": "he"},
                   data={"folder": "", "size": "28 by 28", "color": "auto", "resize": "stretch",
                         "val_split": 0.9, "normalisation": "standardise"},
                   training={"lr": 0.00001, "epochs": 100_000, "batch": 0,
                             "optimizer": "adam", "l2": 0.0, "seed": 2**31 - 1,
                             "device": "auto", "dtype": "float64"})
    assert check_project_settings(good) == []
    assert check_project_settings(Project()) == []
    assert check_project_settings(Project(designer={"output": "linear",
                                                    "cost": "cross-entropy"})) == [
        "designer.cost 'cross-entropy' does not go with the linear output (use quadratic)"]


# ------------------------------------------------------------------ bad values in the state
def _drop(key: str):
    return lambda s, a: (s, {k: v for k, v in a.items() if k != key})


def _set(**changes):
    def change(s, a):
        s = json.loads(json.dumps(s))
        for path, value in changes.items():
            *outer, last = path.split("__")
            d = s
            for k in outer:
                d = d[k]
            if value is DEL:
                d.pop(last)
            else:
                d[last] = value
        return s, a
    return change


DEL = object()
BAD_STATES = {
    "an optimiser array missing": _drop("v/b/1"),
    "epoch Infinity": _set(epoch=float("inf")),
    "epoch NaN": _set(epoch=float("nan")),
    "epoch 1.5": _set(epoch=1.5),
    "negative step count": _set(step_count=-3),
    "examples seen missing": _set(examples_seen=DEL),
    "batch in epoch -1": _set(batch_in_epoch=-1),
    "optimiser t -1": _set(optimizer__t=-1),
    "optimiser t a string": _set(optimizer__t="5"),
    "optimiser unknown": _set(optimizer__name="rmsprop"),
    "optimiser missing": _set(optimizer=DEL),
    "rng state -1": _set(rng__state__state=-1),
    "rng of another generator": _set(rng__bit_generator="MT19937"),
    "rng a number": _set(rng=5),
    "rng inc 1.5": _set(rng__state__inc=1.5),
    "an array of another optimiser": lambda s, a: (s, {**a, "s/W/0": np.ones((3, 4))}),
    "an array of the wrong shape": lambda s, a: (s, {**a, "v/W/0": np.ones((4, 3))}),
    "an array for a layer the model lacks": lambda s, a: (s, {**a, "v/W/2": np.ones((2, 2)),
                                                               "v/b/2": np.ones((2, 1))}),
    "an array with NaN": lambda s, a: (s, {**a, "v/b/0": np.full((3, 1), np.nan)}),
}


@pytest.mark.parametrize("bad", sorted(BAD_STATES))
def test_a_state_a_run_cannot_continue_from_is_left_out_and_said(saved, bad):
    """Refused on open, as a state of another save is, never at Start with a raw error."""
    from desktop_nn.io.trainer_state import save_trainer_state

    generation = load_project(saved).generation
    save_trainer_state(state_file_path(saved), *BAD_STATES[bad](*state(90)), generation)
    opened = open_project(saved)
    assert opened.model is not None and opened.state is None
    [note] = opened.notes
    assert str(state_file_path(saved)) in note and "training state was left out" in note
    assert "cannot continue" in note


def test_a_state_left_out_on_recovery_keeps_the_model(tmp_path):
    from desktop_nn.io.trainer_state import save_trainer_state

    store = RecoveryStore(tmp_path)
    store.write(project(), model(1), state=state(90))
    generation = load_project(store.project_path).generation
    save_trainer_state(state_file_path(store.project_path),
                       *BAD_STATES["optimiser t -1"](*state(90)), generation)
    recovered = store.open()
    assert recovered.model is not None and recovered.state is None
    assert "recovery.state.npz" in recovered.notes[0]
