"""Saving and loading trained networks as pickle-free .npz files."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import desktop_nn
from desktop_nn.io import model_file as mf
from desktop_nn.io.model_file import ModelFile, ModelFileError, load_model, save_model
from desktop_nn.nn.network import Network, NetworkSpec


def make_model(dtype: str = "float32", seed: int = 3) -> ModelFile:
    """A 2-hidden-layer softmax network 12 -> 5 -> 4 -> 3 with every metadata field set."""
    spec = NetworkSpec(input_size=12, hidden_sizes=[5, 4], hidden_activations=["relu", "tanh"],
                       output_size=3, output_activation="softmax", cost="cross-entropy")
    net = Network(spec, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    # non-zero biases, so a lost or swapped b shows up
    net.set_parameters(net.get_parameters()[0],
                       [rng.normal(size=b.shape) for b in net.get_parameters()[1]])
    return ModelFile(
        network=net,
        class_names=["cat", "dog", "café"],
        input_shape=(2, 2, 3),
        flatten_order="channel-planes",
        normalisation={"kind": "standardise", "eps": 1e-8},
        norm_mean=rng.normal(size=(12, 1)),
        norm_std=rng.uniform(0.5, 2.0, size=(12, 1)),
        training={"epochs": 7, "final_accuracy": np.float32(0.875), "optimiser": "adam"},
    )


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    return save_model(tmp_path / "model.npz", make_model())


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def read_header(path: Path) -> dict:
    return json.loads(read_arrays(path)["header"].tobytes().decode("utf-8"))


def rewrite(path: Path, new_header: dict | None = None, drop: tuple[str, ...] = (),
            **arrays: np.ndarray) -> None:
    """Rewrite the .npz at ``path`` with some arrays (or the header) replaced or dropped."""
    current = read_arrays(path)
    if new_header is not None:
        current["header"] = np.frombuffer(json.dumps(new_header).encode(), dtype=np.uint8)
    current.update(arrays)
    for name in drop:
        del current[name]
    np.savez(path, **current)


def assert_refused(path: Path, *fragments: str) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    msg = str(info.value)
    assert path.name in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


# ------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_preserves_everything(tmp_path: Path, dtype: str) -> None:
    model = make_model(dtype)
    out = save_model(tmp_path / "net.npz", model)
    assert out == tmp_path / "net.npz"

    back = load_model(out)
    net, net2 = model.network, back.network
    assert net2.spec == net.spec
    assert net2.dtype == np.dtype(dtype)
    for a, b in zip([*net.get_parameters()[0], *net.get_parameters()[1]],
                    [*net2.get_parameters()[0], *net2.get_parameters()[1]], strict=True):
        assert a.dtype == b.dtype == np.dtype(dtype)
        assert a.tobytes() == b.tobytes()  # bit-identical
    assert back.class_names == ["cat", "dog", "café"]
    assert back.input_shape == (2, 2, 3)
    assert back.flatten_order == "channel-planes"
    assert back.normalisation == {"kind": "standardise", "eps": 1e-8}
    np.testing.assert_array_equal(back.norm_mean, model.norm_mean)
    np.testing.assert_array_equal(back.norm_std, model.norm_std)
    assert back.norm_mean.shape == back.norm_std.shape == (12, 1)
    assert back.training == {"epochs": 7, "final_accuracy": 0.875, "optimiser": "adam"}
    assert back.app_version == desktop_nn.__version__
    assert back.created and back.created.startswith("20")

    X = np.random.default_rng(0).normal(size=(12, 9))
    np.testing.assert_array_equal(net2.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(net2.predict(X), net.predict(X))


def test_minimal_model_and_path_kept_as_given(tmp_path: Path) -> None:
    spec = NetworkSpec(input_size=4, output_size=1, output_activation="sigmoid")
    net = Network(spec, dtype="float64", seed=1)
    out = save_model(tmp_path / "plain", ModelFile(network=net))
    assert out == tmp_path / "plain" and out.exists()
    assert sorted(os.listdir(tmp_path)) == ["plain"]
    back = load_model(out)
    assert back.class_names is None and back.input_shape is None
    assert back.normalisation is None and back.training is None
    assert back.norm_mean is None and back.norm_std is None
    np.testing.assert_array_equal(back.network.W[0], net.W[0])


def test_header_fields(good_file: Path) -> None:
    h = read_header(good_file)
    assert h["format"] == "desktop-nn-model"
    assert h["format_version"] == 1
    assert h["spec"] == make_model().network.spec.to_dict()
    assert h["dtype"] == "float32"
    assert h["input_shape"] == [2, 2, 3]
    assert h["flatten_order"] == "channel-planes"
    assert set(h) >= {"class_names", "normalisation", "training", "created", "app_version"}


def test_file_holds_no_pickled_objects(good_file: Path) -> None:
    arrays = read_arrays(good_file)  # allow_pickle=False: would raise on an object array
    assert set(arrays) == {"W1", "W2", "W3", "b1", "b2", "b3", "header", "norm_mean",
                           "norm_std"}
    for name, a in arrays.items():
        assert a.dtype != object
        assert a.dtype.kind == "f" or a.dtype == np.uint8, (name, a.dtype)
    assert arrays["header"].dtype == np.uint8
    assert arrays["W1"].dtype == np.float32 and arrays["W2"].shape == (4, 5)
    with zipfile.ZipFile(good_file) as z:
        assert all(n.endswith(".npy") for n in z.namelist())


# ------------------------------------------------------------------------- atomic write
def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = save_model(tmp_path / "model.npz", make_model(seed=1))
    before = target.read_bytes()

    def broken_savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip")
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(RuntimeError, match="disk full"):
        save_model(target, make_model(seed=2))
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_failed_replace_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = save_model(tmp_path / "model.npz", make_model(seed=1))
    before = target.read_bytes()

    def broken_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(mf.os, "replace", broken_replace)
    with pytest.raises(OSError, match="rename failed"):
        save_model(target, make_model(seed=2))
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_overwrite_replaces_contents(tmp_path: Path) -> None:
    target = save_model(tmp_path / "model.npz", make_model(seed=1))
    save_model(target, make_model(seed=2))
    np.testing.assert_array_equal(load_model(target).network.W[0],
                                  make_model(seed=2).network.W[0])
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_refuses_inconsistent_models(tmp_path: Path) -> None:
    model = make_model()
    model.class_names = ["a", "b"]
    with pytest.raises(ValueError, match="2 class names"):
        save_model(tmp_path / "m.npz", model)
    model = make_model()
    model.input_shape = (3, 3, 3)
    with pytest.raises(ValueError, match="27 values"):
        save_model(tmp_path / "m.npz", model)
    model = make_model()
    model.network.W[1][0, 0] = np.nan
    with pytest.raises(ValueError, match="W2 contains NaN or inf"):
        save_model(tmp_path / "m.npz", model)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------- refusals
def test_refuses_missing_file(tmp_path: Path) -> None:
    assert_refused(tmp_path / "nowhere.npz", "does not exist")


def test_refuses_truncated_file(good_file: Path) -> None:
    data = good_file.read_bytes()
    good_file.write_bytes(data[: len(data) // 2])
    assert_refused(good_file, "is truncated or not an .npz file")


def test_refuses_damaged_weights(good_file: Path) -> None:
    """One flipped byte inside W1's data: the zip CRC catches it."""
    data = bytearray(good_file.read_bytes())
    with zipfile.ZipFile(good_file) as z:
        info = z.getinfo("W1.npy")
    local = info.header_offset
    name_len = int.from_bytes(data[local + 26:local + 28], "little")
    extra_len = int.from_bytes(data[local + 28:local + 30], "little")
    last = local + 30 + name_len + extra_len + info.file_size - 1
    data[last] ^= 0x01
    good_file.write_bytes(bytes(data))
    assert_refused(good_file, "W1 cannot be read", "truncated or damaged")


