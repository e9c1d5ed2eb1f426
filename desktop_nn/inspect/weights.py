"""Weights as pictures and histograms, free of Qt (NumPy only, host arrays).

The first layer of a fully connected network on images has one weight per input pixel and
channel, so each hidden unit's row of W[1] (n_1, n_x) is itself an image: the pattern that
excites the unit most. The inputs were flattened in *channel planes* (feature c*H*W + y*W + x
holds pixel (y, x) of channel c, see :mod:`desktop_nn.data.image_folder`), so a row is
unflattened the same way.

Two colourings, both symmetric about zero so that a zero weight always looks the same:

- :func:`diverging_rgb` - negative blue, zero white, positive red, linear in w / max|w|. For
  colour inputs (C = 3) the three channel weights of a pixel are averaged first: the picture
  shows how the unit answers a *gray* pattern (brightness), which is what most units learn.
- :func:`rgb_tiles` - colour inputs only: each channel's weights become that channel's
  intensity around mid-gray, 128 + 127 * w / max|w|, so a unit that likes red pixels looks red
  and one that dislikes them looks cyan. The colour a unit "prefers" comes back as a colour.

``scale="shared"`` divides every tile by one max|w| over all tiles (compare units with one
another: a nearly white tile is a unit with small weights); ``scale="per-tile"`` divides each
tile by its own max|w| (see the pattern of every unit, however small). A tile whose weights are
all zero (or not finite) is drawn blank, never divided by zero. Non-finite weights (a diverged
run) are drawn black so they stand out, and ignored when the maximum is taken.

:func:`tile_grid` lays many tiles into one uint8 mosaic, so a view draws a single image
whatever the number of units; :func:`first_layer_mosaic` does the whole chain for a view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCALES = ("shared", "per-tile")
COLORINGS = ("diverging", "rgb")
MAX_TILES = 400  # a view shows at most this many units of the first layer
NAN_RGB = (0, 0, 0)  # colour of a non-finite weight
HISTOGRAM_CHUNK = 1 << 18
PAD_VALUE = 96  # dark gray between tiles: white (zero) tiles stay distinct from the gaps


def first_layer_tiles(W1: np.ndarray, input_shape: tuple[int, int, int]) -> np.ndarray:
    """W1 (n_1, n_x) -> tiles (n_1, H, W, C) float, row j unflattened from channel planes.

    Row j of the result equals ``unflatten_planes(W1[j], input_shape)`` (the layout of
    :mod:`desktop_nn.data.image_folder`), done for all rows in one reshape.
    ``input_shape`` is (H, W, C) with H*W*C == n_x; raises ValueError otherwise.
    """
    W1 = np.asarray(W1)
    if W1.ndim != 2:
        raise ValueError(f"W[1] must be a matrix (n_1, n_x), got shape {W1.shape}")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {tuple(input_shape)}")
    h, w, c = (int(s) for s in input_shape)
    n_1, n_x = W1.shape
    if h <= 0 or w <= 0 or c <= 0 or h * w * c != n_x:
        raise ValueError(f"W[1] has n_x = {n_x} inputs but the image shape {h}x{w}x{c} has "
                         f"{h * w * c} values: the weights were not trained on these images")
    # unflatten_planes applied to every row at once: (n_1, C, H, W) -> (n_1, H, W, C)
    tiles = W1.reshape(n_1, c, h, w).transpose(0, 2, 3, 1)
    return np.asarray(tiles, dtype=np.float64 if W1.dtype == np.float64 else np.float32)


def _as_nhwc(tiles: np.ndarray) -> np.ndarray:
    """(n, H, W) or (n, H, W, C) -> (n, H, W, C)."""
    tiles = np.asarray(tiles)
    if tiles.ndim == 3:
        return tiles[..., None]
    if tiles.ndim != 4:
        raise ValueError(f"tiles must be (n, H, W) or (n, H, W, C), got shape {tiles.shape}")
    return tiles


def _diverging_lut() -> np.ndarray:
    """(2*255 + 2, 3) uint8: row 255 + k for level k in -255..255, the last row for NaN."""
    k = np.arange(-255, 256)
    fade = (255 - np.abs(k)).astype(np.uint8)
    full = np.full_like(fade, 255)
    lut = np.stack([np.where(k >= 0, full, fade), fade, np.where(k >= 0, fade, full)], axis=-1)
    return np.vstack([lut, np.array([NAN_RGB], dtype=np.uint8)])


DIVERGING_LUT = _diverging_lut()


def _levels(tiles: np.ndarray, scale: str, steps: int) -> tuple[np.ndarray, np.ndarray | None]:
    """tiles (n, H, W, C) -> (levels, finite): levels = rint(steps * w / max|w|) as int16 in
    -steps..steps (non-finite entries 0), finite = mask of finite entries, None if all are.

    shared: one max|w| over all finite values; per-tile: one per tile. A max of 0 becomes 1,
    so an all-zero tile is level 0 everywhere. float32 throughout: these are only colours.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    t = np.array(tiles, dtype=np.float32)  # a copy, changed in place below
    finite: np.ndarray | None = np.isfinite(t)
    if finite.all():
        finite = None
    else:
        t[~finite] = 0.0
    a = np.abs(t)
    if scale == "shared":
        peak = np.full((1, 1, 1, 1), a.max() if a.size else 0.0, dtype=np.float32)
    else:
        peak = a.reshape(len(a), -1).max(axis=1, initial=0.0).reshape(-1, 1, 1, 1)
    peak[peak <= 0] = 1.0
    np.divide(t, peak, out=t)
    np.clip(t, -1.0, 1.0, out=t)
    t *= steps
    np.rint(t, out=t)
    return t.astype(np.int16), finite


