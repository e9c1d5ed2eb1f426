"""A table of examples from a CSV or TSV file with a header line: every numeric column but the
target becomes a feature (a row of X (n_x, m)), the target column's values become the classes.

The file (docs/tables.md says the same for users):
- UTF-8 text (a byte-order mark is allowed), at most :data:`MAX_TABLE_FILE_BYTES`, a regular
  file only (data/user_files.py); row 1 is the header naming the columns (names not empty,
  printable and distinct), every other non-blank row has one value per column.
- The delimiter: a tab for ``.tsv`` / ``.tab``; a comma for ``.csv``, unless the header line
  holds no comma but a semicolon, tab or bar (then that one, "sniffed"); for any other name the
  one of those four the header line holds most (sniffed). :attr:`Table.delimiter_how` says
  which and why.
- A number is what Python's ``float`` reads, without underscores, finite, at most
  FLOAT32_MAX in size ("1", "-2.5", "3e-4"). A cell that is empty or ``NA``, ``N/A``, ``NaN``,
  ``null``, ``None`` or ``?`` is a missing value.
- Feature columns: every column that holds at least one number, except the target. A missing
  value or a value that is not a number in one of them is refused, naming the file, the row
  (counted as a spreadsheet counts it: the header is row 1) and the column. A column with no
  number at all (text, or empty) is left out of the features, with a note naming it, unless
  its values are numbers written with a decimal comma ("1,5"): that is refused.
- The target column's values, as text (stripped), are the class names: sorted as numbers when
  all of them are numbers (one number written two ways, "1" and "1.0", is refused), else as
  text; at least 2, at most :data:`MAX_CLASSES`; a missing one is refused with its row.

Reading is bounded (the file's size) and never guesses silently: every column left out is
said in :attr:`Table.notes`.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_nn.data.class_names import class_names_problem, printable, unprintable
from desktop_nn.data.dataset import (
    TABLE_FACTOR,
    Dataset,
    Normalisation,
    PreparedData,
    stratified_split,
    targets_from_labels,
)
from desktop_nn.data.npz_data import MAX_CLASSES, DataFileError
from desktop_nn.data.table_precision import float32_notes
from desktop_nn.data.user_files import FileRefused, open_regular, os_error_reason, read_whole, shown

MAX_TABLE_FILE_BYTES = 128 << 20  # 128 MiB of text: a bigger table is refused unread
MAX_COLUMNS = 100_000
HEADER_BYTES = 1 << 20  # read_header reads at most this much to find the header line
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
TABLE_KIND = "table"  # a model file's preprocessing "kind" for a model trained on a table
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})  # compared in lower case
_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "bar"}
ROW_1 = "(the header is row 1)"  # rows are counted as a spreadsheet counts them
# the largest value a float32 holds: X is float32, so a larger one would become inf
FLOAT32_MAX = float(np.finfo(np.float32).max)
# "1,5", "-0,25", "1,500": a number written with a decimal comma (as a ;-separated file often
# holds) or a thousands separator
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+")


class TableError(DataFileError):
    """A table that cannot be used; the message names the file (and row and column)."""


def is_table_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a table by its extension (.csv, .tsv, .tab, .txt)."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def is_table(preprocessing: object) -> bool:
    """Whether a model file's (or a data set's) preprocessing is a table's."""
    return isinstance(preprocessing, dict) and preprocessing.get("kind") == TABLE_KIND


@dataclass
class Column:
    """What one column holds. kind: "numeric" (at least one number: a feature, unless it is
    the target), "text" (values but no number) or "empty"; role: "feature", "target" or
    "left out". min / max / mean over its numbers; distinct: its distinct text values, counted
    up to MAX_CLASSES + 1 (text columns and the target)."""

    name: str
    kind: str
    role: str
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    distinct: int | None = None
    example: str | None = None  # a text value it holds (the first), for the notes

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "role": self.role, "min": self.min,
                "max": self.max, "mean": self.mean, "distinct": self.distinct}


