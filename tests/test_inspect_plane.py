"""The decision-boundary view's numbers (inspect/plane.py) equal their definitions in
docs/diagnostics.md ("Decision boundary"), computed independently: point by point, with
the activations written out here, in float64; and the network's own forward pass agrees."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_nn.inspect.plane import (
    DEFAULT_RANGE,
    MARGIN,
    forward_all,
    output_levels,
    plane_grid,
    plane_picture,
    plane_ranges,
    unit_levels,
    winner_strength,
)
from desktop_nn.nn.network import Network, NetworkSpec

REL = 1e-6
ACT = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
       "relu": lambda z: np.maximum(z, 0), "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
       "linear": lambda z: z,
       "softmax": lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()}
RANGES = ((-1.5, 2.0), (-0.5, 3.0))


def network(hidden: str, output: str, seed: int = 3) -> Network:
    n_out = 1 if output == "sigmoid" else 3
    spec = NetworkSpec(2, [5, 4], [hidden], n_out, output,
                       cost="cross-entropy")
    net = Network(spec, dtype="float64", seed=seed)
    W, b = net.get_parameters()
    rng = np.random.default_rng(seed)
    # large weights and biases: saturated sigmoid/tanh units and dead ReLUs on the plane
    net.set_parameters([3 * w for w in W], [rng.normal(0, 1.5, x.shape) for x in b])
    return net


def by_hand(W, b, acts, x1: float, x2: float) -> list[np.ndarray]:
    """A[1..L] at one point, one unit at a time."""
    a = [x1, x2]
    out = []
    for w, bias, name in zip(W, b, acts, strict=True):
        z = np.array([sum(w[j, i] * a[i] for i in range(len(a))) + bias[j, 0]
                      for j in range(w.shape[0])])
        a = ACT[name](z) if name == "softmax" else np.array([ACT[name](v) for v in z])
        out.append(np.asarray(a, dtype=np.float64))
        a = list(a)
    return out


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "leaky_relu", "linear"])
def test_every_value_shown_equals_its_definition(hidden, output):
    net = network(hidden, output)
    W, b = net.get_parameters()
    acts = net.spec.activations
    pic = plane_picture(W, b, acts, RANGES, resolution=9, unit_resolution=6)
    assert pic.output.shape == (net.spec.output_size, 9, 9)
    assert [u.shape for u in pic.units] == [(5, 6, 6), (4, 6, 6)]
    x1 = np.linspace(*RANGES[0], 9)
    x2 = np.linspace(*RANGES[1], 9)
    np.testing.assert_array_equal(pic.grid.x1, x1)
    np.testing.assert_array_equal(pic.grid.x2, x2)
    for i, v in enumerate(x2):  # row i: x2, going up
        for j, u in enumerate(x1):  # column j: x1, going right
            want = by_hand(W, b, acts, u, v)[-1]
            np.testing.assert_allclose(pic.output[:, i, j], want, rtol=REL, atol=0)
            if output == "sigmoid":
                assert pic.value[i, j] == pic.output[0, i, j]  # P(class 1)
                assert pic.winner[i, j] == int(want[0] > 0.5)
            else:
                assert pic.winner[i, j] == int(np.argmax(want))
                np.testing.assert_allclose(pic.value[i, j], want.max(), rtol=REL, atol=0)
    ux1 = np.linspace(*RANGES[0], 6)
    ux2 = np.linspace(*RANGES[1], 6)
    for i, v in enumerate(ux2):
        for j, u in enumerate(ux1):
            hidden_a = by_hand(W, b, acts, u, v)[:-1]
            for layer, a in enumerate(hidden_a):
                np.testing.assert_allclose(pic.units[layer][:, i, j], a, rtol=REL, atol=0)
    # the network's own forward pass over the grid points gives the same outputs
    A, caches = net.forward(pic.grid.points())
    np.testing.assert_allclose(pic.output.reshape(A.shape[0], -1), A, rtol=REL, atol=0)
    hidden_a = forward_all(W, b, acts, pic.unit_grid.points(), layers=2)
    for layer, a in enumerate(hidden_a):
        np.testing.assert_allclose(
            a, net.forward(pic.unit_grid.points())[1][layer].a, rtol=REL, atol=0)


def test_a_float32_network_is_pictured_in_float32_as_it_computes():
    spec = NetworkSpec(2, [16], ["tanh"], 3, "softmax")
    net = Network(spec, dtype="float32", seed=1)
    W, b = net.get_parameters()
    pic = plane_picture(W, b, spec.activations, RANGES, resolution=40, dtype=net.dtype)
    assert pic.output.dtype == np.float32 and pic.units[0].dtype == np.float32
    A = net.forward(pic.grid.points())[0]
    np.testing.assert_allclose(pic.output.reshape(3, -1), A, rtol=1e-5, atol=1e-7)


def test_the_grid_spans_the_points_and_a_margin():
    pts = np.array([[0.0, 2.0, 1.0], [-1.0, 3.0, 0.0]])
    (lo1, hi1), (lo2, hi2) = plane_ranges(pts)
    assert (lo1, hi1) == pytest.approx((-MARGIN * 2, 2 + MARGIN * 2))
    assert (lo2, hi2) == pytest.approx((-1 - MARGIN * 4, 3 + MARGIN * 4))
    assert plane_ranges(None) == (DEFAULT_RANGE, DEFAULT_RANGE)
    flat = plane_ranges(np.array([[5.0, 5.0], [0.0, 1.0]]))
    assert flat[0] == pytest.approx((5 - MARGIN * 5, 5 + MARGIN * 5))  # a constant input
    grid = plane_grid(((0.0, 1.0), (10.0, 14.0)), 5)
    assert grid.shape == (5, 5)
    P = grid.points()
    assert P.shape == (2, 25)
    assert tuple(P[:, 7]) == (grid.x1[2], grid.x2[1])  # row by row: column i * nx + j
    left, bottom, width, height = grid.rect()  # pixels centred on the grid points
    assert (left, bottom, width, height) == pytest.approx((-0.125, 9.5, 1.25, 5.0))
    with pytest.raises(ValueError, match="shape"):
        plane_ranges(np.zeros((3, 4)))


def test_the_unit_colour_scales():
    units = np.array([[[0.0, 2.5]], [[-0.5, 1.0]]])
    assert unit_levels("sigmoid", units) == (0.0, 1.0)
    assert unit_levels("tanh", units) == (-1.0, 1.0)
    for name in ("relu", "leaky_relu", "linear"):
        assert unit_levels(name, units) == (-2.5, 2.5)
    assert unit_levels("relu", np.zeros((2, 3, 3))) == (-1.0, 1.0)  # all dead: no 0/0


def test_only_a_two_input_network_has_a_plane():
    net = Network(NetworkSpec(3, [4], ["tanh"], 1, "sigmoid"))
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        plane_picture(*net.get_parameters(), net.spec.activations, RANGES)


def test_the_output_colour_scales():
    value = np.array([[0.2, 1.7], [-0.4, 0.5]])
    assert output_levels("sigmoid", value) == (0.0, 1.0)
    assert output_levels("linear", value) == pytest.approx((-0.7, 1.7))  # 0.5 in the middle
    assert output_levels("tanh", np.full((2, 2), 0.6)) == (0.0, 1.0)  # at least [0, 1]
    net = network("tanh", "softmax")
    pic = plane_picture(*net.get_parameters(), net.spec.activations, RANGES, resolution=5)
    strength = winner_strength(pic, "softmax")
    np.testing.assert_allclose(strength, (pic.output.max(axis=0) - 1 / 3) / (2 / 3), rtol=REL)
    assert strength.min() >= 0 and strength.max() <= 1
    np.testing.assert_array_equal(winner_strength(pic, "sigmoid"),
                                  np.clip(pic.output.max(axis=0), 0, 1))


def test_a_grid_computed_in_chunks_joins_up():
    """64-unit layers are computed 64 points at a time (one-thread products): every chunk
    lands in its place."""
    from desktop_nn.inspect.plane import chunk_size

    net = Network(NetworkSpec(2, [64, 64], ["tanh"], 3, "softmax"), dtype="float64", seed=5)
    W, b = net.get_parameters()
    assert chunk_size(W) == 64 and chunk_size(W[:1]) == 2048
    pic = plane_picture(W, b, net.spec.activations, RANGES, resolution=30, unit_resolution=17)
    A, caches = net.forward(pic.grid.points())  # 900 points: 15 chunks, the last one short
    np.testing.assert_allclose(pic.output.reshape(3, -1), A, rtol=REL, atol=0)
    _, caches = net.forward(pic.unit_grid.points())
    for layer in range(2):
        np.testing.assert_allclose(pic.units[layer].reshape(64, -1), caches[layer].a,
                                   rtol=REL, atol=0)
