"""Model files that lie: members that claim more than the file holds, zip bombs, raw bytes,
deep JSON, bad preprocessing or scaling, and paths that are not regular files. Each is refused
at once with a ModelFileError naming the file, and a model that loads can be used to predict."""

from __future__ import annotations

import json
import os
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from npz_factory import deflated_bomb, json_member, members_of, npy, npy_header, write_npz

from desktop_nn.io.model_file import ModelFile, ModelFileError, load_model, save_model
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.predict import Predictor

PRE = {"image_size": [2, 3], "color": "gray", "resize": "stretch",
       "flatten_order": "channel-planes"}


def image_model(**changes) -> ModelFile:
    """A 6 -> 4 -> 3 softmax model of 2x3 gray images, ready for Predict."""
    spec = NetworkSpec(input_size=6, hidden_sizes=[4], hidden_activations=["relu"],
                       output_size=3, output_activation="softmax", cost="cross-entropy")
    model = ModelFile(network=Network(spec, seed=0), class_names=["a", "b", "c"],
                      input_shape=(2, 3, 1), normalisation={"kind": "scale", "factor": 1 / 255},
                      preprocessing=dict(PRE), training={"epochs": 3, "steps": 30})
    for k, v in changes.items():
        setattr(model, k, v)
    return model


def header_of(path: Path) -> dict:
    raw = members_of(path)["header.npy"]
    return json.loads(np.load(__import__("io").BytesIO(raw)).tobytes())


def with_header(path: Path, **changes) -> Path:
    """Rewrite the file's JSON header with some fields changed (None: removed)."""
    members = members_of(path)
    h = header_of(path)
    for k, v in changes.items():
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    members["header.npy"] = json_member(h)
    return write_npz(path, members)


def refused(path: Path, *fragments: str) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    msg = str(info.value)
    assert path.name in msg, msg
    for f in fragments:
        assert f in msg, msg
    return msg


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return save_model(tmp_path / "model.npz", image_model())


def test_a_good_model_predicts(good):
    Predictor(load_model(good))  # the reference for the refusals below


# ------------------------------------------------------------------ sizes from the headers
def refused_quickly(path: Path, *fragments: str, max_mb: float = 50) -> str:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        msg = refused(path, *fragments)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 2.0
    assert peak < max_mb * 2**20, f"{peak / 2**20:.0f} MiB allocated"
    return msg


def test_a_deflated_bomb_whose_shape_is_wrong_is_refused_before_decompressing(good, tmp_path):
    members = members_of(good)
    path = deflated_bomb(tmp_path / "bomb.npz", "W1.npy", (8192, 8192),
                         extra={k: v for k, v in members.items() if k != "W1.npy"})
    assert path.stat().st_size < 2 * 2**20  # 256 MiB of zeros in under 2 MB
    refused_quickly(path)


def test_a_deflated_bomb_that_fits_its_spec_is_refused_before_decompressing(good, tmp_path):
    """The spec says W1 is (8192, 8192): the header agrees, but a 1 MB file cannot honestly
    hold 256 MiB of weights."""
    h = header_of(good)
    h["spec"]["input_size"], h["spec"]["hidden_sizes"] = 8192, [8192]
    h["input_shape"] = h["preprocessing"] = None
    rest = {"header.npy": json_member(h), "b1.npy": npy(np.zeros((8192, 1), np.float32)),
            "W2.npy": npy(np.zeros((3, 8192), np.float32)),
            "b2.npy": npy(np.zeros((3, 1), np.float32))}
    path = deflated_bomb(tmp_path / "bomb.npz", "W1.npy", (8192, 8192), extra=rest)
    refused_quickly(path, "more than a file of")


def test_a_member_claiming_8_tib_gives_the_message(good, tmp_path):
    """Header and spec agree on 8 TiB; the member holds 96 bytes."""
    h = header_of(good)
    h["spec"]["input_size"], h["spec"]["hidden_sizes"] = 2**21, [2**20]
    h["input_shape"] = h["preprocessing"] = None
    members = members_of(good)
    members["header.npy"] = json_member(h)
    members["W1.npy"] = npy_header((2**20, 2**21)) + bytes(96)
    path = write_npz(tmp_path / "huge.npz", members)
    refused_quickly(path, "W1 claims shape (1048576, 2097152)", "8796093022208 bytes")