@dataclass
class Table:
    """A table read by :func:`read_table`.

    values: (m, n_x) float64, one example per row as in the file, columns in ``feature_names``
    order; rows: (m,) the spreadsheet row number of each example (the header is row 1);
    labels: (m,) int64 class indices into ``class_names`` (None without a target);
    target_values: (m,) the target column's text (None without a target)."""

    path: str  # as :func:`shown` gives it: to show, not to open
    delimiter: str
    delimiter_how: str
    columns: list[Column]
    feature_names: list[str]
    values: np.ndarray
    rows: np.ndarray
    target: str | None = None
    class_names: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None
    target_values: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def m(self) -> int:
        return int(self.values.shape[0])

    @property
    def X(self) -> np.ndarray:  # noqa: N802 (the course's name)
        """(n_x, m) float32, one example per column, the raw values."""
        return np.ascontiguousarray(self.values.T, dtype=np.float32)

    def counts(self) -> dict[str, int]:
        """Examples per class, in class order."""
        if self.labels is None:
            return {}
        per = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, per, strict=True)}


def _number(text: str) -> float | None:
    """``text`` (stripped) as a finite number, or None."""
    try:
        v = float(text)
    except ValueError:
        return None
    if "_" in text or not math.isfinite(v):  # float() reads "1_000", "nan" and "inf"
        return None
    return v


def _delimiter(path: Path, header_line: str) -> tuple[str, str]:
    """(delimiter, how it was chosen) from the extension, else sniffed from the header."""
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t", f"tab (the extension {suffix})"
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    if suffix == ".csv" and (counts[","] or not any(counts.values())):
        return ",", "comma (the extension .csv)"
    best = max(counts, key=lambda d: counts[d])  # a tie: the first of , tab ; |
    if counts[best] == 0:
        return ",", "comma (the header line holds no delimiter: one column)"
    return best, f"{_DELIMITERS[best]} (sniffed from the header line)"


def _read(path: Path, name: str, header: bool = False) -> bytes:
    """The file's bytes, a regular file's only: all of them (at most MAX_TABLE_FILE_BYTES),
    or the first HEADER_BYTES (``header``). Raises TableError naming the file."""
    try:
        f, st = open_regular(path, None if header else MAX_TABLE_FILE_BYTES)
        with f:
            return f.read(HEADER_BYTES) if header else read_whole(f, st)
    except FileRefused as exc:
        raise TableError(f"{name}: {exc}") from None
    except OSError as exc:
        raise TableError(f"{name}: {os_error_reason(exc)}") from None


def _decode(name: str, data: bytes) -> str:
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        raise TableError(f"{name}: line {line} holds a NUL byte: this is not a text table")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TableError(f"{name}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x} "
                         f"at offset {exc.start:,}); save the table as UTF-8") from None


def _header(name: str, fields: list[str]) -> list[str]:
    columns = [f.strip() for f in fields]
    if len(columns) > MAX_COLUMNS:
        raise TableError(f"{name}: {len(columns):,} columns, over the limit of {MAX_COLUMNS:,}")
    seen: dict[str, int] = {}
    for i, c in enumerate(columns, start=1):
        if c == "":
            raise TableError(f"{name}: column {i} has no name in the header (row 1); every "
                             f"column needs one")
        bad = unprintable(c)
        if bad is not None:
            raise TableError(f"{name}: the name of column {i} ('{printable(c)[:80]}') holds the "
                             f"control character {bad}")
        if c in seen:
            raise TableError(f"{name}: columns {seen[c]} and {i} are both named '{c}'; each "
                             f"column needs a name of its own")
        seen[c] = i
    return columns


