"""Running a recipe: training each of its networks (or measuring the gradient norms at
initialisation) through NetworkSpec -> Network -> TrainConfig -> Trainer as the app does,
judging every measured figure against the published one, and :func:`run_recipe`, which
returns the whole run as a JSON-able dict."""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from desktop_nn.backend import BackendError, select_backend
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.reproduce.data import (
    NIELSEN_TRAIN,
    RecipeData,
    _log_to,
    course_initial_parameters,
    load_recipe_data,
)
from desktop_nn.reproduce.recipes import (
    _WEIGHTS_TEXT,
    WEIGHTS,
    Recipe,
    ReproduceError,
    Target,
    Variant,
    describe,
)
from desktop_nn.train.trainer import TrainConfig
from desktop_nn.workbench import RunRequest, Workbench

GRADIENT_EXAMPLES = 1000  # ch. 5 averages the gradient over the first 1000 training images


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
        if isinstance(target.published, tuple):  # each value against its published one
            if len(measured) != len(target.published):
                return False
            return all(judge(replace(target, published=p), float(m))
                       for p, m in zip(target.published, measured, strict=True))
        if measured <= 0:
            return False
        return target.published / target.tolerance <= measured <= \
            target.published * target.tolerance
    if target.check == "order":
        return list(np.argsort(measured, kind="stable")) == \
            list(np.argsort(target.published, kind="stable"))
    raise ValueError(f"unknown check {target.check!r}")


def _train_variant(recipe: Recipe, variant: Variant, data: RecipeData, device: str,
                   seed: int, epochs: int, init: str, dtype: str, log: Callable[[str], None],
                   weights: str = "seeded") -> dict:
    prep = data.prepared
    train = prep.train
    n_out = train.Y.shape[0]
    spec = NetworkSpec(train.n_x, list(variant.hidden), [recipe.hidden_activation], n_out,
                       recipe.output, recipe.cost, init, recipe.bias_init)
    config = TrainConfig(lr=recipe.lr, epochs=epochs, batch_size=recipe.batch_size,
                         optimizer="sgd", l2=recipe.l2, seed=seed, shuffle=recipe.shuffle,
                         report_every=100)
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

    initial = course_initial_parameters(spec.sizes, init, prep.input_shape) \
        if weights == "course" else None
    # the monitored set (validation or test images) is the run's validation set
    request = RunRequest(spec, config, dtype, device, replace(prep, val=monitored),
                         key="reproduce", initial_parameters=initial)
    workbench = Workbench(on_epoch=on_epoch)
    problems: list[str] = []
    workbench.events.not_made.connect(lambda message, refused: problems.append(message))
    workbench.events.failed.connect(problems.append)
    try:
        workbench.make_run(request)
    except (ValueError, BackendError) as exc:
        raise ReproduceError(str(exc)) from None
    trainer = workbench.trainer
    if trainer is None:
        raise ReproduceError(f"{data.folder}: {problems[-1] if problems else 'no run made'}")
    cost0 = trainer.evaluate_data(trainer.train).cost
    t0 = time.perf_counter()
    workbench.start(request)  # the same key: trains the run just made
    seconds = time.perf_counter() - t0
    trainer, result = workbench.trainer, workbench.last_result
    if result is None:
        raise ReproduceError(f"training failed: {problems[-1] if problems else '?'}")
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
    info["device"] = trainer.network.backend.label
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


def check_weights(recipe: Recipe, weights: str | None) -> str:
    """The initial weights a run uses (None: the recipe's); ReproduceError if unusable."""
    weights = weights or recipe.weights
    if weights not in WEIGHTS:
        raise ReproduceError(f"initial weights {weights!r}: expected one of {WEIGHTS}")
    if weights == "course" and recipe.data != "catvnoncat":
        raise ReproduceError("--weights course goes with the cat recipes only")
    return weights


def run_recipe(recipe: Recipe, data_dir: Path, work_dir: Path, seed: int = 0,
               epochs: int | None = None, device: str = "auto", init: str | None = None,
               dtype: str | None = None, n_train: int = NIELSEN_TRAIN,
               gradient_examples: int = GRADIENT_EXAMPLES, weights: str | None = None,
               log: Callable[[str], None] | None = None,
               data: RecipeData | None = None) -> dict:
    """Run every network of ``recipe`` and judge each published figure -> a JSON-able dict.

    ``weights``: None for the recipe's, "seeded" for the app's initialiser seeded by
    ``seed``, "course" (cat recipes) for the course's own initial weights
    (:func:`course_initial_parameters`). ``data``: the recipe's data already loaded (with
    ``dtype``), as a run over several seeds passes it; None loads them."""
    log = _log_to(log)
    weights = check_weights(recipe, weights)
    t0 = time.perf_counter()
    try:
        backend = select_backend(device)
    except BackendError as exc:
        raise ReproduceError(str(exc)) from None
    init = init or recipe.init
    dtype = dtype or recipe.dtype
    epochs = recipe.epochs if epochs is None else epochs
    if data is None:
        data = load_recipe_data(recipe, data_dir, work_dir, seed, n_train, log, dtype)
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
            rows.append(_train_variant(recipe, v, data, device, seed, epochs, init, dtype,
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
