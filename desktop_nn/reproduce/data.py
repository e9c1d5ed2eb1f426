"""A recipe's data: the MNIST image folders made once from the idx files, Nielsen's
train / validation / test split built beside them with hard links, the cat / non-cat folders,
classes put in the course's order, the course's pixel order and initial weights, and
:func:`load_recipe_data`, which loads them through the app's own loader."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_nn.data.dataset import Dataset, PreparedData, targets_from_labels
from desktop_nn.reproduce.recipes import Recipe, ReproduceError

NIELSEN_TRAIN = 50_000  # Nielsen trains on the first 50000 training images
DATA_ENV = "DESKTOP_NN_SHARED_DATA"


def default_data_dir() -> Path:
    """``$DESKTOP_NN_SHARED_DATA``, else ``../shared/data`` beside the repository."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def default_work_dir() -> Path:
    """``$DESKTOP_NN_CACHE_DIR/reproduce`` (the folder the app caches in, as the image
    folders' cache honours it), else the user cache dir's ``desktop-nn/reproduce``."""
    env = os.environ.get("DESKTOP_NN_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "reproduce"
    import platformdirs

    return Path(platformdirs.user_cache_dir("desktop-nn", appauthor=False)) / "reproduce"


def _log_to(log: Callable[[str], None] | None) -> Callable[[str], None]:
    return log or (lambda _msg: None)


def mnist_folders(data_dir: Path, work_dir: Path, log: Callable[[str], None] | None = None,
                  tool: Path | None = None) -> Path:
    """``WORK/mnist`` with ``train/<digit>/<index>.png`` and ``test/...``, made once from the
    idx files in ``DATA_DIR/mnist`` with ``idx_to_folders.py``; reused when present."""
    out = work_dir / "mnist"
    if (out / "train").is_dir() and (out / "test").is_dir():
        return out
    src = data_dir / "mnist"
    if not (src / "train-images-idx3-ubyte.gz").is_file():
        raise ReproduceError(f"{src}: no MNIST idx files (train-images-idx3-ubyte.gz ...); "
                             f"give the shared data folder with --data-dir or ${DATA_ENV}")
    tool = tool or data_dir.parent / "tools" / "idx_to_folders.py"
    if not tool.is_file():
        raise ReproduceError(f"{tool}: not found (it turns the idx files into image folders)")
    partial = work_dir / "mnist.partial"
    shutil.rmtree(partial, ignore_errors=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    _log_to(log)(f"writing MNIST image folders: {tool} {src} {out}")
    proc = subprocess.run([sys.executable, str(tool), str(src), str(partial)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise ReproduceError(f"{tool} failed: {last}")
    os.replace(partial, out)
    return out


def _index_of(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        raise ReproduceError(f"{path}: expected a file named by its index in the idx file, "
                             f"like 00042.png") from None


def _link(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` at ``dst`` (True), or copy it where links are impossible (False)."""
    try:
        os.link(src, dst)
        return True
    except OSError:
        shutil.copy2(src, dst)
        return False


def nielsen_layout(mnist_dir: Path, out: Path, n_train: int = NIELSEN_TRAIN) -> Path:
    """Nielsen's split of an ``idx_to_folders`` folder: ``out/train`` holds the training images
    with index < ``n_train``, ``out/val`` the others, ``out/test`` the test images. Files are
    hard links (copies where the file system refuses). Built once; reused when present."""
    if out.is_dir():
        return out
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for split in ("train", "test"):
        if not (mnist_dir / split).is_dir():
            raise ReproduceError(f"{mnist_dir / split}: missing (expected the folders that "
                                 f"idx_to_folders.py writes)")
    for split in ("train", "test"):
        for class_dir in sorted(p for p in (mnist_dir / split).iterdir() if p.is_dir()):
            for f in sorted(class_dir.iterdir()):
                if f.name.startswith(".") or not f.is_file():
                    continue
                target = split
                if split == "train":
                    target = "train" if _index_of(f) < n_train else "val"
                d = partial / target / class_dir.name
                d.mkdir(parents=True, exist_ok=True)
                _link(f, d / f.name)
    os.replace(partial, out)
    return out


def reorder_classes(prepared: PreparedData, order: Sequence[str]) -> PreparedData:
    """The same data with class i = ``order[i]`` (targets rebuilt for every split)."""
    if sorted(order) != sorted(prepared.class_names):
        raise ReproduceError(f"the classes are {prepared.class_names}, expected "
                             f"{sorted(order)}")
    new = {name: i for i, name in enumerate(order)}
    mapping = np.array([new[name] for name in prepared.class_names], dtype=np.int64)

    def remap(ds: Dataset | None) -> Dataset | None:
        if ds is None:
            return None
        return Dataset(ds.X, targets_from_labels(mapping[ds.labels()], len(order)), list(order))

    return dataclasses.replace(prepared, train=remap(prepared.train), val=remap(prepared.val),
                               test=remap(prepared.test), class_names=list(order))


def planes_order(input_shape: tuple[int, int, int]) -> np.ndarray:
    """For each feature of the loader's channel-plane flatten (c*H*W + y*W + x), the index of
    the same pixel in a row-major (H, W, C) flatten ((y*W + x)*C + c), the course's order."""
    h, w, c = input_shape
    f = np.arange(h * w * c)
    return (f % (h * w)) * c + f // (h * w)


def course_initial_parameters(sizes: Sequence[int], init: str,
                              input_shape: tuple[int, int, int], seed: int = 1
                              ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The initial W[l], b[l] exactly as the course's notebook draws them: np.random.seed(1),
    then randn(n_l, n_{l-1}) layer after layer, times 0.01 (its two-layer model, init "small")
    or over sqrt(n_{l-1}) (its L-layer model, "scaled"), biases 0. W[1]'s columns are put in
    the loader's channel-plane order, so that W[1] x sees each pixel as the course's did."""
    if init not in ("small", "scaled"):
        raise ReproduceError(f"the course draws small or scaled weights, not {init!r}")
    rs = np.random.RandomState(seed)  # noqa: NPY002 - the course's own (legacy) generator
    W, b = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        w = rs.randn(n_out, n_in)
        W.append(w * 0.01 if init == "small" else w / np.sqrt(n_in))
        b.append(np.zeros((n_out, 1)))
    W[0] = W[0][:, planes_order(input_shape)]
    return W, b


@dataclass
class RecipeData:
    prepared: PreparedData
    folder: str
    train_indices: np.ndarray | None  # idx-file index of each training column (MNIST only)
    notes: list[str] = field(default_factory=list)


def load_recipe_data(recipe: Recipe, data_dir: Path, work_dir: Path, seed: int = 0,
                     n_train: int = NIELSEN_TRAIN,
                     log: Callable[[str], None] | None = None,
                     dtype: str = "float32") -> RecipeData:
    """The recipe's data through the app's loader (pixels / 255, no random validation split:
    the folders say which image is train, val or test). ``dtype="float64"``: X is made in
    float64 from the decoded pixels (exactly p / 255), not cast up from the float32 X."""
    from desktop_nn.data.dataset import prepare_image_data
    from desktop_nn.data.sources import DataFileError, FolderError, load_training_data

    notes: list[str] = []
    if recipe.data == "mnist-nielsen":
        mnist = mnist_folders(data_dir, work_dir, log)
        folder = nielsen_layout(mnist, work_dir / f"mnist-nielsen-{n_train}", n_train)
    elif recipe.data == "catvnoncat":
        folder = data_dir / "catvnoncat"
        if not folder.is_dir():
            raise ReproduceError(f"{folder}: not found; give the shared data folder with "
                                 f"--data-dir or ${DATA_ENV}")
    else:
        raise ValueError(f"unknown data {recipe.data!r}")
    _log_to(log)(f"loading {folder}")
    try:
        loaded = load_training_data(folder, val_split=0.0, seed=seed, normalisation="scale")
    except (DataFileError, FolderError, ValueError) as exc:
        raise ReproduceError(str(exc)) from None
    prepared = loaded.prepared
    if dtype == "float64":
        # the same split, X = pixels / 255 in float64 (float32 X cast up differs by ~1e-8)
        prepared = prepare_image_data(loaded.folder, 0.0, seed, "scale", dtype="float64")
    train_indices = None
    if recipe.data == "mnist-nielsen":
        data = loaded.folder
        train_indices = np.array([_index_of(Path(data.paths[i]))
                                  for i in data.indices("train")], dtype=np.int64)
    if recipe.class_order is not None:
        prepared = reorder_classes(prepared, recipe.class_order)
        notes.append("classes ordered " + ", ".join(f"{i} = {c}" for i, c in
                                                    enumerate(recipe.class_order)))
    return RecipeData(prepared, str(folder), train_indices, notes + loaded.notes)