def _records(name: str, text: str, delimiter: str):
    """(spreadsheet row number, fields) of every record, the header first (row 1)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    row = 0
    try:
        for fields in reader:
            row += 1
            yield row, fields
    except csv.Error as exc:
        raise TableError(f"{name}: row {row + 1} {ROW_1} cannot be read as "
                         f"{_DELIMITERS[delimiter]}-separated values ({exc})") from None


def read_header(path: str | os.PathLike) -> list[str]:
    """The column names of the table at ``path`` (its first line, at most
    :data:`HEADER_BYTES` read), for a chooser of the target column. Raises TableError."""
    p = Path(path)
    name = shown(str(p))
    data = _read(p, name, header=True)
    end = data.find(b"\n")
    if end < 0 and len(data) == HEADER_BYTES:
        raise TableError(f"{name}: its first line is longer than {HEADER_BYTES:,} bytes; is "
                         f"it a table?")
    text = _decode(name, data if end < 0 else data[:end])
    delimiter, _ = _delimiter(p, text)
    for _, fields in _records(name, text, delimiter):
        return _header(name, fields)
    raise TableError(f"{name}: is empty: its first line must name the columns")


class _Values:
    """One column's values as they are read: numbers kept (float64), text noted."""

    def __init__(self, keep_text: bool) -> None:
        self.numbers = array("d")
        self.n_numbers = 0
        self.problem: tuple[int, str] | None = None  # (row, what) of its first bad value
        self.text: list[str] | None = [] if keep_text else None
        self.distinct: set[str] = set()
        self.example: str | None = None
        self.comma: tuple[int, str] | None = None  # the first value with a decimal comma
        self.all_comma = True  # no value but numbers with a decimal comma (or missing)

    def add(self, row: int, value: str) -> None:
        v = value.strip()
        x = _number(v)
        if self.text is not None:
            self.text.append(v)
        if x is not None:
            self.numbers.append(x)
            self.n_numbers += 1
            if abs(x) > FLOAT32_MAX and self.problem is None:  # inf once made float32
                self.problem = (row, f"'{printable(v)[:40]}' is too large for float32: a "
                                     f"value's size must be at most {FLOAT32_MAX:.7g}")
            return
        self.numbers.append(math.nan)
        if v.lower() in MISSING:
            what = "a missing value" + ("" if v == "" else f" ('{printable(v)[:40]}')")
        else:
            what = f"'{printable(v)[:40]}' is not a number"
            if _DECIMAL_COMMA.fullmatch(v):
                what += " (a comma in a number: the decimal point is '.', with no " \
                        "thousands separator)"
                if self.comma is None:
                    self.comma = (row, what)
            else:
                self.all_comma = False
            if self.example is None:
                self.example = v
            if len(self.distinct) <= MAX_CLASSES:
                self.distinct.add(v)
        if self.problem is None:
            self.problem = (row, f"{what}; every value of a feature column must be a number")

    def decimal_commas(self) -> tuple[int, str] | None:
        """(row, what) of the first value of a column whose every value (the missing ones
        aside) is a number written with a decimal comma; None for any other column."""
        return self.comma if self.all_comma and self.n_numbers == 0 else None


