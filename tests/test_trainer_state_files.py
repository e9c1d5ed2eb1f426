"""Training-state files that are damaged, lie about their sizes or are not regular files:
refused at once with a TrainerStateError naming the file (never BadZipFile, never a hang)."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from npz_factory import (
    deflated_bomb,
    json_member,
    members_of,
    npy,
    npy_header,
    trainer_state,
    write_npz,
)

from desktop_nn.io.trainer_state import (
    TrainerStateError,
    load_trainer_state,
    read_trainer_state,
    save_trainer_state,
)

STATE, ARRAYS = trainer_state([4, 3], "adam", 5)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return save_trainer_state(tmp_path / "p.state.npz", STATE, ARRAYS, generation="g1")


def refused(path: Path, *fragments: str) -> str:
    with pytest.raises(TrainerStateError) as info:
        load_trainer_state(path)
    msg = str(info.value)
    assert path.name in msg, msg
    for f in fragments:
        assert f in msg, msg
    return msg


def test_round_trip_with_its_generation(good):
    got = read_trainer_state(good)
    assert got.trainer == STATE and got.generation == "g1"
    for k, a in ARRAYS.items():
        np.testing.assert_array_equal(got.arrays[k], a)
    got.arrays["v/W/0"][0, 0] = 5.0  # writable, as the optimiser's arrays must be


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_a_truncated_state_file_is_refused_naming_it(good, keep):
    data = good.read_bytes()
    good.write_bytes(data[:int(len(data) * keep)])
    refused(good)


def test_a_damaged_member_is_refused(good):
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("opt.s.W.0.npy")
    data[info.header_offset + 30 + len("opt.s.W.0.npy") + 128 + 3] ^= 0xFF  # in its data
    good.write_bytes(bytes(data))
    refused(good, "opt.s.W.0 cannot be read")


def test_a_member_claiming_more_than_it_holds_is_refused_before_reading(good):
    members = members_of(good)
    members["opt.v.W.0.npy"] = npy_header((2**20, 2**21)) + bytes(96)
    write_npz(good, members)
    tracemalloc.start()
    try:
        refused(good, "opt.v.W.0 claims shape (1048576, 2097152)")
        assert tracemalloc.get_traced_memory()[1] < 20 * 2**20
    finally:
        tracemalloc.stop()


def test_a_deflated_bomb_is_refused_before_decompressing(tmp_path):
    path = deflated_bomb(tmp_path / "bomb.state.npz", "opt.v.W.0.npy", (8192, 8192),
                         extra={"state.npy": json_member({"format": "desktop-nn-trainer-state",
                                                          "format_version": 1, "trainer": {}})})
    t0 = time.perf_counter()
    refused(path, "more than a file of")
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("members, fragment", [
    ({"state.npy": b"raw bytes, not an array"}, "state is not a NumPy array"),
    ({"state.npy": json_member("[" * 100_000)}, "nested too deeply"),
    ({"state.npy": npy(np.zeros(3))}, "expected 1-d uint8"),
    ({"state.npy": json_member({"format": "desktop-nn-trainer-state", "format_version": 1,
                                "trainer": {}}),
      "opt.v.W.0.npy": npy(np.arange(3))}, "expected a float array"),
    ({"state.npy": json_member({"format": "desktop-nn-trainer-state", "format_version": 1,
                                "trainer": {}, "generation": 5})}, "generation"),
])
def test_bad_members_are_refused(tmp_path, members, fragment):
    refused(write_npz(tmp_path / "s.state.npz", members), fragment)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "p.state.npz"
    os.mkfifo(fifo)
    outcome: list = []
    t = threading.Thread(target=lambda: outcome.append(
        pytest.raises(TrainerStateError, load_trainer_state, fifo)), daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "load_trainer_state hangs on a FIFO"
    assert "named pipe" in str(outcome[0].value)
