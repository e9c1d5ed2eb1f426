"""The input plane of a 2-input network: what it outputs, and what each hidden unit computes,
at every point of a grid over the plane (the decision-boundary view; docs/diagnostics.md,
"Decision boundary").

The plane is the network's input space: the two rows of ``Dataset.X`` as the network receives
them (after any scaling or standardisation of the data), x1 across and x2 up. The grid spans
the data's points plus a margin of :data:`MARGIN` of their span on each side. At each grid
point the network's forward pass is computed in float64 with the host copies of W[l], b[l]:

    A[0] = (x1, x2)^T        Z[l] = W[l] A[l-1] + b[l]        A[l] = g[l](Z[l])

Shapes: a grid of ``ny`` rows (x2, from low to high) by ``nx`` columns (x1, from low to high);
its ``k = ny * nx`` points are the columns of ``points()`` (2, k), row by row (column
``i * nx + j`` is the point (x1[j], x2[i])), so an image (ny, nx) is ``A.reshape(ny, nx)``.
No Qt here: the GUI only draws these arrays (gui/boundary_view.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop_nn.nn.activations import get_activation

MARGIN = 0.1  # the grid reaches this share of the points' span beyond them on each side
BOUNDARY_RESOLUTION = 100  # grid points per side of the output picture
UNIT_RESOLUTION = 32  # grid points per side of each hidden unit's picture
DEFAULT_RANGE = (-1.0, 1.0)  # each input's range when there are no points to span
MAX_CHUNK = 2048  # grid points per forward pass at most (see forward_all)
MIN_CHUNK = 64
SINGLE_THREAD_MNK = 262_144  # OpenBLAS multiplies in one thread up to m n k = 4 x 65536


@dataclass(frozen=True)
class PlaneGrid:
    """A regular grid over the plane: ``x1`` (nx,) and ``x2`` (ny,) increasing."""

    x1: np.ndarray
    x2: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx): the shape of a picture over the grid."""
        return int(self.x2.size), int(self.x1.size)

    def points(self) -> np.ndarray:
        """(2, ny * nx) float64: the grid points as network inputs, row by row."""
        g1, g2 = np.meshgrid(self.x1, self.x2)  # each (ny, nx)
        return np.stack([g1.ravel(), g2.ravel()])

    def rect(self) -> tuple[float, float, float, float]:
        """(left, bottom, width, height) of the picture: each grid point is the centre of a
        pixel, so the pixels reach half a grid step beyond the first and last points."""
        d1 = _step(self.x1)
        d2 = _step(self.x2)
        return (float(self.x1[0] - d1 / 2), float(self.x2[0] - d2 / 2),
                float(self.x1[-1] - self.x1[0] + d1), float(self.x2[-1] - self.x2[0] + d2))


def _step(x: np.ndarray) -> float:
    return float(x[1] - x[0]) if x.size > 1 else 1.0


def plane_ranges(points: np.ndarray | None, margin: float = MARGIN
                 ) -> tuple[tuple[float, float], tuple[float, float]]:
    """((lo1, hi1), (lo2, hi2)): each input's range over ``points`` (2, m), widened by
    ``margin`` times its span on each side; an input whose values are all equal is widened
    by ``margin`` times max(1, |value|) instead. No points: :data:`DEFAULT_RANGE`."""
    if points is None or points.size == 0:
        return DEFAULT_RANGE, DEFAULT_RANGE
    if points.ndim != 2 or points.shape[0] != 2:
        raise ValueError(f"points must have shape (2, m), got {points.shape}")
    out = []
    for row in np.asarray(points, dtype=np.float64):
        lo, hi = float(row.min()), float(row.max())
        span = hi - lo if hi > lo else max(1.0, abs(lo))
        out.append((lo - margin * span, hi + margin * span))
    return out[0], out[1]


def plane_grid(ranges: tuple[tuple[float, float], tuple[float, float]],
               resolution: int) -> PlaneGrid:
    """``resolution`` points per side, evenly spaced from each range's low to its high end."""
    if resolution < 2:
        raise ValueError(f"a grid needs at least 2 points per side, got {resolution}")
    (lo1, hi1), (lo2, hi2) = ranges
    return PlaneGrid(np.linspace(lo1, hi1, resolution), np.linspace(lo2, hi2, resolution))


def forward_all(W: list[np.ndarray], b: list[np.ndarray], activations: list[str],
                X: np.ndarray, layers: int | None = None,
                dtype: np.dtype | str = np.float64, last_only: bool = False
                ) -> list[np.ndarray]:
    """[A[1], ..., A[layers]] (each (n_l, k), in ``dtype``) of the network W[l]
    (n_l, n_{l-1}), b[l] (n_l, 1), g[l] = ``activations[l - 1]`` (the network's own
    formulas, nn/activations.py) at the inputs X (n_x, k); ``layers`` defaults to L (all).
    ``last_only``: only [A[layers]] (the others are not kept).

    Computed a chunk of columns at a time (:func:`chunk_size`): a layer's arrays stay in the
    processor's cache, and each product is small enough for OpenBLAS to do it in one thread.
    Split across threads, the products of 64-unit layers took 5 to 10 times longer on a
    2-core machine busy training (the threads wait for each other, benchmarks/plane_cost.py)."""
    dtype = np.dtype(dtype)
    n = len(W) if layers is None else layers
    Ws = [np.asarray(w, dtype=dtype) for w in W[:n]]
    bs = [np.asarray(x, dtype=dtype) for x in b[:n]]
    gs = [get_activation(name) for name in activations[:n]]
    X = np.asarray(X, dtype=dtype)
    k = X.shape[1]
    chunk = chunk_size(Ws)
    kept = range(n - 1, n) if last_only else range(n)
    out = {l: np.empty((Ws[l].shape[0], k), dtype=dtype) for l in kept}
    for start in range(0, k, chunk):
        a = X[:, start:start + chunk]
        for l, (w, bias, g) in enumerate(zip(Ws, bs, gs, strict=True)):
            z = w @ a
            z += bias
            a = g.forward(z)
            if l in out:
                out[l][:, start:start + chunk] = a
    return [out[l] for l in kept]


