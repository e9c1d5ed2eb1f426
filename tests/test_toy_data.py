"""The built-in 2-D data sets (data/toy2d.py) and their ``toy:`` spec through the loader."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_nn.data.dataset import labels_of
from desktop_nn.data.sources import DataFileError, load_training_data
from desktop_nn.data.toy2d import (
    TOY_SETS,
    ToySpec,
    ToySpecError,
    is_toy_spec,
    make_toy,
    parse_spec,
    spec_from_record,
)


@pytest.mark.parametrize("name", list(TOY_SETS))
def test_each_set_is_seeded_bit_for_bit_and_of_order_one(name):
    a = make_toy(ToySpec(name, n=301, noise=0.3, seed=7))
    b = make_toy(ToySpec(name, n=301, noise=0.3, seed=7))
    other = make_toy(ToySpec(name, n=301, noise=0.3, seed=8))
    assert a.X.dtype == np.float32 and a.X.shape == (2, 301)
    assert a.labels.shape == (301,) and set(np.unique(a.labels)) == {0, 1}
    assert a.X.tobytes() == b.X.tobytes() and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.X, other.X)
    assert np.all(np.isfinite(a.X)) and np.abs(a.X).max() < 3
    assert a.class_names == list(TOY_SETS[name].class_names)


def _arms(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """For spiral arm k: its points' angle unwound against radius, t = 3.5 pi r + k pi."""
    pts = X[:, labels == k].astype(np.float64)
    r = np.hypot(*pts)
    t = np.arctan2(pts[0], pts[1])  # x = r sin t, y = r cos t
    want = 3.5 * math.pi * r + k * math.pi
    return np.angle(np.exp(1j * (t - want)))  # the difference, wrapped to (-pi, pi]


def test_the_formulas_hold_without_noise():
    c = make_toy(ToySpec("circle", n=500))
    r = np.hypot(*c.X.astype(np.float64))
    assert np.all(r[c.labels == 0] <= 0.5 + 1e-6) and np.all(r[c.labels == 1] >= 0.7 - 1e-6)
    x = make_toy(ToySpec("xor", n=500))
    same = x.X[0] * x.X[1] >= 0
    assert np.array_equal(x.labels == 0, same) and np.abs(x.X).min() >= 0.06 - 1e-6
    g = make_toy(ToySpec("gauss", n=4000))
    upper = g.X[:, g.labels == 0]
    assert np.allclose(upper.mean(axis=1), 0.4, atol=0.02)
    assert np.allclose(upper.std(axis=1), math.sqrt(0.5) / 5, rtol=0.05)
    s = make_toy(ToySpec("spiral", n=400))
    for k in (0, 1):
        r = np.hypot(*s.X[:, s.labels == k].astype(np.float64))
        keep = r > 0.01  # the centre point has no angle
        assert np.abs(_arms(s.X, s.labels, k)[keep]).max() < 1e-4
    assert np.bincount(s.labels).tolist() == [200, 200]


def test_noise_widens_the_gauss_blobs_and_jitters_the_spiral():
    g = make_toy(ToySpec("gauss", n=4000, noise=0.5))
    assert np.allclose(g.X[:, g.labels == 1].std(axis=1), 2 / 5, rtol=0.05)  # variance 4/25
    clean = make_toy(ToySpec("spiral", n=400, noise=0.0, seed=3))
    noisy = make_toy(ToySpec("spiral", n=400, noise=0.5, seed=3))
    moved = np.abs(noisy.X.astype(np.float64) - clean.X)
    assert 0 < moved.max() <= 0.1 + 1e-6  # e ~ U(-1, 1) * 0.5 / 5


def test_circle_noise_flips_labels_near_the_gap_only():
    c = make_toy(ToySpec("circle", n=2000, noise=0.5, seed=1))
    r = np.hypot(*c.X.astype(np.float64))
    assert (c.labels[r <= 0.5] == 1).any()  # noise moved some inner points' labels out
    far = r > 0.5 + 0.5 * math.sqrt(2)  # no noise of at most 0.5 per axis reaches inside
    assert np.all(c.labels[far] == 1)