def diverging_rgb(tiles: np.ndarray, scale: str = "shared") -> np.ndarray:
    """tiles (n, H, W) or (n, H, W, C) -> (n, H, W, 3) uint8: blue < 0, white 0, red > 0.

    With k = rint(255 * w / max|w|) in -255..255: k >= 0 gives (255, 255-k, 255-k), k < 0
    gives (255-|k|, 255-|k|, 255); so 0 is white, +max red, -max blue, and w and -w are mirror
    colours (red and blue swapped). C > 1 channels are averaged first (the answer to a gray
    pattern). Non-finite weights are black.
    """
    t4 = _as_nhwc(tiles)
    if t4.shape[3] > 1:
        t4 = t4.mean(axis=3, keepdims=True, dtype=np.float32)  # NaN / inf stay non-finite
    levels, finite = _levels(t4, scale, 255)
    index = levels[..., 0] + 255
    if finite is not None:
        index[~finite[..., 0]] = len(DIVERGING_LUT) - 1
    return DIVERGING_LUT[index]


def rgb_tiles(tiles: np.ndarray, scale: str = "shared") -> np.ndarray:
    """Colour tiles (n, H, W, 3) -> (n, H, W, 3) uint8, channel value 128 + rint(127 w / max|w|).

    Zero weights are mid-gray (128, 128, 128); a unit with positive red weights is reddish, one
    with negative red weights cyan. The maximum is taken over all channels (shared: over all
    tiles too) so the channels keep their relative strength. A pixel with a non-finite weight
    in any channel is black.
    """
    t4 = _as_nhwc(tiles)
    if t4.shape[3] != 3:
        raise ValueError(f"RGB display needs 3 channels, the tiles have {t4.shape[3]}")
    levels, finite = _levels(t4, scale, 127)
    levels += 128
    rgb = levels.astype(np.uint8)
    if finite is not None:
        rgb[~finite.all(axis=3)] = NAN_RGB
    return rgb


def color_tiles(tiles: np.ndarray, scale: str = "shared", coloring: str = "diverging"
                ) -> np.ndarray:
    """Dispatch: coloring "diverging" -> :func:`diverging_rgb`, "rgb" -> :func:`rgb_tiles`."""
    if coloring == "diverging":
        return diverging_rgb(tiles, scale)
    if coloring == "rgb":
        return rgb_tiles(tiles, scale)
    raise ValueError(f"coloring must be one of {COLORINGS}, got {coloring!r}")


def grid_columns(n: int, columns: int | None = None) -> int:
    """Columns of a mosaic of n tiles: ``columns`` if given, else about square (ceil sqrt n)."""
    if columns is not None:
        if columns < 1:
            raise ValueError(f"columns must be at least 1, got {columns}")
        return int(columns)
    return max(1, math.ceil(math.sqrt(n)))


