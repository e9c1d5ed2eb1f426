"""``desktop-nn reproduce NAME``: published results measured again through the app's own path.

Every recipe loads its data with the image-folder loader (:func:`load_training_data`, as
``desktop-nn train`` and the app do), builds NetworkSpec -> Network -> TrainConfig -> Trainer
the same way, and prints each published figure beside the measured one with PASS or MISS.

    nielsen-ch1            [784,30,10] sigmoid, quadratic, N(0,1), eta 3.0, batch 10, 30 epochs:
                           peak test accuracy 95.42 %
    nielsen-ch1-100        the same with 100 hidden units: 96.59 %
    nielsen-ch3            [784,100,10] cross-entropy, N(0,1), eta 0.5, lambda 5.0: 97.92 % val.
    nielsen-ch5            [784,30..,10] x3, N(0,1)/sqrt(n_in), eta 0.1, lambda 5.0: validation
    nielsen-ch5-gradients  ||db[l]|| per hidden layer at initialisation, 1000 training images
    cat-2layer, cat-4layer the course's cat / non-cat networks, full batch, 2500 iterations

Data. MNIST comes as idx files (``DATA_DIR/mnist``); ``idx_to_folders.py`` (beside the data,
``DATA_DIR/../tools``) turns them into ``WORK/mnist/{train,test}/<digit>/<index>.png`` once, and
Nielsen's split is then built beside it with hard links (copies where links are impossible):
``WORK/mnist-nielsen-50000/train`` (training index < 50000), ``val`` (the last 10000 training
images) and ``test``, a layout the folder loader reads as train / validation / test.
The cat / non-cat images are image folders already (``DATA_DIR/catvnoncat/{train,test}``);
their classes sort as ["cat", "non-cat"], so the recipe puts the classes in the course's order
(non-cat = 0, cat = 1) after loading: y = 1 means cat, as in the course.

Every run is repeatable. The MNIST recipes draw their initial weights and shuffles from
``--seed`` (default 0). The cat recipes start from the course notebook's own initial weights
(``np.random.seed(1)``, its layer order, its pixel order): their published costs are those of
that one draw, and full-batch training without shuffling uses no other randomness;
``--weights seeded`` draws them with the app's initialiser from ``--seed`` instead. Results and
their commands are in docs/reproductions.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_nn.backend import BackendError, select_backend
from desktop_nn.data.dataset import Dataset, PreparedData, targets_from_labels
from desktop_nn.nn.init import INITS
from desktop_nn.nn.network import DTYPES, Network, NetworkSpec
from desktop_nn.train.trainer import TrainConfig, Trainer

NIELSEN_TRAIN = 50_000  # Nielsen trains on the first 50000 training images
WEIGHTS = ("course", "seeded")
_WEIGHTS_TEXT = {"course": "the course's own draw (np.random.seed(1))",
                 "seeded": "the app's initialiser, seeded"}
GRADIENT_EXAMPLES = 1000  # ch. 5 averages the gradient over the first 1000 training images
DATA_ENV = "DESKTOP_NN_SHARED_DATA"


class ReproduceError(Exception):
    """Missing or unusable data, or bad arguments: one line, exit code 2."""


# ---------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class Target:
    """A published figure and how a measurement is judged against it.

    check: "abs"    |measured - published| <= tolerance
           "factor" published / tolerance <= measured <= published * tolerance
           "order"  the measured values are ordered (ranked) like the published ones
    """

    key: str  # the measurement it is compared with (see the runners)
    label: str
    published: float | tuple[float, ...]
    tolerance: float = 0.0
    check: str = "abs"
    unit: str = "percent"  # how values are shown: percent | fraction | cost | norms | ratio


@dataclass(frozen=True)
class Variant:
    """One network of a recipe: its hidden layer sizes and its published figures."""

    hidden: tuple[int, ...]
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    source: str
    data: str  # "mnist-nielsen" | "catvnoncat"
    kind: str  # "train" | "gradients"
    variants: tuple[Variant, ...]
    hidden_activation: str
    output: str
    cost: str
    init: str
    bias_init: str
    lr: float = 0.1
    batch_size: int = 10  # 0 = full batch
    epochs: int = 30
    l2: float = 0.0
    shuffle: bool = True
    monitor: str = "val"  # the set evaluated after every epoch: "val" | "test" | "none"
    dtype: str = "float32"
    class_order: tuple[str, ...] | None = None  # class index i = class_order[i]
    # "seeded": the app's initialiser, seeded by --seed; "course": the course notebook's own
    # draw (np.random.seed(1)), which its published costs depend on
    weights: str = "seeded"
    note: str = ""


def _acc(label: str, published: float, key: str = "peak_accuracy") -> Target:
    return Target(key, label, published, 0.005, "abs", "percent")


def _cat(cost0: float, cost2400: float, train: float, test: float) -> tuple[Target, ...]:
    return (Target("cost@0", "cost at iteration 0", cost0, 0.02, "abs", "cost"),
            Target("cost@2400", "cost at iteration 2400", cost2400, 0.02, "abs", "cost"),
            Target("train_accuracy", "train accuracy", train, 0.02, "abs", "fraction"),
            Target("test_accuracy", "test accuracy", test, 0.02, "abs", "fraction"))


def _grad(norms: tuple[float, ...]) -> tuple[Target, ...]:
    return (Target("norms", "||db[l]|| ordering", norms, 0.0, "order", "norms"),
            Target("ratio", "||db[1]|| / ||db[last]||", norms[0] / norms[-1], 2.0, "factor",
                   "ratio"))


_NIELSEN = "Nielsen, Neural Networks and Deep Learning"
_COURSE = "deeplearning.ai, Deep Neural Network - Application"

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("nielsen-ch1", "[784,30,10] quadratic cost, N(0,1), eta 3.0", f"{_NIELSEN}, ch. 1",
           "mnist-nielsen", "train", (Variant((30,), (_acc("peak test accuracy", 0.9542),)),),
           "sigmoid", "sigmoid", "quadratic", "normal", "normal", lr=3.0, monitor="test",
           note="Nielsen evaluates on the 10000 test images after every epoch and reports the "
                "peak (epoch 28)"),
    Recipe("nielsen-ch1-100", "[784,100,10] quadratic cost, N(0,1), eta 3.0",
           f"{_NIELSEN}, ch. 1", "mnist-nielsen", "train",
           (Variant((100,), (_acc("peak test accuracy", 0.9659),)),),
           "sigmoid", "sigmoid", "quadratic", "normal", "normal", lr=3.0, monitor="test",
           note="judged on the peak test accuracy, as for the 30-unit network"),
    Recipe("nielsen-ch3", "[784,100,10] cross-entropy, N(0,1), eta 0.5, lambda 5.0",
           f"{_NIELSEN}, ch. 3", "mnist-nielsen", "train",
           (Variant((100,), (_acc("final validation accuracy", 0.9792, "final_accuracy"),)),),
           "sigmoid", "sigmoid", "cross-entropy", "normal", "normal", lr=0.5, l2=5.0,
           note="the book gives the result after 30 epochs ('the final result'); the peak is "
                "shown too"),
    Recipe("nielsen-ch5", "cross-entropy, N(0,1)/sqrt(n_in), eta 0.1, lambda 5.0, 1-4 hidden",
           f"{_NIELSEN}, ch. 5", "mnist-nielsen", "train",
           (Variant((30,), (_acc("final validation accuracy", 0.9648, "final_accuracy"),)),
            Variant((30, 30), (_acc("final validation accuracy", 0.9690, "final_accuracy"),)),
            Variant((30, 30, 30, 30),
                    (_acc("final validation accuracy", 0.9653, "final_accuracy"),))),
           "sigmoid", "sigmoid", "cross-entropy", "scaled", "normal", lr=0.1, l2=5.0,
           note="the book gives the accuracy after 30 epochs; the peak is shown too. Biases "
                "N(0,1), as in network2.py's default initialiser"),
    Recipe("nielsen-ch5-gradients", "||db[l]|| of each hidden layer at initialisation",
           f"{_NIELSEN}, ch. 5", "mnist-nielsen", "gradients",
           (Variant((30, 30), _grad((0.07, 0.31))),
            Variant((30, 30, 30), _grad((0.012, 0.060, 0.283))),
            Variant((30, 30, 30, 30), _grad((0.003, 0.017, 0.070, 0.285)))),
           "sigmoid", "sigmoid", "cross-entropy", "scaled", "normal", epochs=0,
           note="the norm of the gradient of the mean cost over the first 1000 training "
                "images (= the mean of the per-image db[l], as generate_gradient.py computes)"),
    Recipe("cat-2layer", "[12288,7,1] relu, sigmoid, cross-entropy", _COURSE, "catvnoncat",
           "train", (Variant((7,), _cat(0.693, 0.0486, 1.00, 0.72)),),
           "relu", "sigmoid", "cross-entropy", "small", "zeros", lr=0.0075, batch_size=0,
           epochs=2500, shuffle=False, monitor="none", class_order=("non-cat", "cat"),
           weights="course",
           note="weights randn * 0.01, as the course's initialize_parameters() for its "
                "two-layer model (its L-layer model divides by sqrt(n_prev) instead), drawn "
                "as the notebook draws them (np.random.seed(1))"),
    Recipe("cat-4layer", "[12288,20,7,5,1] relu x3, sigmoid, cross-entropy", _COURSE,
           "catvnoncat", "train", (Variant((20, 7, 5), _cat(0.772, 0.0929, 0.986, 0.80)),),
           "relu", "sigmoid", "cross-entropy", "scaled", "zeros", lr=0.0075, batch_size=0,
           epochs=2500, shuffle=False, monitor="none", class_order=("non-cat", "cat"),
           weights="course",
           note="weights randn / sqrt(n_prev), biases 0 (initialize_parameters_deep()), "
                "drawn as the notebook draws them (np.random.seed(1))"),
)}


def describe(recipe: Recipe, init: str | None = None) -> str:
    """One line: the whole setup of a recipe (with ``init`` in place of the recipe's)."""
    nets = " | ".join("hidden " + ",".join(map(str, v.hidden)) for v in recipe.variants)
    parts = [f"hidden {recipe.hidden_activation}, output {recipe.output}, {recipe.cost} cost",
             f"init {init or recipe.init} (biases {recipe.bias_init})"]
    if recipe.kind == "train":
        batch = "full batch" if recipe.batch_size == 0 else f"batch {recipe.batch_size}"
        parts.append(f"SGD lr {recipe.lr:g}, {batch}, {recipe.epochs} "
                     f"{'iterations' if recipe.batch_size == 0 else 'epochs'}, "
                     f"L2 lambda {recipe.l2:g}, {'shuffled' if recipe.shuffle else 'no shuffle'}")
    return f"{nets}: " + "; ".join(parts)


# ---------------------------------------------------------------------------- data
def default_data_dir() -> Path:
    """``$DESKTOP_NN_SHARED_DATA``, else ``../shared/data`` beside the repository."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def default_work_dir() -> Path:
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
                     log: Callable[[str], None] | None = None) -> RecipeData:
    """The recipe's data through the app's loader (pixels / 255, no random validation split:
    the folders say which image is train, val or test)."""
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


# ---------------------------------------------------------------------------- measuring
def hidden_bias_gradient_norms(net: Network, X, Y) -> list[float]:
    """||db[l]|| for each hidden layer l = 1..L-1 of the mean cost over the columns of X
    (n_x, m), Y (n_y, m): one forward and one backward pass, no L2."""
    _, caches = net.forward(X)
    grads = net.backward(caches, Y)
    xp = net.xp
    return [float(net.backend.to_float(xp.sqrt((db.astype(xp.float64) ** 2).sum())))
            for db in grads.db[:-1]]


def judge(target: Target, measured) -> bool | None:
    """PASS (True), MISS (False), or None when nothing was measured."""
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return None
    if target.check == "abs":
        return abs(measured - target.published) <= target.tolerance + 1e-12
    if target.check == "factor":
        if measured <= 0:
            return False
        return target.published / target.tolerance <= measured <= \
            target.published * target.tolerance
    if target.check == "order":
        return list(np.argsort(measured, kind="stable")) == \
            list(np.argsort(target.published, kind="stable"))
    raise ValueError(f"unknown check {target.check!r}")


def _train_variant(recipe: Recipe, variant: Variant, data: RecipeData, backend, seed: int,
                   epochs: int, init: str, dtype: str, log: Callable[[str], None],
                   weights: str = "seeded") -> dict:
    prep = data.prepared
    train = prep.train
    n_out = train.Y.shape[0]
    spec = NetworkSpec(train.n_x, list(variant.hidden), [recipe.hidden_activation], n_out,
                       recipe.output, recipe.cost, init, recipe.bias_init)
    net = Network(spec, backend, dtype=dtype, seed=seed)
    if weights == "course":
        net.set_parameters(*course_initial_parameters(spec.sizes, init, prep.input_shape))
    config = TrainConfig(lr=recipe.lr, epochs=epochs, batch_size=recipe.batch_size,
                         optimizer="sgd", l2=recipe.l2, seed=seed, shuffle=recipe.shuffle,
                         report_every=100)
    config.validate()
    monitored = {"val": prep.val, "test": prep.test, "none": None}[recipe.monitor]
    if recipe.monitor != "none" and monitored is None:
        raise ReproduceError(f"{data.folder}: no {recipe.monitor} images")
    every = max(1, epochs // 10) if recipe.batch_size == 0 else 1

    def on_epoch(r) -> None:
        if r.epoch % every and r.epoch != epochs:
            return
        acc = "" if math.isnan(r.val_accuracy) else \
            f"  {recipe.monitor} acc {r.val_accuracy:.2%}"
        log(f"  {spec.sizes} epoch {r.epoch:>4}: train cost {r.train_cost:.4f} "
            f"acc {r.train_accuracy:.2%}{acc}  ({r.seconds:.0f} s)")

    trainer = Trainer(net, train.X, train.Y, config,
                      X_val=None if monitored is None else monitored.X,
                      Y_val=None if monitored is None else monitored.Y, on_epoch=on_epoch)
    cost0 = trainer.evaluate_data(trainer.train).cost
    t0 = time.perf_counter()
    result = trainer.run()
    seconds = time.perf_counter() - t0
    epochs_done = trainer.history.epochs
    measured: dict = {"cost@0": cost0}
    for r in epochs_done:
        # full batch: one step per epoch, so epoch k's cost is iteration k's (the course
        # prints it every 100 iterations)
        if recipe.batch_size == 0 and r.epoch % 100 == 0:
            measured[f"cost@{r.epoch}"] = r.train_cost
    per_epoch = [{"epoch": r.epoch, "train_cost": r.train_cost,
                  "train_accuracy": r.train_accuracy,
                  f"{recipe.monitor}_accuracy": None if math.isnan(r.val_accuracy)
                  else r.val_accuracy} for r in epochs_done]
    info: dict = {"stopped": result.stopped, "epochs": result.epochs, "steps": result.steps}
    if epochs_done:
        measured["train_accuracy"] = epochs_done[-1].train_accuracy
    if monitored is not None and epochs_done:
        accs = [r.val_accuracy for r in epochs_done]
        best = int(np.argmax(accs))
        measured["peak_accuracy"] = accs[best]
        measured["final_accuracy"] = accs[-1]
        info.update(monitored=recipe.monitor, best_epoch=epochs_done[best].epoch,
                    best_accuracy=accs[best], final_accuracy=accs[-1])
    if prep.test is not None:
        measured["test_accuracy"] = trainer.evaluate(prep.test.X, prep.test.Y).accuracy
        info["test_accuracy"] = measured["test_accuracy"]
    if per_epoch and recipe.batch_size == 0:  # thousands of iterations: keep every 100th
        per_epoch = [p for p in per_epoch if p["epoch"] % 100 == 0]
    return {"network": spec.sizes, "measured": measured, "info": info,
            "per_epoch": per_epoch, "seconds": round(seconds, 2)}


def _gradient_variant(recipe: Recipe, variant: Variant, X, Y, backend, seed: int, init: str,
                      dtype: str) -> dict:
    spec = NetworkSpec(X.shape[0], list(variant.hidden), [recipe.hidden_activation],
                       Y.shape[0], recipe.output, recipe.cost, init, recipe.bias_init)
    net = Network(spec, backend, dtype=dtype, seed=seed)
    t0 = time.perf_counter()
    norms = hidden_bias_gradient_norms(net, X, Y)
    return {"network": spec.sizes, "measured": {"norms": norms, "ratio": norms[0] / norms[-1]},
            "info": {"examples": int(X.shape[1])}, "per_epoch": [],
            "seconds": round(time.perf_counter() - t0, 3)}


def machine() -> str:
    """The CPU model, cores and OS, for the record."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}, NumPy {np.__version__}"


def run_recipe(recipe: Recipe, data_dir: Path, work_dir: Path, seed: int = 0,
               epochs: int | None = None, device: str = "auto", init: str | None = None,
               dtype: str | None = None, n_train: int = NIELSEN_TRAIN,
               gradient_examples: int = GRADIENT_EXAMPLES, weights: str | None = None,
               log: Callable[[str], None] | None = None) -> dict:
    """Run every network of ``recipe`` and judge each published figure -> a JSON-able dict.

    ``weights``: None for the recipe's, "seeded" for the app's initialiser seeded by
    ``seed``, "course" (cat recipes) for the course's own initial weights
    (:func:`course_initial_parameters`)."""
    log = _log_to(log)
    weights = weights or recipe.weights
    if weights not in WEIGHTS:
        raise ReproduceError(f"initial weights {weights!r}: expected one of {WEIGHTS}")
    if weights == "course" and recipe.data != "catvnoncat":
        raise ReproduceError("--weights course goes with the cat recipes only")
    t0 = time.perf_counter()
    try:
        backend = select_backend(device)
    except BackendError as exc:
        raise ReproduceError(str(exc)) from None
    init = init or recipe.init
    dtype = dtype or recipe.dtype
    epochs = recipe.epochs if epochs is None else epochs
    data = load_recipe_data(recipe, data_dir, work_dir, seed, n_train, log)
    load_s = time.perf_counter() - t0
    prep = data.prepared
    counts = {s: (getattr(prep, s).m if getattr(prep, s) is not None else 0)
              for s in ("train", "val", "test")}
    rows = []
    if recipe.kind == "gradients":
        keep = np.flatnonzero(data.train_indices < gradient_examples)
        keep = keep[np.argsort(data.train_indices[keep], kind="stable")]
        X, Y = prep.train.X[:, keep], prep.train.Y[:, keep]
        for v in recipe.variants:
            rows.append(_gradient_variant(recipe, v, X, Y, backend, seed, init, dtype))
            log(f"  {rows[-1]['network']}: ||db|| "
                + ", ".join(f"{n:.4g}" for n in rows[-1]["measured"]["norms"]))
    else:
        for v in recipe.variants:
            rows.append(_train_variant(recipe, v, data, backend, seed, epochs, init, dtype,
                                       log, weights))
    ok = True
    for v, row in zip(recipe.variants, rows, strict=True):
        figures = []
        for t in v.targets:
            measured = row["measured"].get(t.key)
            verdict = judge(t, measured)
            ok = ok and verdict is True
            figures.append({"label": t.label, "key": t.key, "published": t.published,
                            "measured": measured, "tolerance": t.tolerance, "check": t.check,
                            "unit": t.unit, "result": {True: "PASS", False: "MISS",
                                                       None: "n/a"}[verdict]})
        row["figures"] = figures
    overridden = []
    if epochs != recipe.epochs and recipe.kind == "train":
        overridden.append(f"epochs {epochs} (recipe: {recipe.epochs})")
    if init != recipe.init:
        overridden.append(f"init {init} (recipe: {recipe.init})")
    if dtype != recipe.dtype:
        overridden.append(f"dtype {dtype} (recipe: {recipe.dtype})")
    if weights != recipe.weights:
        overridden.append(f"initial weights {weights} (recipe: {recipe.weights})")
    return {"recipe": recipe.name, "title": recipe.title, "source": recipe.source,
            "setup": describe(recipe, init), "note": recipe.note, "seed": seed,
            "epochs": epochs if recipe.kind == "train" else None, "init": init,
            "dtype": dtype, "initial_weights": _WEIGHTS_TEXT[weights],
            "overridden": overridden,
            "data": data.folder, "examples": counts,
            "data_notes": data.notes, "device": backend.label, "machine": machine(),
            "networks": rows, "pass": ok, "load_seconds": round(load_s, 2),
            "seconds": round(time.perf_counter() - t0, 2)}


# ---------------------------------------------------------------------------- output
def _fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "percent":
        return f"{100 * value:.2f} %"
    if unit == "fraction":
        return f"{value:.3f}"
    if unit == "cost":
        return f"{value:.4f}"
    if unit == "norms":
        return ", ".join(f"{v:.3g}" for v in value)
    if unit == "ratio":
        return f"{value:.3g}"
    return str(value)


def _tolerance(f: dict) -> str:
    if f["check"] == "order":
        return "same order"
    if f["check"] == "factor":
        return f"within x{f['tolerance']:g}"
    if f["unit"] == "percent":
        return f"± {100 * f['tolerance']:.2f} pts"
    return f"± {f['tolerance']:g}"


def format_report(rep: dict) -> str:
    lines = [f"{rep['recipe']}: {rep['title']} ({rep['source']})",
             f"  {rep['setup']}",
             f"  seed {rep['seed']}, {rep['dtype']}, initial weights: {rep['initial_weights']}" +
             (f"; NOT THE RECIPE'S SETUP: {', '.join(rep['overridden'])}"
              if rep["overridden"] else ""),
             f"  data: {rep['data']}: " + ", ".join(f"{n} {s}" for s, n in
                                                    rep["examples"].items() if n)]
    for note in rep["data_notes"]:
        lines.append(f"  note: {note}")
    if rep["note"]:
        lines.append(f"  note: {rep['note']}")
    header = ("network", "figure", "published", "measured", "tolerance", "result")
    table = []
    for row in rep["networks"]:
        for f in row["figures"]:
            measured = _fmt(f["measured"], f["unit"])
            info = row["info"]
            if f["key"] == "peak_accuracy" and "best_epoch" in info:
                measured += (f" (epoch {info['best_epoch']}; final "
                             f"{_fmt(info['final_accuracy'], 'percent')})")
            elif f["key"] == "final_accuracy" and "best_epoch" in info:
                measured += (f" (peak {_fmt(info['best_accuracy'], 'percent')} at epoch "
                             f"{info['best_epoch']})")
            table.append((str(row["network"]).replace(" ", ""), f["label"],
                          _fmt(f["published"], f["unit"]), measured, _tolerance(f),
                          f["result"]))
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for r in [header, *table]:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     .rstrip())
    for row in rep["networks"]:
        if "test_accuracy" in row["info"] and not any(
                f["key"] == "test_accuracy" for f in row["figures"]):
            lines.append(f"  {str(row['network']).replace(' ', '')}: test accuracy after the "
                         f"last epoch {_fmt(row['info']['test_accuracy'], 'percent')}")
    train_s = sum(r["seconds"] for r in rep["networks"])
    verdict = "all PASS" if rep["pass"] else "some MISS"
    lines.append(f"  {verdict}; {rep['seconds']:.1f} s in all (loading {rep['load_seconds']:.1f}"
                 f" s, training / measuring {train_s:.1f} s) on {rep['device']}")
    lines.append(f"  machine: {rep['machine']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- CLI
def add_reproduce_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", nargs="?", choices=[*RECIPES, "all"],
                   help="recipe: " + ", ".join(RECIPES) + ", or all (one after another)")
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    p.add_argument("--data-dir", metavar="DIR", type=Path, default=None,
                   help=f"the shared data folder with mnist/ and catvnoncat/ (default "
                   f"${DATA_ENV}, else ../shared/data beside the repository)")
    p.add_argument("--work", metavar="DIR", type=Path, default=None,
                   help="where the MNIST image folders are built and reused (default: "
                   "the user cache dir, desktop-nn/reproduce)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the initial weights and the shuffling (default 0)")
    p.add_argument("--epochs", type=int, default=None,
                   help="override the recipe's epochs (iterations for full batch) for a "
                   "quick check; the figures are then not comparable")
    p.add_argument("--init", choices=INITS, default=None,
                   help="override the recipe's weight initialisation (an experiment)")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="override the recipe's dtype (float32, as the app)")
    p.add_argument("--weights", choices=WEIGHTS, default=None,
                   help="initial weights: course = the course notebook's own draw "
                   "(np.random.seed(1), its layer order, its pixel order; the cat recipes' "
                   "default, since their published costs depend on it), seeded = the app's "
                   "initialiser seeded by --seed (every other recipe's default)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run_reproduce(args: argparse.Namespace) -> int:
    """Exit 0 when every figure passes, 1 when one misses, 2 on unusable input."""
    if args.list or not args.name:
        for r in RECIPES.values():
            print(f"{r.name:<22} {r.title} ({r.source})")
        return 0 if args.list else 2
    if args.epochs is not None and args.epochs < 0:
        print("desktop-nn: error: --epochs must be >= 0", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    names = list(RECIPES) if args.name == "all" else [args.name]
    data_dir = (args.data_dir or default_data_dir()).expanduser()
    work_dir = (args.work or default_work_dir()).expanduser()
    reports = []
    try:
        for name in names:
            log(f"{name}: running")
            rep = run_recipe(RECIPES[name], data_dir, work_dir, args.seed, args.epochs,
                             args.device, args.init, args.dtype,
                             weights=args.weights, log=log)
            reports.append(rep)
            if not args.json:
                print(format_report(rep), flush=True)
    except ReproduceError as exc:
        print(f"desktop-nn: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = reports[0] if len(reports) == 1 else {"recipes": reports,
                                                     "pass": all(r["pass"] for r in reports)}
        print(json.dumps(out))
    return 0 if all(r["pass"] for r in reports) else 1


__all__ = ["RECIPES", "Recipe", "ReproduceError", "Target", "Variant", "add_reproduce_arguments",
           "course_initial_parameters", "hidden_bias_gradient_norms", "judge", "load_recipe_data",
           "mnist_folders", "nielsen_layout", "planes_order", "reorder_classes", "run_recipe",
           "run_reproduce"]
