"""Project files (.dnnproj), autosave recovery and the recent-projects list."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import desktop_nn
from desktop_nn.io import project_file as pj
from desktop_nn.io.model_file import ModelFile, save_model
from desktop_nn.io.project_file import (
    Project,
    ProjectFileError,
    load_project,
    load_project_model,
    save_project,
)
from desktop_nn.io.recent_projects import add_recent, existing_recent
from desktop_nn.io.recovery import RecoveryStore, default_recovery_dir
from desktop_nn.nn.network import Network, NetworkSpec


def make_model(seed: int = 1) -> ModelFile:
    """A tiny 4 -> 3 -> 2 softmax network with non-zero biases."""
    spec = NetworkSpec(input_size=4, hidden_sizes=[3], hidden_activations=["tanh"],
                       output_size=2, output_activation="softmax", cost="cross-entropy")
    net = Network(spec, dtype="float32", seed=seed)
    W, b = net.get_parameters()
    rng = np.random.default_rng(seed)
    net.set_parameters(W, [rng.normal(size=x.shape) for x in b])
    return ModelFile(network=net, class_names=["no", "yes"], input_shape=(2, 2, 1))


def make_project(data_folder: str = "") -> Project:
    return Project(
        name="digits ü",
        designer={"layers": [[30, "relu"], [10, "tanh"]], "output": "softmax",
                  "cost": "cross-entropy", "init": "he"},
        data={"folder": data_folder, "size": "auto", "color": "gray", "resize": "stretch",
              "val_split": 0.1},
        training={"lr": 0.1, "epochs": 5, "batch": 32, "optimizer": "adam", "l2": 0.0,
                  "seed": 0, "device": "auto", "dtype": "float32"},
        runs=[{"epochs": 5, "val_accuracy": 0.93}],
    )


def write_doc(path: Path, **changes) -> Path:
    """A valid project document with some top-level keys changed (None value: removed)."""
    doc = {"format": "desktop-nn-project", "format_version": 1, "name": "p",
           "designer": {}, "data": {}, "training": {}, "model": None, "runs": []}
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def assert_same_model(a: ModelFile, b: ModelFile) -> None:
    assert a.network.spec == b.network.spec
    assert a.class_names == b.class_names and a.input_shape == b.input_shape
    for xs, ys in zip(a.network.get_parameters(), b.network.get_parameters(), strict=True):
        for x, y in zip(xs, ys, strict=True):
            np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------------- round trip
def test_round_trip_keeps_every_field(tmp_path):
    project = make_project(data_folder="/somewhere/else/images")
    path = save_project(tmp_path / "a.dnnproj", project)
    loaded = load_project(path)
    for key in ("name", "designer", "data", "training", "runs"):
        assert getattr(loaded, key) == getattr(project, key), key
    assert loaded.model is None
    assert loaded.app_version == desktop_nn.__version__
    assert loaded.created and loaded.saved and loaded.created.endswith("+00:00")

    save_project(path, loaded)  # a second save keeps "created"
    again = load_project(path)
    assert again.created == loaded.created
    assert again.generation and again.generation != loaded.generation  # each save its own
    assert {k: v for k, v in vars(again).items() if k not in ("saved", "generation")} == \
        {k: v for k, v in vars(loaded).items() if k not in ("saved", "generation")}


def test_file_is_strict_json_with_the_documented_keys(tmp_path):
    project = make_project()
    project.runs = [{"val_cost": float("nan"), "acc": np.float32(0.5), "shape": (2, 3)}]
    path = save_project(tmp_path / "a.dnnproj", project)
    doc = json.loads(path.read_text(encoding="utf-8"))  # strict: NaN became null
    assert doc["format"] == "desktop-nn-project" and doc["format_version"] == 1
    assert set(doc) == {"format", "format_version", "name", "designer", "data", "training",
                        "model", "runs", "created", "saved", "app_version", "generation"}
    assert doc["runs"] == [{"val_cost": None, "acc": 0.5, "shape": [2, 3]}]


def test_unsavable_field_is_refused_naming_the_file(tmp_path):
    project = make_project()
    project.training["callback"] = object()
    with pytest.raises(ValueError, match=r"a\.dnnproj.*training\.callback"):
        save_project(tmp_path / "a.dnnproj", project)
    project = make_project()
    project.designer = ["not", "a", "dict"]
    with pytest.raises(ValueError, match="'designer' must be a dict"):
        save_project(tmp_path / "a.dnnproj", project)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- model
def test_model_is_saved_beside_and_reloaded_equal(tmp_path):
    model = make_model()
    path = save_project(tmp_path / "exp.dnnproj", make_project(), model)
    assert (tmp_path / "exp.model.npz").is_file()
    loaded = load_project(path)
    assert loaded.model == "exp.model.npz"
    assert_same_model(load_project_model(loaded, path), model)


def test_saving_without_model_drops_the_reference(tmp_path):
    path = save_project(tmp_path / "exp.dnnproj", make_project(), make_model())
    save_project(path, load_project(path), None)
    loaded = load_project(path)
    assert loaded.model is None
    assert load_project_model(loaded, path) is None


def test_missing_model_file_is_named(tmp_path):
    path = save_project(tmp_path / "exp.dnnproj", make_project(), make_model())
    (tmp_path / "exp.model.npz").unlink()
    with pytest.raises(ProjectFileError, match=r"exp\.dnnproj.*exp\.model\.npz does not exist"):
        load_project_model(load_project(path), path)


def test_bad_model_file_quotes_the_model_error(tmp_path):
    path = save_project(tmp_path / "exp.dnnproj", make_project(), make_model())
    (tmp_path / "exp.model.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ProjectFileError,
                       match=r"exp\.model\.npz cannot be loaded: .*not an \.npz"):
        load_project_model(load_project(path), path)


@pytest.mark.parametrize("ref", ["../x.npz", "sub/../../x.npz", "/etc/passwd",
                                 "C:\\models\\x.npz", "..\\x.npz"])
def test_model_reference_leaving_the_folder_is_refused(tmp_path, ref):
    path = write_doc(tmp_path / "evil.dnnproj", model=ref)
    with pytest.raises(ProjectFileError, match=r"evil\.dnnproj.*outside the project folder"):
        load_project(path)
    with pytest.raises(ProjectFileError, match="outside the project folder"):
        load_project_model(Project(model=ref), path)


# ---------------------------------------------------------------------------- data folder
def test_relative_data_folder_survives_moving_the_project_folder(tmp_path):
    folder = tmp_path / "proj"
    (folder / "images" / "cats").mkdir(parents=True)
    given = str(folder / "images")
    save_project(folder / "p.dnnproj", make_project(data_folder=given))
    doc = json.loads((folder / "p.dnnproj").read_text(encoding="utf-8"))
    assert doc["data"]["folder"] == given and doc["data"]["folder_relative"] == "images"
    assert load_project(folder / "p.dnnproj").data["folder"] == given

    moved = tmp_path / "elsewhere" / "proj2"
    shutil.copytree(folder, moved)
    shutil.rmtree(folder)
    data = load_project(moved / "p.dnnproj").data
    assert data["folder"] == str(moved / "images")
    assert "folder_relative" not in data


def test_data_folder_outside_the_project_is_kept_as_given(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "proj").mkdir()
    given = str(tmp_path / "data")
    path = save_project(tmp_path / "proj" / "p.dnnproj", make_project(data_folder=given))
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert "folder_relative" not in doc["data"]
    assert load_project(path).data["folder"] == given


def test_missing_relative_folder_falls_back_to_the_given_one(tmp_path):
    (tmp_path / "images").mkdir()
    path = save_project(tmp_path / "p.dnnproj", make_project(str(tmp_path / "images")))
    (tmp_path / "images").rmdir()
    assert load_project(path).data["folder"] == str(tmp_path / "images")


@pytest.mark.parametrize("folder", ["", "sample", "toy:spiral,n=300"])
def test_special_data_sources_get_no_relative_path(tmp_path, folder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / (folder or "sample")).mkdir()  # a folder so named is not the data
    path = save_project(tmp_path / "p.dnnproj", make_project(folder))
    assert "folder_relative" not in json.loads(path.read_text(encoding="utf-8"))["data"]
    assert load_project(path).data["folder"] == folder


# ---------------------------------------------------------------------------- refusals
def test_missing_file(tmp_path):
    with pytest.raises(ProjectFileError, match=r"nope\.dnnproj does not exist"):
        load_project(tmp_path / "nope.dnnproj")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ProjectFileError, match="is not a file"):
        load_project(tmp_path)


def test_not_json_says_where(tmp_path):
    path = tmp_path / "bad.dnnproj"
    path.write_text('{\n  "format": "desktop-nn-project",\n  oops\n}', encoding="utf-8")
    with pytest.raises(ProjectFileError, match=r"bad\.dnnproj is not valid JSON.*line 3, "
                                               r"column 3"):
        load_project(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "bin.dnnproj"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProjectFileError, match=r"bin\.dnnproj is not UTF-8"):
        load_project(path)


def test_not_an_object(tmp_path):
    path = tmp_path / "list.dnnproj"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ProjectFileError, match=r"list\.dnnproj is not a desktop-nn project.*"
                                               "a list, not an object"):
        load_project(path)


def test_wrong_format(tmp_path):
    path = write_doc(tmp_path / "other.dnnproj", format="something-else")
    with pytest.raises(ProjectFileError, match=r"other\.dnnproj is not a desktop-nn project "
                                               r"\(format is 'something-else'"):
        load_project(path)


def test_newer_format_version(tmp_path):
    path = write_doc(tmp_path / "new.dnnproj", format_version=2)
    with pytest.raises(ProjectFileError, match=r"new\.dnnproj was written by a newer "
                                               "desktop-nn.*version 2 > 1"):
        load_project(path)


def test_invalid_format_version(tmp_path):
    path = write_doc(tmp_path / "v.dnnproj", format_version="1")
    with pytest.raises(ProjectFileError, match=r"v\.dnnproj: invalid format_version '1'"):
        load_project(path)


@pytest.mark.parametrize(("changes", "message"), [
    ({"designer": None}, "the field 'designer' is missing"),
    ({"name": None}, "the field 'name' is missing"),
    ({"data": [1]}, "'data' must be an object, got a list"),
    ({"training": "fast"}, "'training' must be an object, got a string"),
    ({"designer": None, "training": 3}, "the field 'designer' is missing"),
    ({"name": 7}, "'name' must be a string, got a number"),
    ({"runs": {"a": 1}}, "'runs' must be a list of objects"),
    ({"runs": [1, 2]}, "'runs' must be a list of objects"),
    ({"model": 5}, "'model' must be a file name or null"),
    ({"created": 5}, "'created' must be a string or null"),
    ({"data": {"folder": 3}}, "'data.folder' must be a string"),
])
def test_missing_or_ill_typed_fields(tmp_path, changes, message):
    path = write_doc(tmp_path / "f.dnnproj", **changes)
    with pytest.raises(ProjectFileError, match=r"f\.dnnproj: " + message.replace(".", r"\.")):
        load_project(path)


def test_optional_fields_may_be_absent(tmp_path):
    path = write_doc(tmp_path / "min.dnnproj", model=None, runs=None)
    loaded = load_project(path)
    assert loaded.model is None and loaded.runs == [] and loaded.created is None


def test_too_large_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.dnnproj"
    with open(path, "wb") as f:  # sparse: 11 MB on paper, nothing written
        f.truncate(11 * 1024 * 1024)
    with pytest.raises(ProjectFileError, match=r"huge\.dnnproj is too large .*10 MB"):
        load_project(path)


def test_size_limit_applies_to_ordinary_files(tmp_path):
    path = write_doc(tmp_path / "p.dnnproj")
    with pytest.raises(ProjectFileError, match=r"p\.dnnproj is too large"):
        pj._read_text(path, limit=10)


# ---------------------------------------------------------------------------- atomic writes
def test_write_leaves_no_temporary_files(tmp_path):
    save_project(tmp_path / "p.dnnproj", make_project(), make_model())
    save_project(tmp_path / "p.dnnproj", make_project(), make_model())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.dnnproj", "p.model.npz"]


def test_failed_write_keeps_the_existing_project(tmp_path, monkeypatch):
    path = save_project(tmp_path / "p.dnnproj", make_project())
    before = path.read_bytes()
    changed = make_project()
    changed.name = "changed"

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_project(path, changed)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.dnnproj"]


def test_keeps_file_permissions(tmp_path):
    path = save_project(tmp_path / "p.dnnproj", make_project())
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
        os.chmod(path, 0o640)
        save_project(path, make_project())
        assert path.stat().st_mode & 0o777 == 0o640


# ---------------------------------------------------------------------------- recovery
def test_recovery_write_pending_restore_clear(tmp_path):
    store = RecoveryStore(tmp_path / "rec")
    assert store.pending() is None
    original = tmp_path / "work" / "p.dnnproj"
    model = make_model()
    store.write(make_project(), model, original=original)
    info = store.pending()
    assert info is not None
    assert info.original == original and info.project_path == store.project_path
    assert info.pid == os.getpid() and info.name == "digits ü" and info.has_model
    assert info.saved.endswith("+00:00")

    project, restored = store.restore()
    assert project.designer == make_project().designer
    assert_same_model(restored, model)

    store.clear()
    assert store.pending() is None
    assert not (tmp_path / "rec").exists()  # the emptied session folder goes too
    store.clear()  # clearing twice is fine


def test_recovery_of_an_unsaved_project_from_a_dict(tmp_path):
    store = RecoveryStore(tmp_path)
    store.write({"name": "new", "designer": {"a": 1}, "data": {}, "training": {}}, None)
    info = store.pending()
    assert info is not None and info.original is None and not info.has_model
    assert store.restore() == (load_project(store.project_path), None)


def test_recovery_without_model_removes_the_old_one(tmp_path):
    store = RecoveryStore(tmp_path)
    store.write(make_project(), make_model())
    assert store.model_path.is_file()
    store.write(make_project(), None)
    assert not store.model_path.exists()
    assert not store.pending().has_model


@pytest.mark.parametrize("damage", ["marker-garbage", "marker-missing", "marker-wrong",
                                    "project-garbage", "project-missing", "marker-long-integer",
                                    "project-long-integer"])
def test_damaged_recovery_is_ignored(tmp_path, damage):
    store = RecoveryStore(tmp_path)
    store.write(make_project(), None)
    if damage.endswith("long-integer"):  # json's int() refuses over 4300 digits (ValueError)
        p = store.marker_path if damage.startswith("marker") else store.project_path
        p.write_text(p.read_text().replace('"format"', f'"x": {"7" * 5000}, "format"', 1))
    elif damage == "marker-garbage":
        store.marker_path.write_bytes(b"\x00\xff{{{")
    elif damage == "marker-missing":
        store.marker_path.unlink()
    elif damage == "marker-wrong":
        store.marker_path.write_text('{"format": "desktop-nn-recovery", "pid": "x"}')
    elif damage == "project-garbage":
        store.project_path.write_text("{ not json")
    else:
        store.project_path.unlink()
    assert store.pending() is None
    store.clear()


def test_damaged_recovered_model_is_dropped_not_fatal(tmp_path):
    store = RecoveryStore(tmp_path)
    store.write(make_project(), make_model())
    store.model_path.write_bytes(b"junk")
    assert store.pending() is not None
    project, model = store.restore()
    assert model is None and project.model is None and project.name == "digits ü"


@pytest.mark.skipif(os.name != "posix", reason="live-process check is POSIX only")
def test_recovery_of_a_running_session_is_not_offered(tmp_path):
    store = RecoveryStore(tmp_path)
    store.write(make_project(), None)
    marker = json.loads(store.marker_path.read_text())
    marker["pid"] = os.getppid()  # alive: another window's autosave, not a crash
    store.marker_path.write_text(json.dumps(marker))
    assert store.pending() is None


def test_default_recovery_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DESKTOP_NN_RECOVERY_DIR", str(tmp_path / "r"))
    assert default_recovery_dir() == tmp_path / "r"
    assert RecoveryStore().directory == tmp_path / "r"
    monkeypatch.delenv("DESKTOP_NN_RECOVERY_DIR")
    d = default_recovery_dir()
    assert d.name == "recovery" and d.parent.name == "desktop-nn"


# ---------------------------------------------------------------------------- recent
def test_add_recent_order_dedup_limit(tmp_path):
    a, b, c = (str(tmp_path / f"{n}.dnnproj") for n in "abc")
    recent = add_recent([], a)
    recent = add_recent(recent, b)
    assert recent == [b, a]
    assert add_recent(recent, a) == [a, b]
    assert add_recent(recent, str(tmp_path / "x" / ".." / "a.dnnproj")) == [a, b]
    many = [str(tmp_path / f"{i}.dnnproj") for i in range(20)]
    assert add_recent(many, c, limit=8) == [c, *many[:7]]
    assert add_recent([a, a, b], c) == [c, a, b]


def test_add_recent_makes_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert add_recent(None, "p.dnnproj") == [str(tmp_path / "p.dnnproj")]
    assert add_recent(str(tmp_path / "a"), Path("b")) == [str(tmp_path / "b"),
                                                          str(tmp_path / "a")]


def test_existing_recent_keeps_only_existing_files(tmp_path):
    a = save_project(tmp_path / "a.dnnproj", make_project())
    gone = str(tmp_path / "gone.dnnproj")
    assert existing_recent([gone, str(a), str(tmp_path)]) == [str(a)]
    assert existing_recent(None) == [] and existing_recent(str(a)) == [str(a)]


def test_importing_the_modules_loads_no_qt():
    code = ("import sys, desktop_nn.io.project_file, desktop_nn.io.recovery, "
            "desktop_nn.io.recent_projects; "
            "sys.exit(any(m.split('.')[0] in ('PySide6', 'pyqtgraph') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_model_saved_by_hand_is_found(tmp_path):
    """A project whose model reference was written by another tool beside it still loads."""
    save_model(tmp_path / "m.npz", make_model())
    path = write_doc(tmp_path / "p.dnnproj", model="m.npz")
    assert load_project_model(load_project(path), path) is not None


# ---------------------------------------------------------------------------- training state
def test_training_state_beside_the_project_round_trips_and_is_removed_when_none(tmp_path):
    from desktop_nn.io.project_file import load_project_state, state_file_path

    path = tmp_path / "p.dnnproj"
    assert load_project_state(path) is None
    from npz_factory import trainer_state

    state, arrays = trainer_state([4, 3, 2], "momentum", 10)
    save_project(path, make_project(), make_model(), (state, arrays))
    assert state_file_path(path).name == "p.state.npz"
    got_state, got_arrays = load_project_state(path, load_project(path))
    assert got_state == state
    np.testing.assert_array_equal(got_arrays["v/W/0"], arrays["v/W/0"])
    save_project(path, make_project(), make_model(), None)
    assert load_project_state(path) is None


def test_damaged_training_state_is_refused_naming_the_file(tmp_path):
    from desktop_nn.io.project_file import load_project_state, state_file_path

    path = tmp_path / "p.dnnproj"
    state_file_path(path).write_bytes(b"junk")
    with pytest.raises(ProjectFileError, match="p.state.npz"):
        load_project_state(path)


def test_each_session_has_its_own_store_and_only_dead_sessions_are_pending(tmp_path):
    from desktop_nn.io.recovery import pending_recoveries, session_store

    mine = session_store(tmp_path)
    other = session_store(tmp_path)
    assert mine.directory.name.startswith(f"session-{os.getpid()}-")
    assert mine.directory != other.directory  # a reused process id is another session
    crashed = RecoveryStore(tmp_path / "session-1-dead")  # wrote, then its process died
    crashed.write(Project(name="old"))
    alive = session_store(tmp_path)  # a running session: it holds its folder's lock
    alive.write(Project(name="alive"))
    found = pending_recoveries(tmp_path)
    assert [info.name for _, info in found] == ["old"]
    alive.clear()  # a clean close: folder and lock gone
    assert not alive.directory.exists()
    assert pending_recoveries(tmp_path / "missing") == []


def test_an_autosave_written_before_session_folders_is_still_offered(tmp_path):
    from desktop_nn.io.recovery import pending_recoveries

    old = RecoveryStore(tmp_path)  # versions before per-session folders wrote here
    old.write(Project(name="older"))
    marker = json.loads(old.marker_path.read_text())
    marker["pid"] = 999_999_999  # its process is gone
    old.marker_path.write_text(json.dumps(marker))
    found = pending_recoveries(tmp_path)
    assert [info.name for _, info in found] == ["older"]
    found[0][0].clear()
    assert pending_recoveries(tmp_path) == [] and not old.marker_path.exists()


def test_a_dead_sessions_folder_with_nothing_to_recover_is_removed(tmp_path):
    from desktop_nn.io.recovery import SESSION_LOCK, pending_recoveries

    empty = tmp_path / "session-999999999-deadbeef"  # crashed before its first autosave
    empty.mkdir()
    (empty / SESSION_LOCK).touch()
    damaged = RecoveryStore(tmp_path / "session-999999998-cafef00d")
    damaged.write(Project(name="damaged"))
    damaged.marker_path.write_text("{not json")
    # sessions that may be between mkdir and lock: this process, and another running one
    mine = tmp_path / f"session-{os.getpid()}-0000abcd"
    parent = tmp_path / f"session-{os.getppid()}-0000abce"
    for folder in (mine, parent):
        folder.mkdir()
    assert pending_recoveries(tmp_path) == []
    assert not empty.exists()
    assert damaged.project_path.exists()  # a damaged autosave is left alone, never deleted
    assert mine.exists() and parent.exists()


# ---------------------------------------------------------------------------- unusable folders
def _unusable(kind: str, tmp_path: Path) -> Path:
    if kind == "a file":
        (tmp_path / "recfile").write_text("not a folder")
        return tmp_path / "recfile" / "session-1-x"
    return Path("/dev/null/x/session-1-x")


@pytest.mark.parametrize("kind", ["a file", "/dev/null"])
def test_an_unusable_recovery_folder_fails_the_write_and_clears_quietly(tmp_path, caplog, kind):
    """Autosave raises (the window tells the user once); clearing prints nothing: there is
    nothing to remove in a folder that was never made."""
    store = RecoveryStore(_unusable(kind, tmp_path), lock=True)
    with pytest.raises(OSError):
        store.write(make_project(), make_model())
    with caplog.at_level("DEBUG", logger="desktop_nn"):
        store.clear()
        store.clear()
    assert caplog.records == []


def test_recovery_files_that_cannot_be_removed_are_logged_once_quietly(tmp_path, caplog,
                                                                       monkeypatch):
    store = RecoveryStore(tmp_path / "session-1-x")
    store.write(make_project(), make_model())
    real_unlink = Path.unlink

    def refuse(self, missing_ok=False):
        if self.parent == store.directory:
            raise PermissionError(13, "Permission denied", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    with caplog.at_level("DEBUG", logger="desktop_nn"):
        store.clear()
        store.clear()
    [record] = caplog.records
    assert record.levelname == "INFO" and "recovery.dnnproj (Permission denied)" in \
        record.getMessage()
