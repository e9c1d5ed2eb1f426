"""A 2-D data set of the tests' own for the decision-boundary view: interleaved spirals,
written as an .npz of X (2, m) and labels Y (m,), which loads through the ordinary data path
(PreparedData with n_x == 2, input_shape None, no scaling)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def spiral(n_per_class: int = 150, classes: int = 2, noise: float = 0.15, turns: float = 1.5,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X (2, classes * n_per_class) in about [-1, 1]^2 and labels (m,): each class an arm."""
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.05, 1.0, n_per_class), classes)
    k = np.repeat(np.arange(classes), n_per_class)
    theta = 2 * np.pi * (turns * r + k / classes) + rng.normal(0, noise, r.size)
    X = np.stack([r * np.cos(theta), r * np.sin(theta)])
    return X.astype(np.float64), k


def write_spiral_npz(path: Path, **kwargs) -> Path:
    X, y = spiral(**kwargs)
    classes = int(y.max()) + 1
    names = np.array(["blue arm", "orange arm", "green arm", "red arm"][:classes]) \
        if classes <= 4 else None
    members = {"X": X, "Y": y} if names is None else {"X": X, "Y": y, "class_names": names}
    np.savez(path, **members)
    return path


if __name__ == "__main__":  # a file for trying the view by hand: python tests/plane_data.py OUT
    import sys

    print(write_spiral_npz(Path(sys.argv[1]), n_per_class=300))