def read_table(path: str | os.PathLike, target: str | None = None,
               features: list[str] | None = None) -> Table:
    """Read the table at ``path`` (see the module docstring) -> :class:`Table`.

    ``target``: the column holding the classes (None: no classes, e.g. to inspect the
    columns). ``features``: the feature columns to read, in this order (a model's, to predict
    rows): those must be present and numeric, every other column is ignored, and ``target`` is
    read only when present. Raises :class:`TableError` (a DataFileError) with a one-line
    message naming the file, and the row and column where one is at fault."""
    p = Path(path)
    name = shown(str(p))
    text = _decode(name, _read(p, name))
    end = text.find("\n")
    delimiter, how = _delimiter(p, text if end < 0 else text[:end])
    records = _records(name, text, delimiter)
    head = next(records, None)
    if head is None or not any(f.strip() for f in head[1]):
        raise TableError(f"{name}: is empty: its first line must name the columns")
    columns = _header(name, head[1])
    listed = ", ".join(f"'{c}'" for c in columns)
    if target is not None and not isinstance(target, str):
        raise TableError(f"{name}: the target must be a column's name (text), got "
                         f"{target!r:.80}")
    if features is None and target is not None and target not in columns:
        one = f" (delimiter: {how})" if len(columns) == 1 else ""  # the wrong one?
        raise TableError(f"{name}: has no column '{target}' to take the classes from; its "
                         f"columns are {listed}{one}")
    if features is not None:
        absent = [c for c in features if c not in columns]
        if absent:
            raise TableError(f"{name}: has no column {', '.join(repr(c) for c in absent)}, "
                             f"which the model reads; its columns are {listed}")
    has_target = target is not None and target in columns
    wanted = features if features is not None else [c for c in columns if c != target]
    index = {c: i for i, c in enumerate(columns)}
    values = {c: _Values(keep_text=False) for c in wanted}
    targets = _Values(keep_text=True) if has_target else None
    rows = array("q")
    for row, fields in records:
        if not any(f.strip() for f in fields):
            continue  # a blank line (or one of empty cells): not an example
        if len(fields) != len(columns):
            raise TableError(f"{name}: row {row} {ROW_1} has {len(fields)} values but the "
                             f"header has {len(columns)} columns (delimiter: {how})")
        rows.append(row)
        for c, col in values.items():
            col.add(row, fields[index[c]])
        if targets is not None:
            targets.add(row, fields[index[target]])
    if len(rows) == 0:
        raise TableError(f"{name}: has a header but no rows of values")

    if features is None:
        commas = [(values[c].decimal_commas(), c) for c in wanted
                  if values[c].decimal_commas() is not None]
        if commas:  # numbers a spreadsheet wrote with a decimal comma: not text to leave out
            (row, what), c = min(commas, key=lambda b: (b[0][0], wanted.index(b[1])))
            raise TableError(f"{name}: row {row} {ROW_1}, column '{c}': {what}; save the "
                             f"table with decimal points")
        feature_names = [c for c in wanted if values[c].n_numbers > 0]
    else:
        feature_names = list(features)
    bad = [(values[c].problem, c) for c in feature_names if values[c].problem is not None]
    if bad:
        (row, what), c = min(bad, key=lambda b: (b[0][0], feature_names.index(b[1])))
        kind = "a feature column" if features is None else "a column the model reads"
        raise TableError(f"{name}: row {row} {ROW_1}, column '{c}' ({kind}): {what}")
    if not feature_names:
        raise TableError(f"{name}: has no numeric column to take as a feature (its columns "
                         f"are {listed})")
    table = Table(path=name, delimiter=delimiter, delimiter_how=how,
                  columns=_describe(columns, values, feature_names, target if has_target
                                    else None),
                  feature_names=feature_names,
                  values=np.stack([np.frombuffer(values[c].numbers, dtype=np.float64)
                                   for c in feature_names], axis=1),
                  rows=np.frombuffer(rows, dtype=np.int64).copy())
    for col in table.columns:
        if col.role == "left out":
            table.notes.append(f"{name}: column '{col.name}' holds no numbers ("
                               + (f"text such as '{printable(col.example)[:40]}'"
                                  if col.example is not None else "it is empty")
                               + "): left out of the features")
    table.notes += float32_notes(name, feature_names, table.values)
    if has_target:
        _classes(table, name, target, targets, features is None)
    return table


def _describe(columns: list[str], values: dict[str, _Values], feature_names: list[str],
              target: str | None) -> list[Column]:
    out = []
    for c in columns:
        if c == target:
            out.append(Column(c, "target", "target"))
            continue
        col = values.get(c)
        if col is None:  # a column a model does not read: not looked at
            out.append(Column(c, "not read", "ignored"))
            continue
        role = "feature" if c in feature_names else "left out"
        if col.n_numbers == 0:
            kind = "text" if col.example is not None else "empty"
            out.append(Column(c, kind, role, distinct=len(col.distinct) or None,
                              example=col.example))
            continue
        a = np.frombuffer(col.numbers, dtype=np.float64)
        a = a[np.isfinite(a)]
        out.append(Column(c, "numeric", role, float(a.min()), float(a.max()),
                          float(a.mean())))
    return out


