"""A project's runs with their histories: saved as columns, read back exactly, thinned within a
budget, and a damaged history costs only that run's curves."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from desktop_nn.nn.diagnostics import LayerStats
from desktop_nn.train.history import EpochReport, History, StepReport
from desktop_nn.train.runs import Run, RunLog
from desktop_nn.train.saved_runs import (
    HISTORY_BYTES,
    MAX_STEPS_PER_RUN,
    history_from_dict,
    history_to_dict,
    runs_from_dicts,
    runs_to_dicts,
    step_budget,
)


def stats(layer: int, rng) -> LayerStats:
    values = {f: float(rng.lognormal()) for f in LayerStats.__dataclass_fields__ if f != "layer"}
    return LayerStats(layer=layer, **values)


def history(n_steps: int, n_epochs: int, n_layers: int = 3, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    h = History()
    for i in range(n_steps):
        h.add_step(StepReport(epoch=i // 10 + 1, step=i + 1, batch_cost=float(rng.random()),
                              layers=[stats(l, rng) for l in range(1, n_layers + 1)],
                              examples_seen=10 * (i + 1), elapsed_s=0.01 * i,
                              examples_per_s=1000.0, total_steps=n_steps))
    for e in range(1, n_epochs + 1):
        h.add_epoch(EpochReport(epoch=e, step=10 * e, train_cost=float(rng.random()),
                                train_accuracy=float(rng.random()),
                                val_cost=math.nan if e == 2 else float(rng.random()),
                                val_accuracy=float(rng.random()), seconds=0.5))
    return h


def test_a_history_comes_back_exactly():
    h = history(50, 5)
    h.steps[3].batch_cost = math.inf  # a diverged step keeps its value
    d = json.loads(json.dumps(history_to_dict(h)))  # through strict JSON
    back = history_from_dict(d)
    for a, b in zip(back.epochs, h.epochs, strict=True):  # NaN != NaN: assert_equal
        np.testing.assert_equal(a.to_dict(), b.to_dict())
    assert len(back.steps) == len(h.steps)
    for a, b in zip(back.steps, h.steps, strict=True):
        np.testing.assert_equal(a.to_dict(), b.to_dict())
        assert type(a.step) is int and type(a.batch_cost) is float


def test_steps_are_thinned_evenly_keeping_the_first_and_the_last():
    h = history(1000, 2)
    back = history_from_dict(history_to_dict(h, max_steps=101))
    steps = [r.step for r in back.steps]
    assert len(steps) == 101 and steps[0] == 1 and steps[-1] == 1000
    assert set(np.diff(steps)) <= {9, 10, 11}


def test_all_runs_together_stay_within_the_budget():
    runs = [Run(k, {}, history(3000, 3, n_layers=20, seed=k), 100) for k in range(1, 9)]
    budget = step_budget(runs)
    assert budget < MAX_STEPS_PER_RUN
    text = json.dumps(runs_to_dicts(runs, runs[-1]))
    assert len(text) < 1.5 * HISTORY_BYTES  # base64 is 4/3 of the bytes, plus the epochs


def test_runs_come_back_with_their_numbers_summaries_and_the_current_one():
    log = RunLog()
    for k in range(3):
        log.add({"designer": {}, "training": {"lr": k}}, history(20, 2, seed=k), 90, f"run {k}")
    log.remove(2)
    saved = json.loads(json.dumps(runs_to_dicts(log.runs, log.get(3))))
    runs, current, notes = runs_from_dicts(saved)
    assert notes == [] and [r.number for r in runs] == [1, 3] and current is runs[1]
    assert runs[1].summary == "run 2" and runs[1].settings["training"] == {"lr": 2}
    assert runs[1].m_train == 90 and runs[1].started == log.get(3).started
    x, y = runs[1].curve("||dW[l]||", 2)
    x0, y0 = log.get(3).curve("||dW[l]||", 2)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    restored = RunLog()
    restored.restore(runs)
    assert restored.add({}, History(), 1).number == 4  # new runs are numbered after them


def test_an_older_project_without_histories_gives_runs_with_empty_curves():
    runs, current, notes = runs_from_dicts([{"number": 1, "summary": "s", "settings": {}}])
    assert notes == [] and current is None and runs[0].history.steps == []


@pytest.mark.parametrize("damage", [
    lambda d: d["history"]["steps"].update(step="not base64!"),
    lambda d: d["history"]["steps"].update(step=12),
    lambda d: d["history"].update(n_steps=-1),
    lambda d: d["history"].update(n_steps=3),  # the columns hold more
    lambda d: d["history"]["layers"].update(n=7),
    lambda d: d.update(history=[]),
])
def test_a_damaged_history_costs_only_that_runs_curves(damage):
    log = RunLog()
    log.add({}, history(20, 2), 90, "a")
    log.add({}, history(20, 2), 90, "b")
    saved = json.loads(json.dumps(runs_to_dicts(log.runs, None)))
    damage(saved[0])
    runs, _, notes = runs_from_dicts([*saved, "not a run"])
    assert len(runs) == 2 and runs[0].history.steps == [] and len(runs[1].history.steps) == 20
    assert len(notes) == 2 and "Run 1" in notes[0]


def test_a_history_that_grew_is_encoded_again():
    h = history(30, 2)
    first = history_to_dict(h)
    assert history_to_dict(h) == first  # unchanged: the same columns
    h.add_step(history(31, 0).steps[-1])
    h.add_epoch(history(0, 3).epochs[-1])
    back = history_from_dict(history_to_dict(h))
    assert len(back.steps) == 31 and len(back.epochs) == 3
