"""Weight pictures and histograms (desktop_nn.inspect.weights): pure NumPy, no Qt."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_nn.data.image_folder import flatten_planes, unflatten_planes
from desktop_nn.inspect.weights import (
    MAX_TILES,
    PAD_VALUE,
    color_tiles,
    diverging_rgb,
    first_layer_mosaic,
    first_layer_tiles,
    histogram,
    rgb_tiles,
    share,
    summarize,
    tile_at,
    tile_grid,
)

WHITE, RED, BLUE, BLACK, GRAY = (255, 255, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0), (128,) * 3


def rgb(a, *index):
    return tuple(int(v) for v in a[index])


# ---------------------------------------------------------------------------- tiles
def test_tiles_have_one_image_per_unit():
    W1 = np.random.default_rng(0).normal(size=(7, 4 * 5 * 3)).astype(np.float32)
    tiles = first_layer_tiles(W1, (4, 5, 3))
    assert tiles.shape == (7, 4, 5, 3)
    assert tiles.dtype == np.float32
    for j in range(7):
        np.testing.assert_array_equal(tiles[j], unflatten_planes(W1[j], (4, 5, 3)))


def test_a_hand_built_rgb_row_unflattens_to_the_right_pixels():
    # 2x2 RGB image, channel planes: all red (row by row), then all green, then all blue
    row = np.array([1, 2, 3, 4,  10, 20, 30, 40,  100, 200, 300, 400], dtype=float)
    tile = first_layer_tiles(row[None, :], (2, 2, 3))[0]
    assert tile[0, 0].tolist() == [1, 10, 100]
    assert tile[0, 1].tolist() == [2, 20, 200]
    assert tile[1, 0].tolist() == [3, 30, 300]
    assert tile[1, 1].tolist() == [4, 40, 400]
    # and an image flattened by the data loader comes back unchanged
    img = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    np.testing.assert_array_equal(first_layer_tiles(flatten_planes(img)[None, :], (2, 2, 3))[0],
                                  img)


def test_gray_tiles_and_column_vectors_shape():
    W1 = np.arange(3 * 6, dtype=float).reshape(3, 6)
    tiles = first_layer_tiles(W1, (2, 3, 1))
    assert tiles.shape == (3, 2, 3, 1)
    assert tiles[1, 1, 2, 0] == W1[1, 5]


@pytest.mark.parametrize("shape", [(28, 27, 1), (28, 28, 3), (0, 5, 1)])
def test_mismatched_shape_raises_a_clear_error(shape):
    with pytest.raises(ValueError, match="n_x = 784 inputs"):
        first_layer_tiles(np.zeros((3, 784)), shape)


def test_not_a_matrix_raises():
    with pytest.raises(ValueError, match="matrix"):
        first_layer_tiles(np.zeros(784), (28, 28, 1))


# ---------------------------------------------------------------------------- colours
def test_diverging_map_is_white_at_zero_red_at_max_blue_at_min():
    tiles = np.array([[[0.0, 2.0, -2.0, 1.0, -1.0]]])  # (1, 1, 5)
    out = diverging_rgb(tiles)
    assert out.shape == (1, 1, 5, 3) and out.dtype == np.uint8
    assert rgb(out, 0, 0, 0) == WHITE
    assert rgb(out, 0, 0, 1) == RED
    assert rgb(out, 0, 0, 2) == BLUE
    # symmetric: w and -w are mirror colours (red and blue swapped)
    assert rgb(out, 0, 0, 3) == tuple(reversed(rgb(out, 0, 0, 4)))
    assert rgb(out, 0, 0, 3) == (255, 127, 127)  # k = rint(127.5) = 128


def test_diverging_map_is_symmetric_for_random_weights():
    w = np.random.default_rng(1).normal(size=(4, 3, 3))
    pos, neg = diverging_rgb(w), diverging_rgb(-w)
    np.testing.assert_array_equal(pos, neg[..., ::-1])


def test_shared_and_per_tile_scales():
    tiles = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 0.1)])  # a big and a small unit
    shared = diverging_rgb(tiles, "shared")
    per_tile = diverging_rgb(tiles, "per-tile")
    assert rgb(shared, 0, 0, 0) == RED and rgb(per_tile, 0, 0, 0) == RED
    assert rgb(per_tile, 1, 0, 0) == RED  # the small unit at full strength on its own scale
    assert rgb(shared, 1, 0, 0) == (255, 229, 229)  # ... and pale next to the big one
    with pytest.raises(ValueError, match="scale"):
        diverging_rgb(tiles, "loud")


def test_zero_tile_is_white_and_does_not_divide_by_zero():
    tiles = np.zeros((2, 3, 3))
    tiles[1, 0, 0] = -0.5
    with np.errstate(all="raise"):
        for scale in ("shared", "per-tile"):
            out = diverging_rgb(tiles, scale)
            assert (out[0] == 255).all()
            assert rgb(out, 1, 0, 0) == BLUE
            assert (rgb_tiles(np.zeros((1, 2, 2, 3)), scale) == 128).all()


def test_non_finite_weights_are_black_and_do_not_set_the_scale():
    tiles = np.array([[[np.nan, np.inf, 1.0, -1.0]]])
    out = diverging_rgb(tiles)
    assert rgb(out, 0, 0, 0) == BLACK and rgb(out, 0, 0, 1) == BLACK
    assert rgb(out, 0, 0, 2) == RED and rgb(out, 0, 0, 3) == BLUE


def test_colour_inputs_are_averaged_for_the_diverging_map():
    tiles = np.zeros((1, 1, 2, 3))
    tiles[0, 0, 0] = [3.0, 3.0, 3.0]  # likes bright pixels
    tiles[0, 0, 1] = [3.0, -3.0, 0.0]  # likes red, dislikes green: no net brightness
    out = diverging_rgb(tiles)
    assert rgb(out, 0, 0, 0) == RED and rgb(out, 0, 0, 1) == WHITE


def test_rgb_tiles_map_channels_around_mid_gray():
    tiles = np.zeros((1, 1, 3, 3))
    tiles[0, 0, 0] = [2.0, 0.0, 0.0]  # red weights only
    tiles[0, 0, 1] = [-2.0, 0.0, 0.0]
    out = rgb_tiles(tiles)
    assert out.shape == (1, 1, 3, 3) and out.dtype == np.uint8
    assert rgb(out, 0, 0, 0) == (255, 128, 128)
    assert rgb(out, 0, 0, 1) == (1, 128, 128)
    assert rgb(out, 0, 0, 2) == GRAY
    with pytest.raises(ValueError, match="3 channels"):
        rgb_tiles(np.zeros((1, 2, 2, 1)))
    np.testing.assert_array_equal(color_tiles(tiles, coloring="rgb"), out)
    with pytest.raises(ValueError, match="coloring"):
        color_tiles(tiles, coloring="sepia")


# ---------------------------------------------------------------------------- mosaic
def test_tile_grid_lays_tiles_row_by_row_with_padding():
    images = np.stack([np.full((2, 3, 3), k, dtype=np.uint8) for k in (10, 20, 30)])
    grid = tile_grid(images, columns=2, pad=1)
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1, 3) and grid.dtype == np.uint8
    assert (grid[1:3, 1:4] == 10).all()
    assert (grid[1:3, 5:8] == 20).all()
    assert (grid[4:6, 1:4] == 30).all()
    assert (grid[4:6, 5:8] == PAD_VALUE).all()  # empty cell
    assert (grid[0] == PAD_VALUE).all() and (grid[:, 4] == PAD_VALUE).all()
    assert tile_grid(images).shape == grid.shape  # ceil(sqrt(3)) = 2 columns
    assert tile_grid(images[:0]).shape == (0, 0, 3)
    assert tile_at(1.5, 6.2, (2, 3), 3, 2) == 1
    assert tile_at(4, 1, (2, 3), 3, 2) == 2
    assert tile_at(4, 5, (2, 3), 3, 2) is None  # empty cell
    assert tile_at(0, 1, (2, 3), 3, 2) is None  # padding
    assert tile_at(1, 40, (2, 3), 3, 2) is None  # right of the grid


def test_first_layer_mosaic_caps_the_number_of_tiles():
    W1 = np.random.default_rng(2).normal(size=(MAX_TILES + 50, 4))
    m = first_layer_mosaic(W1, (2, 2, 1))
    assert (m.shown, m.total, m.tile_shape, m.columns) == (MAX_TILES, MAX_TILES + 50,
                                                           (2, 2, 1), 20)
    assert m.image.shape == (20 * 3 + 1, 20 * 3 + 1, 3)
    small = first_layer_mosaic(W1[:5], (2, 2, 1), scale="per-tile", columns=10)
    assert small.columns == 5 and small.image.shape == (4, 16, 3)


# ---------------------------------------------------------------------------- histograms
def test_histogram_ignores_non_finite_values():
    a = np.array([np.nan, -np.inf, 0.0, 1.0, 1.0, 2.0, np.inf])
    counts, edges = histogram(a, bins=4)
    assert counts.sum() == 4 and len(edges) == 5
    assert edges[0] == 0.0 and edges[-1] == 2.0


def test_histogram_of_constant_and_empty_arrays():
    counts, edges = histogram(np.full((3, 3), 0.25, dtype=np.float32), bins=5)
    assert counts.sum() == 9 and edges[0] < 0.25 < edges[-1]
    counts, edges = histogram(np.array([np.nan, np.nan]), bins=5)
    assert counts.tolist() == [0] * 5 and len(edges) == 6
    with pytest.raises(ValueError):
        histogram(np.zeros(3), bins=0)


def test_share_and_summary():
    np.testing.assert_allclose(share(np.array([1, 3])), [0.25, 0.75])
    assert share(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    s = summarize(np.array([[1.0, -3.0], [np.nan, 2.0]]))
    assert s.shape == (2, 2) and s.max_abs == 3.0 and s.non_finite == 1
    assert s.mean == pytest.approx(0.0)
    assert "1 not finite" in s.text("W[1]") and s.text("W[1]").startswith("W[1] (2x2)")
    assert summarize(np.array([np.inf])).non_finite == 1
