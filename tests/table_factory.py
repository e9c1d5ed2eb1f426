"""Small tables for the tests, written into tmp_path (never kept in the repository)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPECIES = ("setosa", "versicolor", "virginica")
FEATURES = ("sepal length", "petal width", "weight")


def table_rows(m: int = 90, seed: int = 0, weight: float = 1.0
               ) -> tuple[np.ndarray, list[str]]:
    """(m, 3) feature values of very different scales (the third, 'weight', times
    ``weight``), and each row's class (3 classes, told apart by the features)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % 3
    values = np.column_stack([5 + labels + 0.3 * rng.standard_normal(m),
                              0.1 * labels + 0.03 * rng.standard_normal(m),
                              weight * (1000 + 300 * labels + 50 * rng.standard_normal(m))])
    return np.round(values, 4), [SPECIES[k] for k in labels]


def write_table(path: Path, m: int = 90, seed: int = 0, delimiter: str = ",",
                text_column: bool = True, weight: float = 1.0) -> Path:
    """A table with a header: the three features, a text column 'name' (left out of the
    features) when ``text_column``, and the target 'species' last."""
    values, classes = table_rows(m, seed, weight)
    header = [*FEATURES, *(["name"] if text_column else []), "species"]
    lines = [delimiter.join(header)]
    for i, (row, cls) in enumerate(zip(values, classes, strict=True)):
        cells = [repr(float(v)) for v in row] + ([f"plant {i}"] if text_column else [])
        lines.append(delimiter.join([*cells, cls]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