def test_a_wrong_shape_is_refused_from_the_header_before_the_data(good, tmp_path):
    members = members_of(good)
    members["W1.npy"] = npy_header((5000, 5000)) + bytes(5000 * 5000 * 4)
    path = write_npz(tmp_path / "big.npz", members)
    refused_quickly(path, "W1 has shape (5000, 5000) but the spec says (4, 6)", max_mb=20)


def test_a_zip_entry_claiming_more_than_the_file_is_refused(good, tmp_path):
    """W1's central-directory entry says it is a stored member of 1 GiB."""
    data = bytearray(good.read_bytes())
    start = data.rfind(b"PK\x01\x02", 0, data.find(b"W1.npy", data.find(b"PK\x01\x02")))
    assert data[start + 46:start + 52] == b"W1.npy"
    data[start + 20:start + 28] = (2**30).to_bytes(4, "little") * 2  # compressed, full size
    path = tmp_path / "claims.npz"
    path.write_bytes(bytes(data))
    refused_quickly(path, "W1 claims more bytes than the file holds")


# ------------------------------------------------------------------ members and headers
def test_a_member_that_is_raw_bytes_is_refused(good, tmp_path):
    members = members_of(good)
    members["header.npy"] = b'{"format": "desktop-nn-model"}'
    refused(write_npz(tmp_path / "raw.npz", members), "header is not a NumPy array")
    members = members_of(good)
    members["b1.npy"] = b"\x00" * 16
    refused(write_npz(tmp_path / "raw.npz", members), "b1 is not a NumPy array")


def test_a_deeply_nested_header_is_refused(good, tmp_path):
    members = members_of(good)
    members["header.npy"] = json_member("[" * 100_000 + "]" * 100_000)
    refused(write_npz(tmp_path / "deep.npz", members), "nested too deeply")


@pytest.mark.parametrize("spec_change", [
    {"input_size": "6"}, {"input_size": 6.0}, {"hidden_sizes": [4.5]}, {"hidden_sizes": 4},
    {"hidden_activations": [None]}, {"output_activation": 3}, {"cost": ["x"]},
    {"input_size": True}, {"init": "nope"}])
def test_a_spec_of_the_wrong_types_is_refused(good, spec_change):
    h = header_of(good)
    with_header(good, spec={**h["spec"], **spec_change})
    refused(good, "the network spec is invalid")


# ------------------------------------------------------------------ what Predict needs
@pytest.mark.parametrize("pre, fragment", [
    ({}, "preprocessing.image_size"),
    ({"image_size": [2, 3]}, "preprocessing.color"),
    ({"image_size": [2, 3], "color": "cmyk"}, "preprocessing.color"),
    ({"image_size": [-2, -3], "color": "gray"}, "preprocessing.image_size"),
    ({"image_size": "2x3", "color": "gray"}, "preprocessing.image_size"),
    ({"image_size": [2.0, 3], "color": "gray"}, "preprocessing.image_size"),
    ({"image_size": [2, 3], "color": "gray", "resize": "crop"}, "preprocessing.resize"),
    ({"image_size": [2, 3], "color": "gray", "flatten_order": "rows"}, "flatten_order"),
    ({"image_size": [3, 3], "color": "gray"}, "9 values but the network has 6 inputs"),
    ({"image_size": [1, 2], "color": "rgb"}, "input_shape says (2, 3, 1)"),
    ("gray", "preprocessing must be an object"),
])
def test_bad_preprocessing_is_refused_at_load(good, pre, fragment):
    with_header(good, preprocessing=pre)
    refused(good, fragment)


@pytest.mark.parametrize("norm, fragment", [
    ({"kind": "zscore"}, "normalisation kind 'zscore' is unknown"),
    ({"kind": ["scale"]}, "normalisation kind"),
    ({"kind": "standardise"}, "norm_mean or norm_std is missing"),
    ("scale", "normalisation must be an object"),
])
def test_bad_normalisation_is_refused_at_load(good, norm, fragment):
    with_header(good, normalisation=norm)
    refused(good, fragment)


