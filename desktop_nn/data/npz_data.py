"""Data sets stored as .npz arrays (no pickle), for users who have arrays rather than images.

Accepted keys, X always (n_x, m) with one example per column:
    X, Y                                   one set (split off validation with val_split)
    X_train, Y_train [, X_val, Y_val] [, X_test, Y_test]
    class_names (C,)                       strings or whole numbers, optional
    input_shape [H, W, C]                  optional: three whole numbers of at least 1, H*W*C = n_x

What is accepted, everything else refused with a :class:`DataFileError` naming the file:
    X  2-D, at least one feature and one example, integer or floating point (not bool, complex,
       text), every value finite; uint8 X is scaled to [0, 1], float64 stays float64, the
       rest becomes float32.
    Y  class labels (m,) or (1, m): whole numbers 0 .. MAX_CLASSES - 1 (bool, integer, or
       floating point holding whole values); or one-hot targets (C, m), 2 <= C <= MAX_CLASSES,
       every value exactly 0 or 1 with one 1 in each column (bool, integer or floating point).
    The number of classes is the largest of: 2, the one-hot rows, the largest label + 1, the
    class names; a one-hot Y must have that many rows. At most :data:`MAX_CLASSES`.

Reading is bounded (:mod:`desktop_nn.data.npz_archive`): only a regular file is opened, the
zip's members are checked against the file's size, each array's shape and dtype come from its
``.npy`` header and are checked, and the memory the arrays need is checked against what is
available, all before any array's data are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_nn.data.class_names import class_names_problem
from desktop_nn.data.dataset import Dataset, targets_from_labels
from desktop_nn.data.memory import NotEnoughMemory, check_memory
from desktop_nn.data.npz_archive import ArrayHeader, NpzArchive, NpzError
from desktop_nn.data.user_files import FileRefused, open_regular, os_error_reason, shown

MAX_CLASSES = 10_000  # a data set with more classes (labels, one-hot rows or names) is refused
MAX_SHAPE_VALUES = 16  # an input_shape member holding more values is refused unread
_NUMBER_KINDS = "iuf"  # integer, unsigned, floating point
_LABEL_KINDS = "biuf"


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""


@dataclass
class NpzData:
    train: Dataset
    val: Dataset | None
    test: Dataset | None
    class_names: list[str]
    input_shape: tuple[int, int, int] | None
    source: str  # the file, as :func:`shown` gives it (a valid str, to show and save)
    scaled_from_uint8: bool = False


def load_npz_dataset(path: str | Path) -> NpzData:
    """Read a data set .npz. Raises DataFileError."""
    name = shown(str(path))  # for messages: a name that is not UTF-8 is escaped
    try:
        fp, _ = open_regular(path, None)  # a FIFO or a device would block or never end
    except FileRefused as exc:
        raise DataFileError(f"{name}: {exc}") from None
    except OSError as exc:  # missing, a symlink loop, no permission
        raise DataFileError(f"{name}: {os_error_reason(exc)}") from None
    except ValueError:  # a NUL byte in the name
        raise DataFileError(f"{name}: no such file") from None
    try:
        with NpzArchive(path, file=fp) as archive:
            return _Reader(archive, name).read()
    except NpzError as exc:
        raise DataFileError(f"{name}: {exc}") from None
    except NotEnoughMemory as exc:
        raise DataFileError(f"{name}: {exc}") from None
    except MemoryError as exc:  # the estimate was short: still named, still one line
        raise DataFileError(f"{name}: not enough memory to load it ({exc})") from None


def _kind_problem(h: ArrayHeader, key: str, kinds: str, what: str) -> str | None:
    kind = h.dtype.kind
    if kind in kinds:
        return None
    if kind == "c":
        return f"{key} must hold real numbers, got dtype {h.dtype} (complex)"
    return f"{key} must be {what}, got dtype {h.dtype}"


class _Reader:
    """One data set's arrays: every header checked first, then the data read."""

    def __init__(self, archive: NpzArchive, name: str) -> None:
        self.z = archive
        self.name = name

    def fail(self, problem: str, key: str | None = None) -> DataFileError:
        where = self.name if key is None else f"{self.name} [{key}]"
        return DataFileError(f"{where}: {problem}")

    def pairs(self) -> dict[str, tuple[str, str]]:
        """{split: (X key, Y key)} of the splits present."""
        names = set(self.z.names)
        if "X_train" in names:
            pairs = {"train": ("X_train", "Y_train"), "val": ("X_val", "Y_val"),
                     "test": ("X_test", "Y_test")}
        elif "X" in names:
            pairs = {"train": ("X", "Y")}
        else:
            found = sorted(names)
            more = f" and {len(found) - 20} more" if len(found) > 20 else ""
            raise self.fail(f"expected arrays X and Y, or X_train and Y_train; found "
                            f"{found[:20]}{more}")
        present = {}
        for split, (xk, yk) in pairs.items():
            if xk in names or yk in names:
                if xk not in names or yk not in names:
                    raise self.fail(f"has {xk if xk in names else yk} "
                                    f"but not {yk if xk in names else xk}")
                present[split] = (xk, yk)
        return present

    # ------------------------------------------------------------------ headers
    def x_header(self, key: str) -> ArrayHeader:
        h = self.z.header(key)
        problem = _kind_problem(h, key, _NUMBER_KINDS, "numeric")
        if problem is None and len(h.shape) != 2:
            problem = f"{key} must be 2-D (n_x, m), got shape {h.shape}"
        elif problem is None and h.shape[0] == 0:
            problem = f"{key} has no features (shape {h.shape}): each column needs a value"
        elif problem is None and h.shape[1] == 0:
            problem = f"{key} has no examples (shape {h.shape})"
        if problem is not None:
            raise self.fail(problem, key)
        return h

    def y_header(self, key: str, xk: str, x: ArrayHeader) -> ArrayHeader:
        h = self.z.header(key)
        problem = _kind_problem(h, key, _LABEL_KINDS, "class labels or one-hot targets "
                                "(numbers)")
        if problem is not None:
            raise self.fail(problem, key)
        if len(h.shape) not in (1, 2) or h.shape[0] == 0:
            raise self.fail(f"{key} must be labels of shape (m,) or (1, m), or one-hot "
                            f"targets (C, m); got shape {h.shape}", key)
        if len(h.shape) == 2 and h.shape[0] > MAX_CLASSES:
            raise self.fail(f"{key} has {h.shape[0]:,} rows (classes), over the limit of "
                            f"{MAX_CLASSES:,} classes", key)
        m, n = x.shape[1], h.shape[-1]
        if n != m:
            hint = ""
            if x.shape[0] == n:
                hint = " (X looks transposed: use one example per column)"
            elif len(h.shape) == 2 and h.shape[0] == m:
                hint = f" ({key} looks transposed: labels (m,) or (1, m), one-hot (C, m))"
            raise self.fail(f"{m} examples in {xk} but {n} in {key}{hint}", xk)
        return h

    # ------------------------------------------------------------------ data
    def labels(self, key: str, h: ArrayHeader) -> tuple[np.ndarray, int | None]:
        """(m,) int64 labels of ``key``, checked, and its one-hot rows (None for labels)."""
        y = self.z.read(key)
        if h.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise self.fail(f"{key} holds NaN or infinite values", key)
        if y.ndim == 2 and y.shape[0] > 1:
            if not np.all((y == 0) | (y == 1)):
                raise self.fail(f"one-hot {key} must hold only 0 and 1, found "
                                f"{y[(y != 0) & (y != 1)].flat[0].item()!r}", key)
            ones = np.count_nonzero(y, axis=0)
            bad = np.flatnonzero(ones != 1)
            if bad.size:
                raise self.fail(f"one-hot {key} must have exactly one 1 in each column; "
                                f"column {bad[0]} has {ones[bad[0]]}", key)
            return y.argmax(axis=0).astype(np.int64), y.shape[0]
        v = y.ravel()
        if h.dtype.kind == "f" and np.any(v != np.round(v)):
            raise self.fail(f"labels must be whole numbers 0..C-1, found "
                            f"{v[v != np.round(v)][0].item()!r}", key)
        lo, hi = (v.min().item(), v.max().item()) if v.size else (0, 0)
        if lo < 0:
            raise self.fail(f"labels must be whole numbers 0..C-1, found {lo!r}", key)
        if hi >= MAX_CLASSES:
            raise self.fail(f"label {hi!r} is too large: at most {MAX_CLASSES:,} classes "
                            f"are allowed (labels 0..{MAX_CLASSES - 1})", key)
        return v.astype(np.int64), None

    def features(self, key: str, h: ArrayHeader) -> np.ndarray:
        x = self.z.read(key)
        if h.dtype == np.uint8:
            return x.astype(np.float32) / np.float32(255)
        with np.errstate(over="ignore", invalid="ignore"):  # too big for float32: inf, refused
            x = x.astype(np.float64 if h.dtype == np.float64 else np.float32, copy=False)
        if not np.all(np.isfinite(x)):
            raise self.fail(f"{key} contains NaN or infinite values", key)
        return x

    def class_names(self) -> list[str] | None:
        if "class_names" not in self.z:
            return None
        h = self.z.header("class_names")
        problem = _kind_problem(h, "class_names", "USbiu", "text or whole numbers")
        if problem is None and len(h.shape) != 1:
            problem = f"class_names must be 1-D, one name per class; got shape {h.shape}"
        elif problem is None and h.shape[0] > MAX_CLASSES:
            problem = (f"class_names holds {h.shape[0]:,} names, over the limit of "
                       f"{MAX_CLASSES:,} classes")
        if problem is not None:
            raise self.fail(problem)
        names = self.z.read("class_names")
        if h.dtype.kind == "S":
            return [bytes(c).decode("utf-8", "backslashreplace") for c in names]
        if h.dtype.kind == "U":
            return [shown(str(c)) for c in names]
        return [str(int(c)) for c in names]

    def input_shape(self, n_x: int) -> tuple[int, int, int] | None:
        if "input_shape" not in self.z:
            return None
        h = self.z.header("input_shape")
        want = (f"input_shape must be three whole numbers of at least 1 (height, width, "
                f"channels) whose product is n_x = {n_x}")
        if h.dtype.kind not in _NUMBER_KINDS or h.size > MAX_SHAPE_VALUES:
            raise self.fail(f"{want}; got {h.size} values of dtype {h.dtype}")
        values = self.z.read("input_shape").ravel().tolist()
        whole = all(math.isfinite(v) and v == int(v) and v >= 1 for v in values)
        if len(values) != 3 or not whole or math.prod(int(v) for v in values) != n_x:
            raise self.fail(f"{want}; got {values}")
        hh, w, c = (int(v) for v in values)
        return hh, w, c

    def read(self) -> NpzData:
        present = self.pairs()
        heads: dict[str, tuple[ArrayHeader, ArrayHeader]] = {}
        n_x = None
        for split, (xk, yk) in present.items():
            x = self.x_header(xk)
            if n_x is not None and x.shape[0] != n_x:
                raise self.fail(f"{x.shape[0]} features, but the training set has {n_x}", xk)
            n_x = x.shape[0]
            heads[split] = (x, self.y_header(yk, xk, x))
        assert n_x is not None
        shape = self.input_shape(n_x)
        # what reading needs: the arrays, float copies of X, int64 labels, 1-row targets
        need = sum(x.nbytes + y.nbytes + x.size * (8 if x.dtype == np.float64 else 4)
                   + x.shape[1] * 16 for x, y in heads.values())
        m_all = sum(x.shape[1] for x, _ in heads.values())
        check_memory(need, f"its arrays ({m_all:,} examples of {n_x:,} values)")

        names = self.class_names()
        labels: dict[str, np.ndarray] = {}
        counts = [2] if names is None else [2, len(names)]
        one_hot: dict[str, int] = {}
        for split, (_, yk) in present.items():
            labels[split], rows = self.labels(yk, heads[split][1])
            if rows is not None:
                one_hot[yk] = rows
                counts.append(rows)
            elif labels[split].size:
                counts.append(int(labels[split].max()) + 1)
        n_classes = max(counts)
        if names is not None and len(names) < n_classes:
            raise self.fail(f"{len(names)} class names for {n_classes} classes")
        for yk, rows in one_hot.items():
            if rows != n_classes:
                raise self.fail(f"one-hot {yk} has {rows} rows, expected {n_classes} "
                                f"(the number of classes)", yk)
        n_y = 1 if n_classes <= 2 else n_classes
        check_memory(need + n_y * m_all * 8, f"its arrays and the targets of {n_classes:,} "
                                             f"classes for {m_all:,} examples")
        if names is not None and (problem := class_names_problem(names)) is not None:
            raise self.fail(problem[:300], "class_names")
        class_names = names if names is not None else [str(i) for i in range(n_classes)]

        sets: dict[str, Dataset] = {}
        for split, (xk, _) in present.items():
            x = self.features(xk, heads[split][0])
            sets[split] = Dataset(x, targets_from_labels(labels[split], n_classes),
                                  class_names)
        return NpzData(train=sets["train"], val=sets.get("val"), test=sets.get("test"),
                       class_names=class_names, input_shape=shape,
                       source=self.name,
                       scaled_from_uint8=heads["train"][0].dtype == np.uint8)
