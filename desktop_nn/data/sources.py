"""Where training data come from: an image folder, the bundled sample, or an .npz of arrays.

One entry point, :func:`load_training_data`, used by the CLI and the app alike, returns the
train / validation / test sets ready for the Trainer plus how they were made (for model files).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from desktop_nn.data.dataset import (
    Dataset,
    Normalisation,
    PreparedData,
    prepare_image_data,
    stratified_split,
    targets_from_labels,
)
from desktop_nn.data.image_folder import (
    FolderError,
    ImageFolderData,
    LoadOptions,
    ProgressCallback,
    Skipped,
    load_image_folder,
    shown,
)
from desktop_nn.data.memory import TEST_BYTES_PER_VALUE, TRAIN_BYTES_PER_VALUE
from desktop_nn.data.npz_data import DataFileError, load_npz_dataset
from desktop_nn.data.table import is_table_path, prepare_table_data, read_table
from desktop_nn.data.toy2d import is_toy_spec, parse_spec, prepare_toy
from desktop_nn.data.user_files import unshown

SAMPLE_NAME = "sample"


def sample_path() -> Path:
    """The bundled digits sample: an image folder, 1000 training and 200 test MNIST images."""
    return Path(str(resources.files("desktop_nn") / "resources" / "samples" / "digits"))


def resolve(data: str | os.PathLike) -> Path:
    """``"sample"`` -> the bundled sample folder; anything else as a path (a ``toy:`` spec,
    not a path, comes back as the path of that name, which nothing opens). A name given back
    as it was shown (``d\\xffata``: a saved project's data, the Data panel's text) that names
    nothing opens the real one it was shown for, when that exists (:func:`unshown`)."""
    if str(data) == SAMPLE_NAME:
        return sample_path()
    path = Path(data).expanduser()
    if not os.path.lexists(path):
        real = unshown(str(path))
        if real is not None and os.path.lexists(real):
            return Path(real)
    return path


@dataclass
class LoadedData:
    prepared: PreparedData
    folder: ImageFolderData | None  # None for .npz data
    test_folder: ImageFolderData | None = None
    notes: list[str] = field(default_factory=list)
    # the data as the caller named them ("sample", a folder, an .npz), as :func:`shown` gives
    # it: a valid str to show and to save (a model file's training.data), not to open
    source: str = ""


def load_training_data(
    data: str | os.PathLike,
    options: LoadOptions | None = None,
    val_split: float = 0.1,
    seed: int = 0,
    normalisation: str = "scale",
    test_dir: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    target: str | None = None,
) -> LoadedData:
    """Load ``data`` (folder, ``"sample"``, ``.npz``, a ``toy:`` spec of a built-in 2-D
    data set, data/toy2d.py, or a ``.csv`` / ``.tsv`` table whose ``target`` column holds the
    classes: data/table.py) and split / normalise it. A table's ``normalisation`` "scale"
    (the images' default) is taken as "standardise", its default.

    Raises :class:`FolderError` or :class:`DataFileError` with a message naming the path,
    among them, before anything big is allocated, data that cannot fit in the memory
    available (an image folder at its image size, counted for training; a data set's arrays).
    """
    if is_toy_spec(data):  # a spec, never a path (a file so named: ./toy:...)
        if test_dir is not None:
            raise DataFileError(f"{shown(str(test_dir))}: a test folder goes with an image "
                                f"folder, not with the built-in data set {data}")
        if target is not None:
            raise DataFileError(f"{data}: a target column goes with a table (.csv, .tsv); "
                                f"a built-in data set has its classes")
        spec = parse_spec(str(data))
        return LoadedData(prepared=prepare_toy(spec, val_split, seed), folder=None,
                          source=spec.text())
    path = resolve(data)
    source = shown(os.fsdecode(data))
    if is_table_path(path) and not path.is_dir():
        return _load_table(path, source, target, val_split, seed, normalisation, test_dir)
    if target is not None:
        raise DataFileError(f"{source}: a target column goes with a table (.csv, .tsv), "
                            f"whose columns hold the classes; this data has its classes")
    if path.is_file() or path.suffix.lower() == ".npz":
        if test_dir is not None:
            raise DataFileError(f"{shown(str(test_dir))}: --test-dir goes with an image folder; "
                                f"put X_test / Y_test in {shown(path.name)} instead")
        return LoadedData(prepared=_prepare_npz(path, val_split, seed), folder=None,
                          source=source)
    folder = load_image_folder(path, options, progress=progress, cancel=cancel,
                               bytes_per_value=TRAIN_BYTES_PER_VALUE)
    prepared = prepare_image_data(folder, val_split, seed, normalisation)
    loaded = LoadedData(prepared=prepared, folder=folder, notes=list(folder.warnings),
                        source=source)
    if test_dir is not None:
        test = load_test_folder(test_dir, folder, cancel=cancel)
        prepared.test = Dataset(prepared.normalisation.apply(test.pixels),
                                targets_from_labels(test.labels, len(folder.class_names)),
                                list(folder.class_names))
        loaded.test_folder = test
        loaded.notes += test.warnings
    return loaded


def load_test_folder(test_dir: str | os.PathLike, train: ImageFolderData,
                     cancel: threading.Event | None = None) -> ImageFolderData:
    """A separate test folder, decoded exactly like ``train`` (size, colour, resize) and with
    its labels mapped onto the training classes by name."""
    h, w, c = train.input_shape
    opts = LoadOptions(image_size=(h, w), color="gray" if c == 1 else "rgb",
                       resize=train.options.resize, max_pixels=train.options.max_pixels,
                       use_cache=train.options.use_cache)
    test = load_image_folder(test_dir, opts, cancel=cancel, min_classes=1,
                             bytes_per_value=TEST_BYTES_PER_VALUE)
    index = {name: i for i, name in enumerate(train.class_names)}
    keep = np.array([test.class_names[lab] in index for lab in test.labels], dtype=bool)
    for name in test.class_names:
        if name not in index:
            test.warnings.append(f"{shown(str(test_dir))}: class {name!r} is not a training "
                                 f"class; its images are left out")
    for p, k, lab in zip(test.paths, keep, test.labels, strict=True):
        if not k:
            test.skipped.append(Skipped(p, f"class {test.class_names[lab]!r} is not a "
                                           f"training class"))
    if not keep.any():
        raise FolderError(f"{shown(str(test_dir))}: none of its classes "
                          f"({', '.join(test.class_names)}) is a training class "
                          f"({', '.join(train.class_names)})")
    test.labels = np.array([index[test.class_names[lab]] for lab in test.labels[keep]],
                           dtype=np.int64)
    test.pixels = test.pixels[keep]
    test.splits = np.full(test.labels.shape, "test", dtype="U5")
    test.paths = [p for p, k in zip(test.paths, keep, strict=True) if k]
    test.class_names = list(train.class_names)
    return test


def _load_table(path: Path, source: str, target: str | None, val_split: float, seed: int,
                normalisation: str, test_dir: str | os.PathLike | None) -> LoadedData:
    if test_dir is not None:
        raise DataFileError(f"{shown(str(test_dir))}: a test folder goes with an image folder, "
                            f"not with a table")
    if target is None:
        from desktop_nn.data.table import read_header

        raise DataFileError(f"{source}: say which column holds the classes (the target); "
                            f"its columns are {', '.join(repr(c) for c in read_header(path))}")
    table = read_table(path, target)
    kind = "standardise" if normalisation == "scale" else normalisation
    return LoadedData(prepared=prepare_table_data(table, val_split, seed, kind), folder=None,
                      notes=list(table.notes), source=source)


def _prepare_npz(path: Path, val_split: float, seed: int) -> PreparedData:
    npz = load_npz_dataset(path)
    train, val = npz.train, npz.val
    if val is None and val_split > 0:
        keep, held = stratified_split(train.labels(), val_split, seed)
        train, val = train.subset(keep), train.subset(held)
        if val.m == 0:
            val = None
    kind = "scale" if npz.scaled_from_uint8 else "none"
    return PreparedData(train=train, val=val, test=npz.test, normalisation=Normalisation(kind),
                        class_names=npz.class_names, input_shape=npz.input_shape)


__all__ = ["DataFileError", "FolderError", "LoadedData", "SAMPLE_NAME", "load_training_data",
           "load_test_folder", "resolve", "sample_path"]
