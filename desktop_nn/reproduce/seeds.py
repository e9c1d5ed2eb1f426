"""A recipe judged over several seeds (issue 23): a single published run is not a figure that
a faithful implementation hits on every seed, so each figure is judged on a statistic of N runs.

- :func:`aggregate`: one figure over the seeds' measurements -> mean (or median), min, max,
  how many seeds are within the tolerance on their own, and the verdict: PASS when the
  statistic is within it (and, for recipes with ``first_seed_judged``, the first seed too).
- :func:`stuck_share`: how many runs are stuck, a run being stuck when its judged figure stays
  below the recipe's ``stuck_below`` (``nielsen-ch1-100``: peak test accuracy < 90 %, a run
  that has lost a digit for good).
- :func:`run_seeds`: :func:`run_recipe` for seeds S, S+1, ..., S+N-1, the data loaded once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from desktop_nn.reproduce.data import NIELSEN_TRAIN, _log_to, load_recipe_data
from desktop_nn.reproduce.recipes import Recipe, Target
from desktop_nn.reproduce.run import GRADIENT_EXAMPLES, check_weights, judge, run_recipe

STATISTICS = ("mean", "median")


def _verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "MISS", None: "n/a"}[ok]


def aggregate(target: Target, values: Sequence, statistic: str = "mean",
              first_judged: bool = False) -> dict:
    """One figure over seeds. ``values``: the measurement of each seed (a float, or a tuple
    of floats judged element by element), None where a seed measured nothing.

    -> {"values", "n", "statistic", "center" (the mean or median, elementwise for tuples),
    "min", "max", "within" (seeds whose own value passes), "first" (the first seed's
    verdict), "result"}: PASS when ``center`` passes, and, with ``first_judged``, the first
    seed passes too; n/a when some seed measured nothing."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    out: dict = {"values": list(values), "n": len(values), "statistic": statistic,
                 "center": None, "min": None, "max": None, "within": 0, "first": "n/a",
                 "result": "n/a"}
    if not values or any(v is None for v in values):
        return out
    a = np.asarray(values, dtype=np.float64)  # (n,) or (n, k)
    center = np.mean(a, axis=0) if statistic == "mean" else np.median(a, axis=0)

    def plain(x):
        return tuple(float(v) for v in x) if np.ndim(x) else float(x)

    verdicts = [judge(target, plain(v)) for v in a]
    ok = judge(target, plain(center))
    if first_judged:
        ok = ok and verdicts[0]
    out.update(center=plain(center), min=plain(a.min(axis=0)), max=plain(a.max(axis=0)),
               within=sum(v is True for v in verdicts), first=_verdict(verdicts[0]),
               result=_verdict(ok))
    return out


def stuck_share(values: Sequence[float | None], below: float) -> dict:
    """How many runs are stuck: their figure (peak accuracy) stays below ``below``."""
    measured = [v for v in values if v is not None]
    stuck = sum(v < below for v in measured)
    return {"below": below, "stuck": stuck, "n": len(measured),
            "share": stuck / len(measured) if measured else None}


def run_seeds(recipe: Recipe, data_dir: Path, work_dir: Path, seeds: Sequence[int],
              epochs: int | None = None, device: str = "auto", init: str | None = None,
              dtype: str | None = None, n_train: int = NIELSEN_TRAIN,
              gradient_examples: int = GRADIENT_EXAMPLES, weights: str | None = None,
              log: Callable[[str], None] | None = None) -> dict:
    """Run ``recipe`` once per seed and judge each figure over the seeds -> a JSON-able dict:
    the first run's description, ``seeds``, ``runs`` (every seed's report) and ``networks``,
    each with ``figures`` aggregated by :func:`aggregate` (and ``stuck`` where the recipe
    defines it)."""
    log = _log_to(log)
    if not seeds:
        raise ValueError("no seeds")
    check_weights(recipe, weights)  # before anything is loaded
    t0 = time.perf_counter()
    data = load_recipe_data(recipe, data_dir, work_dir, seeds[0], n_train, log,
                            dtype or recipe.dtype)
    runs = []
    for s in seeds:
        log(f"{recipe.name}: seed {s} ({len(runs) + 1} of {len(seeds)})")
        runs.append(run_recipe(recipe, data_dir, work_dir, s, epochs, device, init, dtype,
                               n_train, gradient_examples, weights, log, data=data))
    first = runs[0]
    networks = []
    ok = True
    for i, v in enumerate(recipe.variants):
        figures = []
        for t in v.targets:
            values = [r["networks"][i]["measured"].get(t.key) for r in runs]
            agg = aggregate(t, values, recipe.statistic, recipe.first_seed_judged)
            ok = ok and agg["result"] == "PASS"
            figures.append({"label": t.label, "key": t.key, "published": t.published,
                            "tolerance": t.tolerance, "check": t.check, "unit": t.unit,
                            **agg})
        row = {"network": first["networks"][i]["network"], "figures": figures}
        if recipe.stuck_below is not None:
            row["stuck"] = stuck_share(figures[0]["values"], recipe.stuck_below)
        networks.append(row)
    rep = {k: first[k] for k in ("recipe", "title", "source", "setup", "note", "epochs",
                                 "init", "dtype", "initial_weights", "overridden", "data",
                                 "examples", "data_notes", "device", "machine")}
    rep.update({"seeds": list(seeds), "statistic": recipe.statistic,
                "first_seed_judged": recipe.first_seed_judged, "networks": networks,
                "pass": ok, "runs": runs, "seconds": round(time.perf_counter() - t0, 2)})
    return rep