def test_refuses_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.npz"
    p.write_bytes(b"")
    assert_refused(p, "is truncated or not an .npz file")


def test_refuses_text_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.npz"
    p.write_text("these are not the weights you are looking for\n" * 20)
    msg = assert_refused(p, "is truncated or not an .npz file")
    assert "allow_pickle" not in msg


def test_refuses_foreign_npz(tmp_path: Path) -> None:
    p = tmp_path / "foreign.npz"
    np.savez(p, x=np.arange(3), y=np.ones((2, 2)))
    assert_refused(p, "is not a desktop-nn model (no header)")


def test_refuses_single_npy(tmp_path: Path) -> None:
    p = tmp_path / "array.npy"
    np.save(p, np.arange(3))
    assert_refused(p, "not a desktop-nn model")


def test_refuses_bad_json_header(good_file: Path) -> None:
    rewrite(good_file, header=np.frombuffer(b'{"format": "desktop-nn-model",', dtype=np.uint8))
    assert_refused(good_file, "header is not valid JSON")


def test_refuses_other_format(good_file: Path) -> None:
    h = read_header(good_file)
    h["format"] = "someone-elses-model"
    rewrite(good_file, new_header=h)
    assert_refused(good_file, "is not a desktop-nn model", "someone-elses-model")


def test_refuses_newer_version(good_file: Path) -> None:
    h = read_header(good_file)
    h["format_version"] = 2
    rewrite(good_file, new_header=h)
    assert_refused(good_file, "was written by a newer desktop-nn (format version 2 > 1)")