def chunk_size(W: list[np.ndarray]) -> int:
    """Grid points per pass: the most (up to MAX_CHUNK, at least MIN_CHUNK) for which every
    product W[l] A[l-1] has n_l n_{l-1} chunk <= SINGLE_THREAD_MNK."""
    widest = max((w.shape[0] * w.shape[1] for w in W), default=1)
    return int(min(MAX_CHUNK, max(MIN_CHUNK, SINGLE_THREAD_MNK // max(widest, 1))))


@dataclass
class PlanePicture:
    """What the boundary view shows, for a grid ``grid`` (ny, nx) and a coarser ``unit_grid``
    (uy, ux):

    - ``output`` (n_L, ny, nx): A[L] at each grid point;
    - ``value`` (ny, nx): with one output unit, A[L] itself (P(class 1) for a sigmoid
      output); with several, the winning unit's output (its class's probability for softmax);
    - ``winner`` (ny, nx) int: the predicted class (A[L] > 0.5 with one unit, else argmax);
    - ``units``: per hidden layer l = 1..L-1, A[l] over the unit grid, (n_l, uy, ux).
    """

    grid: PlaneGrid
    unit_grid: PlaneGrid
    output: np.ndarray
    value: np.ndarray
    winner: np.ndarray
    units: list[np.ndarray]


def plane_picture(W: list[np.ndarray], b: list[np.ndarray], activations: list[str],
                  ranges: tuple[tuple[float, float], tuple[float, float]],
                  resolution: int = BOUNDARY_RESOLUTION,
                  unit_resolution: int = UNIT_RESOLUTION,
                  dtype: np.dtype | str = np.float64) -> PlanePicture:
    """The network's output over a ``resolution``-square grid over ``ranges`` and its hidden
    units' activations over a ``unit_resolution``-square one (see :class:`PlanePicture`),
    computed in ``dtype`` (the view uses the network's own: its float32 network's values
    are what it computes). The network must have 2 inputs (W[1] is (n_1, 2))."""
    if not W or W[0].ndim != 2 or W[0].shape[1] != 2:
        shape = tuple(W[0].shape) if W else ()
        raise ValueError(f"the plane needs a network with exactly 2 inputs; W[1] is {shape}")
    grid = plane_grid(ranges, resolution)
    unit_grid = plane_grid(ranges, unit_resolution)
    ny, nx = grid.shape
    out = forward_all(W, b, activations, grid.points(), dtype=dtype,
                      last_only=True)[0]  # (n_L, ny * nx)
    output = out.reshape(-1, ny, nx)
    if output.shape[0] == 1:
        value = output[0]
        winner = (value > 0.5).astype(np.int64)
    else:
        winner = output.argmax(axis=0)
        value = np.take_along_axis(output, winner[None], axis=0)[0]
    hidden = forward_all(W, b, activations, unit_grid.points(), layers=len(W) - 1,
                         dtype=dtype)
    units = [a.reshape(-1, *unit_grid.shape) for a in hidden]
    return PlanePicture(grid, unit_grid, output, value, winner, units)


def unit_levels(activation: str, layer_units: np.ndarray) -> tuple[float, float]:
    """The colour scale of a hidden layer's unit pictures ``layer_units`` (n_l, uy, ux):
    sigmoid [0, 1], tanh [-1, 1] (the activation's whole range); relu, leaky ReLU and
    linear [-r, r] with r the largest |A| of the layer's pictures (1 when all are 0), the same
    for every unit of the layer so that they compare, 0 in the middle."""
    name = get_activation(activation).name
    if name == "sigmoid":
        return 0.0, 1.0
    if name == "tanh":
        return -1.0, 1.0
    r = float(np.max(np.abs(layer_units))) if layer_units.size else 0.0
    r = r if np.isfinite(r) and r > 0 else 1.0
    return -r, r


def output_levels(output_activation: str, value: np.ndarray) -> tuple[float, float]:
    """The colour scale of a one-unit output's picture ``value`` (ny, nx): [0, 1] for a
    sigmoid (a probability); for a tanh or linear output [0.5 - r, 0.5 + r], r the largest
    |A[L] - 0.5| over the plane (at least 0.5). Either way 0.5, where the predicted class
    changes, is the middle of the scale."""
    if get_activation(output_activation).name == "sigmoid":
        return 0.0, 1.0
    r = float(np.max(np.abs(value - 0.5))) if value.size else 0.5
    r = max(r, 0.5) if np.isfinite(r) else 0.5
    return 0.5 - r, 0.5 + r


def winner_strength(picture: PlanePicture, output_activation: str) -> np.ndarray:
    """(ny, nx) in [0, 1]: how strongly each grid point is coloured in its predicted class's
    colour when there are C >= 3 output units. Softmax: (p - 1/C) / (1 - 1/C), p the
    winner's probability (0 where all classes are equally likely, 1 where p = 1); other
    outputs: the winner's output clipped to [0, 1]."""
    value = picture.value
    if get_activation(output_activation).name == "softmax":
        c = picture.output.shape[0]
        return np.clip((value - 1.0 / c) / (1.0 - 1.0 / c), 0.0, 1.0)
    return np.clip(value, 0.0, 1.0)
