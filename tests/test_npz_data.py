"""Data-set .npz files (issue 21 re-test, items 1, 6, 7, 10, 18): every read is bounded (the
headers and the memory are checked before any array's data are read), and every file that
cannot be used is a DataFileError naming the file and the problem, exit 2 in the CLI."""

from __future__ import annotations

import math
import os
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from npz_factory import deflated_bomb, members_of, npy, npy_header, write_npz

from desktop_nn.cli import main
from desktop_nn.data import memory
from desktop_nn.data.npz_archive import MAX_RATIO, RATIO_SLACK, NpzArchive
from desktop_nn.data.npz_data import MAX_CLASSES, DataFileError, load_npz_dataset
from desktop_nn.data.sources import load_training_data

RNG = np.random.default_rng(0)
X = RNG.random((16, 40)).astype(np.float32)
Y = (np.arange(40) % 2).astype(np.int64)


def _save(tmp_path, name="data.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.fixture
def unread(monkeypatch):
    """Any read of an array's data fails the test: a refusal must come from the headers."""
    def never(self, name):
        raise AssertionError(f"{name}'s data were read before the file was refused")

    monkeypatch.setattr(NpzArchive, "read", never)


def _refused(path, *words) -> str:
    with pytest.raises(DataFileError) as info:
        load_npz_dataset(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for word in words:
        assert word in message, message
    return message


# ------------------------------------------------------------------ refused from the headers
@pytest.mark.parametrize("arrays,words", [
    ({"X": X.astype(complex), "Y": Y}, ["[X]", "real numbers", "complex128"]),
    ({"X": X.astype(str), "Y": Y}, ["[X]", "numeric", "<U"]),
    ({"X": X > 0.5, "Y": Y}, ["[X]", "numeric", "bool"]),
    ({"X": X, "Y": Y.astype(complex)}, ["[Y]", "real numbers", "complex128"]),
    ({"X": X, "Y": np.array(["a", "b"] * 20)}, ["[Y]", "labels or one-hot", "<U1"]),
    ({"X": X, "Y": Y.reshape(1, 1, 40)}, ["[Y]", "got shape (1, 1, 40)"]),
    ({"X": X, "Y": np.float64(1)}, ["[Y]", "got shape ()"]),
    ({"X": np.zeros((16, 0), np.float32), "Y": np.zeros(0)}, ["[X]", "no examples"]),
    ({"X": np.zeros((0, 40), np.float32), "Y": Y}, ["[X]", "no features"]),
    ({"X": X, "Y": Y[:, None]}, ["40 examples in X but 1 in Y", "Y looks transposed"]),
    ({"X": X, "Y": np.zeros((MAX_CLASSES + 1, 40))}, ["[Y]", "10,001 rows", "10,000"]),
    ({"X": X, "Y": Y, "class_names": np.array([str(i) for i in range(MAX_CLASSES + 1)])},
     ["class_names holds 10,001 names", "10,000"]),
    ({"X": X, "Y": Y, "class_names": np.array([["a", "b"]])}, ["class_names must be 1-D"]),
    ({"X": X, "Y": Y, "class_names": np.array([0.5, 1.5])}, ["class_names", "float64"]),
    ({"X": X, "Y": Y, "input_shape": np.array(["a", "b", "c"])}, ["input_shape", "<U1"]),
    ({"X": X, "Y": Y, "input_shape": np.zeros(99)}, ["input_shape", "99 values"]),
])
def test_a_wrong_kind_or_shape_is_refused_before_any_data_are_read(
        tmp_path, unread, arrays, words):
    _refused(_save(tmp_path, **arrays), *words)


def test_a_member_that_is_not_an_array_is_refused(tmp_path):
    path = write_npz(tmp_path / "data.npz", {"X.npy": b"not an npy file at all",
                                             "Y.npy": npy(Y)})
    _refused(path, "X is not a NumPy array")


def test_a_zip_bomb_is_refused_before_it_is_decompressed(tmp_path, unread):
    path = deflated_bomb(tmp_path / "data.npz", "X.npy", (20_000, 2_000),
                         extra={"Y.npy": npy(Y)})  # 160 MB of zeros in about 160 KB
    _refused(path, "refusing to decompress it")


def test_a_shape_claiming_terabytes_is_refused_naming_the_file(tmp_path, unread):
    path = write_npz(tmp_path / "data.npz", {
        "X.npy": npy_header((1_000_000, 2_000_000)) + bytes(64), "Y.npy": npy(Y)})
    _refused(path, "X claims shape (1000000, 2000000)", "holds 64 bytes")


def test_arrays_that_cannot_fit_in_memory_are_refused_unread(tmp_path, unread, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    message = _refused(_save(tmp_path, X=X, Y=Y), "need at least", "1.0 KB available")
    assert "40 examples of 16 values" in message


# ------------------------------------------------------------------ refused from the values
@pytest.mark.parametrize("y,words", [
    (np.where(Y > 0, 10**12, 0), ["[Y]", "label 1000000000000 is too large", "10,000"]),
    (np.where(Y > 0, 10**6, 0), ["[Y]", "label 1000000 is too large"]),
    (np.where(Y > 0, 1e300, 0.0), ["[Y]", "label 1e+300 is too large"]),
    (np.where(Y > 0, np.nan, 0.0), ["[Y]", "NaN or infinite"]),
    (np.where(Y > 0, np.inf, 0.0), ["[Y]", "NaN or infinite"]),
    (Y - 1, ["[Y]", "whole numbers 0..C-1, found -1"]),
    (Y + 0.5, ["[Y]", "whole numbers 0..C-1, found 0.5"]),
    (np.vstack([Y, 1 - Y]) * np.nan, ["[Y]", "NaN or infinite"]),
    (np.full((3, 40), 7.0), ["[Y]", "one-hot Y must hold only 0 and 1, found 7.0"]),
    (np.ones((3, 40)), ["[Y]", "exactly one 1 in each column; column 0 has 3"]),
    (np.zeros((3, 40), np.uint8), ["[Y]", "column 0 has 0"]),
])
def test_bad_labels_are_refused_before_any_target_is_made(tmp_path, monkeypatch, y, words):
    import desktop_nn.data.npz_data as npz_data

    def never(*args):
        raise AssertionError("targets made from bad labels")

    monkeypatch.setattr(npz_data, "targets_from_labels", never)
    _refused(_save(tmp_path, X=X, Y=y), *words)


@pytest.mark.parametrize("x", [np.where(X > 0.9, np.nan, X), np.full((16, 40), 1e300, "f16"),
                               np.where(X > 0.9, -np.inf, X).astype(np.float64)])
def test_features_that_are_not_finite_are_refused(tmp_path, x):
    _refused(_save(tmp_path, X=x, Y=Y), "[X]", "NaN or infinite")


@pytest.mark.parametrize("shape", [[-4, -4, 1], [4.5, 4, 1], [np.nan, 4, 1], [16, 1, 0],
                                   [16, 1, 1, 1], [2**62, 2**62, 4], [4, 4], [np.inf, 1, 1]])
def test_an_input_shape_that_does_not_make_n_x_is_refused_never_truncated(tmp_path, shape):
    message = _refused(_save(tmp_path, X=X, Y=Y, input_shape=np.array(shape)),
                       "input_shape must be three whole numbers of at least 1", "n_x = 16")
    assert "got [" in message


@pytest.mark.parametrize("shape", [[4, 4, 1], [4.0, 2.0, 2.0], [16, 1, 1]])
def test_an_input_shape_of_whole_numbers_is_kept(tmp_path, shape):
    data = load_npz_dataset(_save(tmp_path, X=X, Y=Y, input_shape=np.array(shape)))
    assert data.input_shape == tuple(int(v) for v in shape)
    assert all(type(v) is int for v in data.input_shape)


# ------------------------------------------------------------------ accepted
@pytest.mark.parametrize("y", [Y, Y.astype(bool), Y.astype(np.float32), Y.reshape(1, -1),
                               np.vstack([1 - Y, Y]), np.vstack([1 - Y, Y]).astype(bool)])
def test_two_classes_in_any_accepted_form_give_the_same_targets(tmp_path, y):
    data = load_npz_dataset(_save(tmp_path, X=X, Y=y))
    np.testing.assert_array_equal(data.train.Y, Y.reshape(1, -1).astype(np.float64))
    assert data.class_names == ["0", "1"]


def test_a_one_hot_y_and_labels_of_other_splits_share_the_classes(tmp_path):
    labels = np.arange(40) % 3
    onehot = np.eye(3)[:, labels]
    data = load_npz_dataset(_save(tmp_path, X_train=X, Y_train=onehot, X_test=X[:, :9],
                                  Y_test=labels[:9].astype(np.uint8)))
    np.testing.assert_array_equal(data.train.Y, onehot)
    np.testing.assert_array_equal(data.test.Y, onehot[:, :9])
    assert data.class_names == ["0", "1", "2"]


def test_a_one_hot_y_needs_a_row_per_class(tmp_path):
    _refused(_save(tmp_path, X=X, Y=np.eye(3)[:, np.arange(40) % 3],
                   class_names=np.array(list("abcd"))), "one-hot Y has 3 rows, expected 4")


def test_class_names_become_valid_str(tmp_path):
    names = {"U": np.array(["caf\udce9", "b"]), "S": np.array([b"caf\xe9", b"b"]),
             "i": np.array([7, 8])}
    got = {kind: load_npz_dataset(_save(tmp_path, X=X, Y=Y, class_names=n)).class_names
           for kind, n in names.items()}
    assert got == {"U": ["caf\\xe9", "b"], "S": ["caf\\xe9", "b"], "i": ["7", "8"]}
    for values in got.values():
        for name in values:
            name.encode("utf-8")


@pytest.mark.parametrize("names,words", [
    (np.array(["a", "a"]), "class names 1 and 2 are both 'a'"),
    (np.array(["a", ""]), "class name 2 is empty"),
])
def test_class_names_that_cannot_tell_the_classes_apart_are_refused(tmp_path, names, words):
    """The model of such a data set could not be opened again: refused as it loads."""
    with pytest.raises(DataFileError, match=words):
        load_npz_dataset(_save(tmp_path, X=X, Y=Y, class_names=names))


def test_uint8_features_are_scaled_and_float64_kept(tmp_path):
    data = load_npz_dataset(_save(tmp_path, X=(X * 255).astype(np.uint8), Y=Y))
    assert data.scaled_from_uint8 and data.train.X.dtype == np.float32
    assert data.train.X.max() <= 1
    data = load_npz_dataset(_save(tmp_path, X=X.astype(np.float64), Y=Y))
    assert data.train.X.dtype == np.float64 and not data.scaled_from_uint8


def test_a_file_whose_name_is_not_utf8_is_a_valid_str_everywhere(tmp_path):
    path = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.npz")
    np.savez(path, X=X, Y=Y)
    data = load_npz_dataset(path)
    assert data.source.endswith("caf\\xe9.npz")
    data.source.encode("utf-8")
    np.savez(path, X_train=X, Y_train=Y, X_val=X)
    with pytest.raises(DataFileError, match=re.escape("caf\\xe9.npz: has X_val")):
        load_training_data(path)


# ------------------------------------------------------------------ the command line
@pytest.mark.parametrize("arrays,words", [
    ({"X": X, "Y": np.array(["a", "b"] * 20)}, "labels or one-hot"),
    ({"X": X, "Y": np.where(Y > 0, np.inf, 0.0)}, "NaN or infinite"),
    ({"X": X, "Y": np.where(Y > 0, 10**12, 0)}, "too large"),
    ({"X": X, "Y": Y, "input_shape": np.array([-4, -4, 1])}, "input_shape must be"),
    ({"X": np.zeros((0, 40), np.float32), "Y": Y}, "no features"),
])
def test_the_cli_says_one_line_naming_the_file_exit_2(tmp_path, capsys, arrays, words):
    path = _save(tmp_path, **arrays)
    assert main(["train", str(path), "--quiet", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and words in err[0], err


# ------------------------------------------------------------------ fuzzing
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_N", 120)), deadline=None,
                derandomize="FUZZ_N" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
DESCRS = ["<f4", "<f8", ">f8", "<f2", "|u1", "<u2", "<i8", "|b1", "<c16", "|O", "V8", "<U3",
          "|S4", "<M8[s]"]
MEMBERS = ["X_train.npy", "Y_train.npy", "X_test.npy", "Y_test.npy", "class_names.npy",
           "input_shape.npy"]


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("original") / "data.npz"
    labels = np.arange(12) % 3
    np.savez(path, X_train=X[:, :12], Y_train=np.eye(3)[:, labels], X_test=X[:, 12:18],
             Y_test=labels[:6], class_names=np.array(["a", "b", "c"]),
             input_shape=np.array([4, 4, 1]))
    return path.read_bytes()


def _read_fuzzed(folder, data: bytes):
    """Only a result or a DataFileError naming the file, within the memory that the file's
    size allows (the arrays as read, float copies of X, targets of up to MAX_CLASSES)."""
    path = folder / "data.npz"
    path.write_bytes(data)
    bound = 8 * MAX_RATIO * len(data) + RATIO_SLACK + MAX_CLASSES * 8 * len(data)
    tracemalloc.start()
    try:
        try:
            return load_npz_dataset(path)
        except DataFileError as exc:
            assert str(exc).startswith(str(path)), repr(exc)
            return exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= bound, f"{peak} bytes allocated reading {len(data)} bytes"


def test_the_original_loads(tmp_path, original):
    data = _read_fuzzed(tmp_path, original)
    assert data.class_names == ["a", "b", "c"] and data.input_shape == (4, 4, 1)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(tmp_path, data):
    _read_fuzzed(tmp_path, data)


@FUZZ
@given(data=st.data())
def test_truncations_and_flipped_bytes(tmp_path, original, data):
    raw = bytearray(original[:data.draw(st.integers(0, len(original)))])
    flips = data.draw(st.lists(st.tuples(st.integers(0, max(len(raw) - 1, 0)),
                                         st.integers(1, 255)), max_size=6))
    for at, xor in flips:
        if raw:
            raw[at] ^= xor
    _read_fuzzed(tmp_path, bytes(raw))


@FUZZ
@given(data=st.data())
def test_mutated_members(tmp_path, original, data):
    """A member replaced by random bytes, by a header claiming any shape and dtype (with data
    of any length, or of the length it claims), by any small array, or dropped."""
    name = data.draw(st.sampled_from(MEMBERS))
    how = data.draw(st.sampled_from(["bytes", "header", "exact", "array", "drop"]))
    shape = data.draw(st.lists(st.one_of(st.integers(0, 20), st.integers(0, 2**40)),
                               max_size=3).map(tuple))
    descr = data.draw(st.sampled_from(DESCRS))
    if how == "bytes":
        new = data.draw(st.binary(max_size=512))
    elif how == "header":
        new = npy_header(shape, descr) + data.draw(st.binary(max_size=256))
    elif how == "exact":
        shape = tuple(min(n, 20) for n in shape)
        size = math.prod(shape) * np.dtype(descr).itemsize
        new = npy_header(shape, descr) + data.draw(st.binary(min_size=size, max_size=size))
    else:
        values = data.draw(st.lists(st.one_of(st.integers(-3, 10**13), st.floats()),
                                    max_size=40))
        new = npy(np.array(values, dtype=np.float64).reshape(-1, *shape[:0]))
    src = tmp_path / "src.npz"
    src.write_bytes(original)
    members = members_of(src)
    if how == "drop":
        members.pop(name)
    else:
        members[name] = new
    _read_fuzzed(tmp_path, write_npz(tmp_path / "out.npz", members).read_bytes())