def tile_grid(images: np.ndarray, columns: int | None = None, pad: int = 1,
              pad_value: int = PAD_VALUE) -> np.ndarray:
    """images (n, h, w, 3) uint8 -> one mosaic (rows*(h+pad)+pad, cols*(w+pad)+pad, 3) uint8.

    Tiles are laid row by row (tile k at row k // cols, column k % cols), separated and framed
    by ``pad`` pixels of ``pad_value``; unused cells of the last row are padding too. columns
    defaults to :func:`grid_columns`. No tiles give a (0, 0, 3) array.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (n, h, w, channels), got shape {images.shape}")
    n, h, w, ch = images.shape
    if n == 0:
        return np.zeros((0, 0, ch), dtype=np.uint8)
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    cols = min(grid_columns(n, columns), n)
    rows = math.ceil(n / cols)
    cell_h, cell_w = h + pad, w + pad
    # every cell is a tile with `pad` pixels below and to its right: (rows*cols, h+pad, w+pad)
    cells = np.full((rows * cols, cell_h, cell_w, ch), pad_value, dtype=np.uint8)
    cells[:n, :h, :w] = images
    out = np.full((rows * cell_h + pad, cols * cell_w + pad, ch), pad_value, dtype=np.uint8)
    out[pad:, pad:] = (cells.reshape(rows, cols, cell_h, cell_w, ch).transpose(0, 2, 1, 3, 4)
                       .reshape(rows * cell_h, cols * cell_w, ch))
    return out


def tile_at(row: float, col: float, tile_shape: tuple[int, int], n: int, columns: int,
            pad: int = 1) -> int | None:
    """The tile index (0-based) under mosaic point (row, col) of :func:`tile_grid`, in pixels
    (fractions allowed: a view's mouse position); None on padding or outside."""
    h, w = tile_shape
    row, col = math.floor(row), math.floor(col)
    r, y = divmod(row - pad, h + pad)
    c, x = divmod(col - pad, w + pad)
    if row < pad or col < pad or y >= h or x >= w or c >= columns:
        return None
    k = r * columns + c
    return k if 0 <= k < n else None


@dataclass(frozen=True)
class Mosaic:
    """What a view draws for the first layer: one image and how it was made."""

    image: np.ndarray  # (rows*(H+pad)+pad, cols*(W+pad)+pad, 3) uint8
    shown: int  # tiles drawn (<= max_tiles)
    total: int  # units in the first layer
    tile_shape: tuple[int, int, int]  # (H, W, C)
    columns: int
    pad: int


def first_layer_mosaic(W1: np.ndarray, input_shape: tuple[int, int, int],
                       scale: str = "shared", coloring: str = "diverging",
                       max_tiles: int = MAX_TILES, columns: int | None = None,
                       pad: int = 1) -> Mosaic:
    """W1 (n_1, n_x) -> :class:`Mosaic` of the first ``max_tiles`` units, coloured.

    With scale "shared" the maximum is over the units drawn. Raises ValueError when the shape
    does not match n_x, or for "rgb" on non-colour inputs.
    """
    W1 = np.asarray(W1)
    total = W1.shape[0] if W1.ndim == 2 else 0
    tiles = first_layer_tiles(W1[:max_tiles], input_shape)
    images = color_tiles(tiles, scale, coloring)
    cols = min(grid_columns(len(images), columns), max(len(images), 1))
    return Mosaic(image=tile_grid(images, cols, pad), shown=len(images), total=total,
                  tile_shape=tuple(int(s) for s in input_shape), columns=cols, pad=pad)


def histogram(a: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Any array -> (counts (bins,) int64, edges (bins+1,) float64) of its finite values.

    NaN and +-inf are ignored; a constant array gets a bin range of value +- 0.5; an array with
    no finite value gets zero counts over [0, 1]. Bins are equal width over [min, max], the last
    one closed, as in ``np.histogram`` (computed with ``bincount``: a refresh of a few million
    weights stays in the tens of milliseconds).
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    v = np.asarray(a).ravel()
    if not np.issubdtype(v.dtype, np.floating):
        v = v.astype(np.float64)
    finite = np.isfinite(v)
    if not finite.all():
        v = v[finite]
    if v.size == 0:
        return np.zeros(bins, dtype=np.int64), np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(v.min()), float(v.max())
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    start, factor = v.dtype.type(lo), v.dtype.type(bins / (hi - lo))
    counts = np.zeros(bins, dtype=np.int64)
    for i in range(0, v.size, HISTOGRAM_CHUNK):  # chunks stay in cache
        scaled = v[i:i + HISTOGRAM_CHUNK] - start  # >= 0: v >= lo
        scaled *= factor
        index = scaled.astype(np.intp)
        np.minimum(index, bins - 1, out=index)  # the maximum goes to the last bin
        counts += np.bincount(index, minlength=bins)
    return counts, edges


@dataclass(frozen=True)
class ParameterSummary:
    """Plain numbers about one array of parameters (finite values only)."""

    shape: tuple[int, ...]
    mean: float
    std: float
    max_abs: float
    non_finite: int

    def text(self, name: str) -> str:
        dims = "x".join(str(s) for s in self.shape)
        bad = f", {self.non_finite} not finite" if self.non_finite else ""
        return (f"{name} ({dims}): mean {self.mean:.3g}, std {self.std:.3g}, "
                f"max |.| {self.max_abs:.3g}{bad}")


def summarize(a: np.ndarray) -> ParameterSummary:
    """Mean, standard deviation and max |value| of the finite entries; count of the others."""
    arr = np.asarray(a)
    v = arr.ravel()
    if not np.issubdtype(v.dtype, np.floating):
        v = v.astype(np.float64)
    finite = np.isfinite(v)
    f = v if finite.all() else v[finite]
    if f.size == 0:
        return ParameterSummary(arr.shape, math.nan, math.nan, math.nan, int(v.size))
    return ParameterSummary(arr.shape, float(f.mean(dtype=np.float64)),
                            float(f.std(dtype=np.float64)),
                            float(max(-f.min(), f.max())), int(v.size - f.size))


def share(counts: np.ndarray) -> np.ndarray:
    """counts (bins,) -> share of the entries per bin (sums to 1; all zero stays zero), so a
    histogram of W (thousands of entries) and one of b (tens) fit on one axis."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)