def test_refuses_missing_array(good_file: Path) -> None:
    rewrite(good_file, drop=("W2",))
    assert_refused(good_file, "W2 is missing")


def test_refuses_shape_mismatch(good_file: Path) -> None:
    rewrite(good_file, W2=np.zeros((4, 6), dtype=np.float32))
    assert_refused(good_file, "W2 has shape (4, 6) but the spec says (4, 5)")


def test_refuses_bias_shape_mismatch(good_file: Path) -> None:
    rewrite(good_file, b3=np.zeros((3,), dtype=np.float32))
    assert_refused(good_file, "b3 has shape (3,) but the spec says (3, 1)")


def test_refuses_invalid_spec(good_file: Path) -> None:
    h = read_header(good_file)
    h["spec"]["hidden_sizes"] = [5, 0]
    rewrite(good_file, new_header=h)
    assert_refused(good_file, "spec is invalid", "hidden layer 2")


def test_refuses_nan_weights(good_file: Path) -> None:
    W1 = read_arrays(good_file)["W1"].copy()
    W1[1, 2] = np.inf
    rewrite(good_file, W1=W1)
    assert_refused(good_file, "W1 contains NaN or inf")


def test_refuses_wrong_class_name_count(good_file: Path) -> None:
    h = read_header(good_file)
    h["class_names"] = ["only", "two"]
    rewrite(good_file, new_header=h)
    assert_refused(good_file, "2 class names", "3 classes")


def test_class_names_for_one_sigmoid_output(tmp_path: Path) -> None:
    net = Network(NetworkSpec(input_size=3, output_size=1), seed=0)
    path = save_model(tmp_path / "bin.npz", ModelFile(network=net, class_names=["no", "yes"]))
    assert load_model(path).class_names == ["no", "yes"]
    with pytest.raises(ValueError, match="1 class names are given but the network has 2"):
        save_model(path, ModelFile(network=net, class_names=["yes"]))


def test_refuses_object_array_header(tmp_path: Path) -> None:
    p = tmp_path / "pickled.npz"
    np.savez(p, header=np.array([{"format": "desktop-nn-model"}], dtype=object),
             allow_pickle=True)
    assert_refused(p, "header", "pickle")


def test_refuses_object_weight_array(good_file: Path) -> None:
    arrays = read_arrays(good_file)
    arrays["W1"] = np.array([[object()]], dtype=object)
    np.savez(good_file, allow_pickle=True, **arrays)
    assert_refused(good_file, "W1", "pickle")