@pytest.mark.parametrize("text, spec", [
    ("toy:spiral", ToySpec("spiral", 400, 0.0, 0)),
    ("toy:circle,n=400,noise=0.2", ToySpec("circle", 400, 0.2, 0)),
    ("toy:XOR, seed = 5 ,n=10", ToySpec("xor", 10, 0.0, 5)),
    ("toy:gauss,noise=0.123456789", ToySpec("gauss", 400, 0.123456789, 0)),
    ("toy:circle,noise=-0.0", ToySpec("circle", 400, 0.0, 0)),
])
def test_specs_parse_and_write_back(text, spec):
    assert parse_spec(text) == spec
    assert parse_spec(text).text() == spec.text()  # -0.0 == 0.0, but "noise=-0" misleads
    assert parse_spec(spec.text()) == spec
    assert spec_from_record(spec.record()) == spec


@pytest.mark.parametrize("text, problem", [
    ("toy:moons", "unknown data set 'moons'; the built-in ones are circle, xor, gauss, spiral"),
    ("toy:spiral,k=3", "unknown setting 'k'"),
    ("toy:spiral,n", "'n' is not KEY=VALUE"),
    ("toy:spiral,n=3", "n must be a whole number from 4 to 100,000, got 3"),
    ("toy:spiral,n=100001", "n must be a whole number from 4 to 100,000"),
    ("toy:spiral,n=1.5", "n must be a whole number, got '1.5'"),
    ("toy:spiral,noise=0.6", "noise must be a number from 0 to 0.5, got 0.6"),
    ("toy:spiral,noise=nan", "noise must be a number from 0 to 0.5"),
    ("toy:spiral,noise=x", "noise must be a number, got 'x'"),
    ("toy:spiral,seed=-1", "seed must be a whole number from 0"),
    ("toy:spiral,seed=2.0", "seed must be a whole number, got '2.0'"),
    ("toy:spiral,n=5,n=6", "n is given twice"),
])
def test_a_bad_spec_is_one_line_naming_it(text, problem):
    with pytest.raises(ToySpecError) as err:
        load_training_data(text)
    message = str(err.value)
    assert message.startswith(f"{text}: ") and problem in message and "\n" not in message


def test_a_bad_record_is_refused():
    for record in ({"toy": {"name": "spiral"}}, {"toy": {"name": "x", "n": 4, "noise": 0,
                                                          "seed": 0}}, {"toy": "spiral"}):
        with pytest.raises(ToySpecError):
            spec_from_record(record)


def test_toy_data_load_as_training_data():
    loaded = load_training_data("toy:circle,n=200,noise=0.1,seed=3", val_split=0.2, seed=1)
    data = loaded.prepared
    assert loaded.folder is None and loaded.source == "toy:circle,n=200,noise=0.1,seed=3"
    assert data.normalisation.kind == "none" and data.input_shape is None
    assert data.class_names == ["inside", "outside"] and data.test is None
    assert data.train.n_x == 2 and data.train.Y.shape == (1, data.train.m)
    assert data.train.m + data.val.m == 200 and data.val.m == 40
    toy = make_toy(parse_spec(loaded.source))  # the columns are the set's points, untouched
    per_class = np.bincount(toy.labels)
    assert np.bincount(labels_of(data.val.Y)).tolist() == \
        [round(0.2 * k) for k in per_class]  # stratified
    assert data.preprocessing == {"toy": {"name": "circle", "n": 200, "noise": 0.1,
                                          "seed": 3}}
    together = np.concatenate([data.train.X, data.val.X], axis=1)
    assert sorted(map(tuple, together.T.tolist())) == sorted(map(tuple, toy.X.T.tolist()))
    again = load_training_data("toy:circle,n=200,noise=0.1,seed=3", val_split=0.2, seed=1)
    assert np.array_equal(again.prepared.val.X, data.val.X)  # the split is seeded too
    whole = load_training_data("toy:xor", val_split=0.0).prepared
    assert whole.val is None and whole.train.m == 400


def test_toy_data_refuse_a_test_folder_and_are_never_a_path(tmp_path, monkeypatch):
    with pytest.raises(DataFileError, match="goes with an image folder, not with the "
                                            "built-in data set toy:spiral"):
        load_training_data("toy:spiral", test_dir=str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy:spiral").mkdir()  # a folder so named is reached as ./toy:spiral
    assert load_training_data("toy:spiral").folder is None
    assert is_toy_spec("toy:spiral") and not is_toy_spec("./toy:spiral")
