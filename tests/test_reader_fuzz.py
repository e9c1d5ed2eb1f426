"""Fuzzing the readers of model files, projects and training-state files (hypothesis): random
bytes, truncations, flipped bytes, mutated JSON headers and mutated .npz members. Each reader
either gives its result or raises its own error type (ModelFileError, ProjectFileError,
TrainerStateError) with a message naming the file, never anything else; and no read allocates
more than the file's size allows (tracemalloc's peak, bounded by the .npz reader's ratio)."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from npz_factory import json_member, members_of, npy, npy_header, trainer_state, write_npz

from desktop_nn.io.model_file import ModelFile, ModelFileError, load_model, save_model
from desktop_nn.io.npz_reader import MAX_RATIO, RATIO_SLACK
from desktop_nn.io.project_file import Project, ProjectFileError, load_project, save_project
from desktop_nn.io.trainer_state import TrainerStateError, load_trainer_state, save_trainer_state
from desktop_nn.nn.network import Network, NetworkSpec

# FUZZ_N=5000 for a long, random run; the suite's run is short and the same every time
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_N", 120)), deadline=None,
                derandomize="FUZZ_N" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

# an integer of this many digits: written into the JSON text by with_long_integers (Python
# cannot turn one of over 4300 digits into text, nor text into it)
LONG = "\x00long-integer:"
long_integers = st.one_of(st.integers(20, 120), st.integers(4250, 4400),
                          st.integers(4301, 20000)).map(lambda n: f"{LONG}{n}")


def with_long_integers(text: str) -> str:
    """``json.dumps`` output with each long-integer marker made an integer of its digits."""
    import re

    return re.sub(r'"\\u0000long-integer:(\d+)"', lambda m: "-" * (int(m[1]) % 2)
                  + "9" * int(m[1]), text)


# what any JSON value can be, small
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | long_integers
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)

DESCRS = ["<f4", "<f8", ">f8", "<f2", "|u1", "<i8", "|b1", "<c16", "|O", "V8", "<U3", "|S4",
          "<M8[s]"]
shapes = st.lists(st.one_of(st.integers(0, 8), st.integers(0, 2**40)), max_size=3).map(tuple)


def model_file_of(tmp: Path) -> Path:
    spec = NetworkSpec(input_size=6, hidden_sizes=[4], hidden_activations=["relu"],
                       output_size=3, output_activation="softmax", cost="cross-entropy")
    model = ModelFile(network=Network(spec, seed=0), class_names=["a", "b", "c"],
                      input_shape=(2, 3, 1), normalisation={"kind": "standardise"},
                      norm_mean=np.zeros((6, 1)), norm_std=np.ones((6, 1)),
                      preprocessing={"image_size": [2, 3], "color": "gray",
                                     "resize": "stretch", "flatten_order": "channel-planes"},
                      training={"epochs": 2, "steps": 9})
    return save_model(tmp / "model.npz", model, generation="abc")


def state_file_of(tmp: Path) -> Path:
    return save_trainer_state(tmp / "p.state.npz", *trainer_state([6, 4, 3], "adam", 5), "abc")


def project_file_of(tmp: Path) -> Path:
    return save_project(tmp / "p.dnnproj", Project(
        name="p", designer={"layers": [[30, "relu"]], "output": "softmax",
                            "cost": "cross-entropy", "init": "he"},
        data={"folder": str(tmp / "images"), "size": "28x28", "color": "gray",
              "resize": "stretch", "val_split": 0.1, "normalisation": "scale"},
        training={"lr": 0.1, "epochs": 5, "batch": 32, "optimizer": "adam", "l2": 0.0,
                  "seed": 0, "device": "auto", "dtype": "float32"},
        runs=[{"epochs": 5, "val_accuracy": 0.9}]))


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("originals")
    return {"model": model_file_of(tmp).read_bytes(), "state": state_file_of(tmp).read_bytes(),
            "project": project_file_of(tmp).read_bytes()}


READERS = {"model": (load_model, ModelFileError, "model.npz"),
           "state": (load_trainer_state, TrainerStateError, "p.state.npz"),
           "project": (load_project, ProjectFileError, "p.dnnproj")}


def read_as(kind: str, folder: Path, data: bytes) -> object:
    """Write ``data`` as a ``kind`` file and read it: its own error or a result, and no more
    memory than its size allows."""
    reader, error, name = READERS[kind]
    path = folder / name
    path.write_bytes(data)
    bound = MAX_RATIO * len(data) + RATIO_SLACK + (4 << 20)
    tracemalloc.start()
    try:
        try:
            return reader(path)
        except error as exc:
            assert str(exc).strip() and name in str(exc), repr(exc)
            return exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= bound, f"{peak} bytes allocated reading {len(data)} bytes"


def npz_with(original: bytes, folder: Path, change) -> bytes:
    """The .npz ``original`` with its members changed by ``change(members)``."""
    src = folder / "src.npz"
    src.write_bytes(original)
    members = members_of(src)
    change(members)
    return write_npz(folder / "out.npz", members).read_bytes()


KINDS = st.sampled_from(sorted(READERS))


# ------------------------------------------------------------------ any file
@FUZZ
@given(kind=KINDS, data=st.binary(max_size=2048))
def test_random_bytes(tmp_path, kind, data):
    read_as(kind, tmp_path, data)


@FUZZ
@given(kind=KINDS, data=st.data())
def test_truncations(tmp_path, originals, kind, data):
    original = originals[kind]
    keep = data.draw(st.integers(0, len(original) - 1))
    assert isinstance(read_as(kind, tmp_path, original[:keep]), Exception) or kind == "project"


@FUZZ
@given(kind=KINDS, data=st.data())
def test_flipped_bytes(tmp_path, originals, kind, data):
    raw = bytearray(originals[kind])
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)),
                               min_size=1, max_size=6))
    for at, xor in flips:
        raw[at] ^= xor
    read_as(kind, tmp_path, bytes(raw))


# ------------------------------------------------------------------ JSON documents
def mutate(doc: object, path: list, value: object) -> object:
    """``doc`` with the value at ``path`` (keys / indices, chosen modulo the sizes) replaced;
    an empty path replaces the whole document."""
    if not path:
        return value
    if isinstance(doc, dict) and doc:
        key = sorted(doc)[path[0] % len(doc)]
        return {**doc, key: mutate(doc[key], path[1:], value)}
    if isinstance(doc, list) and doc:
        i = path[0] % len(doc)
        return doc[:i] + [mutate(doc[i], path[1:], value)] + doc[i + 1:]
    return value


mutations = st.tuples(st.lists(st.integers(0, 50), max_size=4), json_values)


def header_json(original: bytes, folder: Path, member: str) -> object:
    src = folder / "src.npz"
    src.write_bytes(original)
    raw = members_of(src)[member]
    return json.loads(np.load(io.BytesIO(raw)).tobytes())


@FUZZ
@given(kind=KINDS, edits=st.lists(mutations, min_size=1, max_size=3))
def test_mutated_json(tmp_path, originals, kind, edits):
    member = {"model": "header.npy", "state": "state.npy"}.get(kind)
    doc = (json.loads(originals[kind]) if member is None
           else header_json(originals[kind], tmp_path, member))
    for path, value in edits:
        doc = mutate(doc, path, value)
    text = with_long_integers(json.dumps(doc))
    if member is None:
        data = text.encode()
    else:
        data = npz_with(originals[kind], tmp_path,
                        lambda m: m.__setitem__(member, json_member(text)))
    read_as(kind, tmp_path, data)


# ------------------------------------------------------------------ .npz members
def member_names(kind: str) -> list[str]:
    return {"model": ["header.npy", "W1.npy", "b1.npy", "W2.npy", "b2.npy", "norm_mean.npy",
                      "norm_std.npy"],
            "state": ["state.npy", "opt.v.W.0.npy", "opt.s.b.1.npy"]}[kind]


npz_kinds = st.sampled_from(["model", "state"])


@FUZZ
@given(kind=npz_kinds, data=st.data())
def test_mutated_members(tmp_path, originals, kind, data):
    """A member replaced by random bytes, by a header claiming any shape and dtype (with data
    of any length), dropped, or joined by an extra member."""
    name = data.draw(st.sampled_from(member_names(kind)))
    how = data.draw(st.sampled_from(["bytes", "header", "drop", "extra"]))
    if how == "bytes":
        new = data.draw(st.binary(max_size=512))
    elif how == "header":
        new = npy_header(data.draw(shapes), data.draw(st.sampled_from(DESCRS)),
                         data.draw(st.booleans())) + data.draw(st.binary(max_size=256))
    else:
        new = npy(np.zeros(data.draw(st.integers(0, 5))))

    def change(members: dict) -> None:
        if how == "drop":
            members.pop(name, None)
        elif how == "extra":
            members[data.draw(st.sampled_from(["x.npy", "opt.v.W.9.npy", "W3.npy",
                                               "readme.txt"]))] = new
        else:
            members[name] = new

    read_as(kind, tmp_path, npz_with(originals[kind], tmp_path, change))


@pytest.mark.parametrize("digits", [101, 4301, 100_000])
@pytest.mark.parametrize("where", ["top", "spec", "nested"])
@pytest.mark.parametrize("kind", sorted(READERS))
def test_an_integer_too_long_is_the_readers_own_error(tmp_path, originals, kind, where, digits):
    """Python refuses more than 4300 digits with a plain ValueError; each reader says which
    file holds such a number instead."""
    member = {"model": "header.npy", "state": "state.npy"}.get(kind)
    doc = (json.loads(originals[kind]) if member is None
           else header_json(originals[kind], tmp_path, member))
    key = {"model": "spec", "state": "trainer", "project": "training"}[kind]
    if where == "top":
        doc["format_version"] = f"{LONG}{digits}"
    elif where == "spec":
        doc[key] = {**doc[key], "epochs": f"{LONG}{digits}", "input_size": f"{LONG}{digits}"}
    else:
        doc[key] = {**doc[key], "deep": [{"x": [f"{LONG}{digits}"]}]}
    text = with_long_integers(json.dumps(doc))
    assert "9" * digits in text
    data = text.encode() if member is None else npz_with(
        originals[kind], tmp_path, lambda m: m.__setitem__(member, json_member(text)))
    got = read_as(kind, tmp_path, data)
    assert isinstance(got, READERS[kind][1]) and f"{digits} digits" in str(got)


def test_the_originals_load(tmp_path, originals):
    assert isinstance(read_as("model", tmp_path, originals["model"]), ModelFile)
    assert isinstance(read_as("state", tmp_path, originals["state"]), tuple)
    assert isinstance(read_as("project", tmp_path, originals["project"]), Project)