@pytest.mark.parametrize("factor", [float("nan"), float("inf"), 0, -1e30, "abc", [1, 2], True,
                                    1.0, 1 / 256, None])
@pytest.mark.parametrize("kind", ["scale", "standardise"])
def test_a_normalisation_factor_that_is_not_1_over_255_is_refused(tmp_path, kind, factor):
    extra = dict(norm_mean=np.zeros((6, 1)), norm_std=np.ones((6, 1))) \
        if kind == "standardise" else {}
    path = save_model(tmp_path / "m.npz", image_model(normalisation={"kind": kind}, **extra))
    with_header(path, normalisation={"kind": kind, "factor": factor})
    refused(path, "normalisation factor must be 1/255")


@pytest.mark.parametrize("factor", [1 / 255, 0.00392157, 0.003922, float(np.float32(1 / 255))])
def test_a_factor_of_1_over_255_written_with_fewer_digits_loads(good, factor):
    with_header(good, normalisation={"kind": "scale", "factor": factor})
    Predictor(load_model(good))
    with_header(good, normalisation={"kind": "none", "factor": factor})
    refused(good, "normalisation 'none' has a factor")


@pytest.mark.parametrize("name", ["\x1b[31mred", "\x1b]0;owned\x07", "ok\rnot ok", "tab\t",
                                  "nul\x00", "\x7f", "c1 \x9b31m", "line\u2028break"])
def test_a_class_name_with_a_control_character_is_refused(good, name):
    with_header(good, class_names=["a", name, "c"])
    msg = refused(good, "class name 2", "control character")
    assert all(ord(c) >= 0x20 and not 0x7f <= ord(c) <= 0x9f for c in msg), repr(msg)


@pytest.mark.parametrize("names,words", [
    (["a", "a", "c"], "class names 1 and 2 are both 'a'"),
    (["a", "", "c"], "class name 2 is empty"),
    (["a", "b" * 5_000_000, "c"], "class name 2 has 5,000,000 characters"),
])
def test_class_names_that_cannot_tell_the_classes_apart_are_refused(good, names, words):
    """Issue 21 re-test: with two classes named 'a', predict showed one and lost the other's
    probability; an empty or 5 MB name printed as a blank or a flood."""
    with_header(good, class_names=names)
    msg = refused(good, words)
    assert len(msg) < 1000


def test_a_class_name_with_a_control_character_is_saved_escaped(tmp_path):
    """A class folder may be named so: the model is still saved, its name escaped."""
    path = save_model(tmp_path / "m.npz", image_model(class_names=["a", "\x1b[31mb", "c\r"]))
    assert load_model(path).class_names == ["a", "\\x1b[31mb", "c\\x0d"]


def test_a_standardised_model_needs_a_positive_std(tmp_path):
    model = image_model(normalisation={"kind": "standardise"},
                        norm_mean=np.zeros((6, 1)), norm_std=np.ones((6, 1)))
    path = save_model(tmp_path / "m.npz", model)
    Predictor(load_model(path))
    members = members_of(path)
    members["norm_std.npy"] = npy(np.zeros((6, 1)))
    refused(write_npz(path, members), "norm_std must be positive")
    members["norm_std.npy"] = npy(np.full((6, 1), 1e-38))  # tiny: 1/std overflows float32
    refused(write_npz(path, members), "norm_std must be positive, at least 1e-06")


@pytest.mark.parametrize("training", [{"epochs": "many"}, {"steps": -1}, {"epochs": 1.5},
                                      {"steps": [3]}, {"epochs": 1e400}, "long"])
def test_a_training_summary_the_window_cannot_read_is_refused(good, training):
    with_header(good, training=training)
    refused(good, "training")


# ------------------------------------------------------------------ not a regular file
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    outcome: list = []
    t = threading.Thread(target=lambda: outcome.append(pytest.raises(ModelFileError, load_model,
                                                                     fifo)), daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "load_model hangs on a FIFO"
    assert "named pipe" in str(outcome[0].value)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_link_to_a_device_is_refused(tmp_path):
    link = tmp_path / "zero.npz"
    link.symlink_to("/dev/zero")
    refused(link, "is a device")


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "dir.npz").mkdir()
    refused(tmp_path / "dir.npz", "is a folder")
