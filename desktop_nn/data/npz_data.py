"""Data sets stored as .npz arrays (no pickle), for users who have arrays rather than images.

Accepted keys, X always (n_x, m) with one example per column:
    X, Y                                   one set (split off validation with val_split)
    X_train, Y_train [, X_val, Y_val] [, X_test, Y_test]
Y may be integer labels (m,) or (1, m), 0/1 targets (1, m), or one-hot (C, m).
Optional: class_names (C,) strings, input_shape [H, W, C]. uint8 X is scaled to [0, 1].
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_nn.data.dataset import Dataset, targets_from_labels
from desktop_nn.data.user_files import FileRefused, open_regular, shown


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""


@dataclass
class NpzData:
    train: Dataset
    val: Dataset | None
    test: Dataset | None
    class_names: list[str]
    input_shape: tuple[int, int, int] | None
    source: str
    scaled_from_uint8: bool = False


def _as_targets(y: np.ndarray, n_classes: int, where: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[0] > 1:
        if y.shape[0] != n_classes and n_classes > 2:
            raise DataFileError(f"{where}: one-hot Y has {y.shape[0]} rows, expected {n_classes}")
        return y.astype(np.float64)
    labels = y.ravel()
    if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
        raise DataFileError(f"{where}: labels must be whole numbers 0..C-1")
    return targets_from_labels(labels.astype(np.int64), n_classes)


def _n_classes(arrays: dict[str, np.ndarray], y_keys: list[str]) -> int:
    counts = []
    for k in y_keys:
        y = np.asarray(arrays[k])
        if y.ndim == 2 and y.shape[0] > 1:
            counts.append(y.shape[0])
        else:
            counts.append(int(np.max(y)) + 1 if y.size else 0)
    return max(2, *counts)


def _features(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim != 2:
        raise DataFileError(f"{where}: X must be 2-D (n_x, m), got shape {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255)
    if not np.issubdtype(x.dtype, np.number):
        raise DataFileError(f"{where}: X must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32)
    if not np.all(np.isfinite(x)):
        raise DataFileError(f"{where}: X contains NaN or infinite values")
    return x


def load_npz_dataset(path: str | Path) -> NpzData:
    """Read a data set .npz. Raises DataFileError."""
    source = str(path)
    path = Path(path)
    name = shown(source)  # for messages: a name that is not UTF-8 is escaped
    if not path.exists():
        raise DataFileError(f"{name}: no such file")
    try:
        fp, _ = open_regular(path, None)  # a FIFO or a device would block or never end
    except FileRefused as exc:
        raise DataFileError(f"{name}: {exc}") from None
    except OSError as exc:
        raise DataFileError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        with fp, np.load(fp, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataFileError(f"{name}: not a readable .npz file ({exc})") from None
    except ValueError as exc:  # object arrays need pickle, which we never allow
        raise DataFileError(f"{name}: refused, it holds pickled objects ({exc})") from None

    if "X_train" in arrays:
        pairs = {"train": ("X_train", "Y_train"), "val": ("X_val", "Y_val"),
                 "test": ("X_test", "Y_test")}
    elif "X" in arrays:
        pairs = {"train": ("X", "Y")}
    else:
        raise DataFileError(f"{name}: expected arrays X and Y, or X_train and Y_train; "
                            f"found {sorted(arrays)}")
    present = {}
    for split, (xk, yk) in pairs.items():
        if xk in arrays or yk in arrays:
            if xk not in arrays or yk not in arrays:
                raise DataFileError(f"{name}: has {xk if xk in arrays else yk} "
                                    f"but not {yk if xk in arrays else xk}")
            present[split] = (xk, yk)
    n_classes = _n_classes(arrays, [yk for _, yk in present.values()])
    class_names = [str(c) for c in arrays["class_names"]] if "class_names" in arrays else \
        [str(i) for i in range(n_classes)]
    if len(class_names) < n_classes:
        raise DataFileError(f"{name}: {len(class_names)} class names for {n_classes} classes")
    n_classes = max(n_classes, len(class_names))

    sets: dict[str, Dataset] = {}
    n_x = None
    for split, (xk, yk) in present.items():
        where = f"{name} [{xk}]"
        x = _features(arrays[xk], where)
        y = _as_targets(arrays[yk], n_classes, f"{name} [{yk}]")
        if y.shape[1] != x.shape[1]:
            hint = " (X looks transposed: use one example per column)" \
                if x.shape[0] == y.shape[1] else ""
            raise DataFileError(f"{where}: {x.shape[1]} examples in X but {y.shape[1]} in "
                                f"{yk}{hint}")
        if n_x is not None and x.shape[0] != n_x:
            raise DataFileError(f"{where}: {x.shape[0]} features, but the training set has {n_x}")
        n_x = x.shape[0]
        sets[split] = Dataset(x, y, class_names)
    shape = None
    if "input_shape" in arrays:
        shape = tuple(int(v) for v in np.asarray(arrays["input_shape"]).ravel())
        if len(shape) != 3 or int(np.prod(shape)) != n_x:
            raise DataFileError(f"{name}: input_shape {shape} does not give n_x = {n_x}")
    return NpzData(train=sets["train"], val=sets.get("val"), test=sets.get("test"),
                   class_names=class_names, input_shape=shape, source=source,
                   scaled_from_uint8=arrays[present["train"][0]].dtype == np.uint8)
