"""The recipe table: each published result as a :class:`Recipe` (its networks, its training
setup and its published figures, each a :class:`Target`), :func:`describe` for one line of a
recipe's setup, and the vocabulary the other modules share (:class:`ReproduceError`, the
initial-weight choices)."""

from __future__ import annotations

from dataclasses import dataclass

WEIGHTS = ("course", "seeded")
_WEIGHTS_TEXT = {"course": "the course's own draw (np.random.seed(1))",
                 "seeded": "the app's initialiser, seeded"}


class ReproduceError(Exception):
    """Missing or unusable data, or bad arguments: one line, exit code 2."""


@dataclass(frozen=True)
class Target:
    """A published figure and how a measurement is judged against it.

    check: "abs"    |measured - published| <= tolerance
           "factor" published / tolerance <= measured <= published * tolerance (for a tuple:
                    each measured value against its published one)
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
    # judged over seeds (issue 23): --seeds' default, the statistic over seeds that is judged,
    # whether the first seed alone must pass too, and "stuck" = the judged figure below this
    seeds: int = 1
    statistic: str = "mean"  # "mean" | "median" (elementwise for a tuple of norms)
    first_seed_judged: bool = False
    stuck_below: float | None = None


def _acc(label: str, published: float, key: str = "peak_accuracy") -> Target:
    return Target(key, label, published, 0.005, "abs", "percent")


def _cat(cost0: float, cost2400: float, train: float, test: float) -> tuple[Target, ...]:
    return (Target("cost@0", "cost at iteration 0", cost0, 0.02, "abs", "cost"),
            Target("cost@2400", "cost at iteration 2400", cost2400, 0.02, "abs", "cost"),
            Target("train_accuracy", "train accuracy", train, 0.02, "abs", "fraction"),
            Target("test_accuracy", "test accuracy", test, 0.02, "abs", "fraction"))


def _grad(norms: tuple[float, ...]) -> tuple[Target, ...]:
    return (Target("norms", "||db[l]||, each", norms, 2.0, "factor", "norms"),
            Target("ratio", "||db[1]|| / ||db[last]||", norms[0] / norms[-1], 2.0, "factor",
                   "ratio"))


_NIELSEN = "Nielsen, Neural Networks and Deep Learning"
_COURSE = "deeplearning.ai, Deep Neural Network - Application"

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("nielsen-ch1", "[784,30,10] quadratic cost, N(0,1), eta 3.0", f"{_NIELSEN}, ch. 1",
           "mnist-nielsen", "train", (Variant((30,), (_acc("peak test accuracy", 0.9542),)),),
           "sigmoid", "sigmoid", "quadratic", "normal", "normal", lr=3.0, monitor="test",
           seeds=5,
           note="Nielsen evaluates on the 10000 test images after every epoch and reports the "
                "peak (epoch 28)"),
    Recipe("nielsen-ch1-100", "[784,100,10] quadratic cost, N(0,1), eta 3.0",
           f"{_NIELSEN}, ch. 1", "mnist-nielsen", "train",
           (Variant((100,), (_acc("peak test accuracy", 0.9659),)),),
           "sigmoid", "sigmoid", "quadratic", "normal", "normal", lr=3.0, monitor="test",
           seeds=5, stuck_below=0.90,
           note="judged on the peak test accuracy, as for the 30-unit network; a run whose "
                "peak stays below 90 % is stuck (it has lost a digit for good: the book "
                "warns that some runs give results quite a bit worse)"),
    Recipe("nielsen-ch3", "[784,100,10] cross-entropy, N(0,1), eta 0.5, lambda 5.0",
           f"{_NIELSEN}, ch. 3", "mnist-nielsen", "train",
           (Variant((100,), (_acc("final validation accuracy", 0.9792, "final_accuracy"),)),),
           "sigmoid", "sigmoid", "cross-entropy", "normal", "normal", lr=0.5, l2=5.0,
           seeds=5,
           note="the book gives the result after 30 epochs ('the final result'); the peak is "
                "shown too"),
    Recipe("nielsen-ch5", "cross-entropy, N(0,1)/sqrt(n_in), eta 0.1, lambda 5.0, 1-4 hidden",
           f"{_NIELSEN}, ch. 5", "mnist-nielsen", "train",
           (Variant((30,), (_acc("final validation accuracy", 0.9648, "final_accuracy"),)),
            Variant((30, 30), (_acc("final validation accuracy", 0.9690, "final_accuracy"),)),
            Variant((30, 30, 30),
                    (_acc("final validation accuracy", 0.9657, "final_accuracy"),)),
            Variant((30, 30, 30, 30),
                    (_acc("final validation accuracy", 0.9653, "final_accuracy"),))),
           "sigmoid", "sigmoid", "cross-entropy", "scaled", "normal", lr=0.1, l2=5.0,
           seeds=5,
           note="the book gives the accuracy after 30 epochs; the peak is shown too. Biases "
                "N(0,1), as in network2.py's default initialiser"),
    Recipe("nielsen-ch5-gradients", "||db[l]|| of each hidden layer at initialisation",
           f"{_NIELSEN}, ch. 5", "mnist-nielsen", "gradients",
           (Variant((30, 30), _grad((0.07, 0.31))),
            Variant((30, 30, 30), _grad((0.012, 0.060, 0.283))),
            Variant((30, 30, 30, 30), _grad((0.003, 0.017, 0.070, 0.285)))),
           "sigmoid", "sigmoid", "cross-entropy", "scaled", "normal", epochs=0,
           seeds=20, statistic="median", first_seed_judged=True,
           note="the norm of the gradient of the mean cost over the first 1000 training "
                "images (= the mean of the per-image db[l], as generate_gradient.py computes); "
                "each norm and the first / last ratio within x2 of the book's, judged on the "
                "medians over the initialisations and on the first one alone"),
    Recipe("cat-2layer", "[12288,7,1] relu, sigmoid, cross-entropy", _COURSE, "catvnoncat",
           "train", (Variant((7,), _cat(0.693, 0.0486, 1.00, 0.72)),),
           "relu", "sigmoid", "cross-entropy", "small", "zeros", lr=0.0075, batch_size=0,
           epochs=2500, shuffle=False, monitor="none", class_order=("non-cat", "cat"),
           weights="course", dtype="float64",
           note="weights randn * 0.01, as the course's initialize_parameters() for its "
                "two-layer model (its L-layer model divides by sqrt(n_prev) instead), drawn "
                "as the notebook draws them (np.random.seed(1))"),
    Recipe("cat-4layer", "[12288,20,7,5,1] relu x3, sigmoid, cross-entropy", _COURSE,
           "catvnoncat", "train", (Variant((20, 7, 5), _cat(0.772, 0.0929, 0.986, 0.80)),),
           "relu", "sigmoid", "cross-entropy", "scaled", "zeros", lr=0.0075, batch_size=0,
           epochs=2500, shuffle=False, monitor="none", class_order=("non-cat", "cat"),
           weights="course", dtype="float64",
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