def _classes(table: Table, name: str, target: str, targets: _Values, training: bool) -> None:
    """The target column's values -> table.class_names, labels and target_values. For
    training: every value present, at least 2 and at most MAX_CLASSES classes."""
    texts = targets.text or []
    table.target, table.target_values = target, texts
    if not training:  # predicting: the target only reports accuracy, whatever it holds
        return
    for row, v in zip(table.rows, texts, strict=True):
        if v.lower() in MISSING:
            raise TableError(f"{name}: row {row} {ROW_1}, column '{target}' (the target): a "
                             f"missing value; every example needs its class")
        bad = unprintable(v)
        if bad is not None:
            raise TableError(f"{name}: row {row} {ROW_1}, column '{target}' (the target): the "
                             f"class '{printable(v)[:40]}' holds the control character {bad}")
    distinct = set(texts)
    if len(distinct) > MAX_CLASSES:
        raise TableError(f"{name}: the target column '{target}' holds {len(distinct):,} "
                         f"different values, over the limit of {MAX_CLASSES:,} classes; is it "
                         f"the right column?")
    if len(distinct) < 2:
        raise TableError(f"{name}: the target column '{target}' holds one value only "
                         f"('{printable(texts[0])[:40]}'); at least 2 classes are needed")
    numbers = {v: _number(v) for v in distinct}
    if all(x is not None for x in numbers.values()):
        first: dict[float, str] = {}  # a number -> the first text it is written as
        for row, v in zip(table.rows, texts, strict=True):
            if first.setdefault(numbers[v], v) != v:  # "1" and "1.0": one class, or two?
                raise TableError(f"{name}: row {row} {ROW_1}, column '{target}' (the target): "
                                 f"'{printable(v)[:40]}' is the same number as the class "
                                 f"'{printable(first[numbers[v]])[:40]}'; write each class "
                                 f"one way")
        names = sorted(distinct, key=lambda v: (numbers[v], v))
    else:
        names = sorted(distinct)
    problem = class_names_problem(names)
    if problem is not None:
        raise TableError(f"{name}: the target column '{target}': {problem}")
    lookup = {v: i for i, v in enumerate(names)}
    table.class_names = names
    table.labels = np.array([lookup[v] for v in texts], dtype=np.int64)
    for col in table.columns:
        if col.name == target:
            col.distinct = len(names)


def table_preprocessing(table: Table) -> dict:
    """What a model file keeps to read new rows: the feature columns in input order, the
    target column and the class names (io/model_checks.py checks it)."""
    return {"kind": TABLE_KIND, "feature_columns": list(table.feature_names),
            "target_column": table.target, "class_names": list(table.class_names)}


TABLE_NORMALISATIONS = ("standardise", "none")


def prepare_table_data(table: Table, val_split: float = 0.1, seed: int = 0,
                       normalisation: str = "standardise") -> PreparedData:
    """Split ``table`` (a stratified seeded ``val_split`` held out for validation) and make
    X (n_x, m) float32: standardised per feature with the training part's mean and std
    (``"standardise"``: x = (v - mean) / std; a feature constant in training gets std 1), or
    the values as they are (``"none"``)."""
    if table.labels is None:
        raise TableError(f"{table.path}: no target column was named: the classes come from "
                         f"one of its columns ({', '.join(table.feature_names)}, ...)")
    if normalisation not in TABLE_NORMALISATIONS:
        raise TableError(f"{table.path}: a table's values are standardised or used as they "
                         f"are ({' or '.join(TABLE_NORMALISATIONS)}), not {normalisation!r}")
    n_classes = len(table.class_names)
    train_idx, val_idx = np.arange(table.m), np.arange(0)
    if val_split > 0:
        train_idx, val_idx = stratified_split(table.labels, val_split, seed)
    norm = Normalisation.fit(normalisation, table.values[train_idx], factor=TABLE_FACTOR)

    def make(idx: np.ndarray) -> Dataset | None:
        if idx.size == 0:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            X = norm.apply(table.values[idx])
        wide = np.flatnonzero(~np.isfinite(X).all(axis=1))
        if wide.size:  # v - mean beyond float32, from values near its limit of either sign
            raise TableError(f"{table.path}: the column '{table.feature_names[wide[0]]}' "
                             f"spans more than float32 holds once its mean is taken off; "
                             f"rescale it")
        return Dataset(X, targets_from_labels(table.labels[idx], n_classes),
                       list(table.class_names))

    return PreparedData(train=make(train_idx), val=make(val_idx), test=None,
                        normalisation=norm, class_names=list(table.class_names),
                        input_shape=None, preprocessing=table_preprocessing(table))
