"""The runs of a session as a project keeps them: each run's summary and its history, so that
a reopened project (or a recovered autosave) shows its Runs tab and its curves again.

A run is saved as a JSON object (see :meth:`Run.to_summary_dict` for the summary keys) with
``m_train``, ``current`` (the run whose model the project holds) and ``history``::

    "history": {"encoding": "float64-le-base64",
                "epochs": {"epoch": "<base64>", "train_cost": "<base64>", ...},
                "steps": {"epoch": "<base64>", "step": ..., ...},
                "layers": {"n": L, "grad_norm_W": "<base64 of (n_steps, L)>", ...}}

Every column is little-endian float64 encoded as base64 (exact, and a tenth of the size of
JSON numbers, which matters: a project file is at most 10 MB). NaN and infinities keep their
values; a diagnostic that is None (not applicable) is saved as NaN. Step records are thinned
evenly (the first and last kept) to at most :func:`step_budget` points per run; epoch records
to at most :data:`MAX_SAVED_EPOCHS`. Reading never trusts the file: a column of the wrong
length or type, or a run that is not an object, leaves that run's history out (the run is kept
with an empty history) and says so in a note.
"""

from __future__ import annotations

import base64
import binascii
import math
import weakref
from dataclasses import MISSING, fields
from typing import Any

import numpy as np

from desktop_nn.nn.diagnostics import LayerStats
from desktop_nn.train.history import EpochReport, History, StepReport
from desktop_nn.train.live_settings import SettingChange
from desktop_nn.train.runs import Run

ENCODING = "float64-le-base64"
MAX_SAVED_EPOCHS = 5000
MAX_STEPS_PER_RUN = 2000
MIN_STEPS_PER_RUN = 100
HISTORY_BYTES = 4 * 1024 * 1024  # all runs' step records together, before base64
# the live view's histograms are no part of a history (History.add_step drops them)
_STEP_FIELDS = [f.name for f in fields(StepReport) if f.name not in ("layers", "histograms")]
_EPOCH_FIELDS = [f.name for f in fields(EpochReport)]
_LAYER_FIELDS = [f.name for f in fields(LayerStats) if f.name != "layer"]


def _encode(values: list | np.ndarray) -> str:
    a = np.asarray(values, dtype="<f8")
    return base64.b64encode(a.tobytes()).decode("ascii")


def _decode(text: Any, n: int, where: str) -> np.ndarray:
    """``n`` float64 values from ``text`` (ValueError naming ``where`` when they are not)."""
    if not isinstance(text, str):
        raise ValueError(f"{where} is not a base64 string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{where} is not valid base64") from None
    if len(raw) != 8 * n:
        raise ValueError(f"{where} holds {len(raw) // 8} values, expected {n}")
    return np.frombuffer(raw, dtype="<f8").astype(np.float64)


def _number(v: Any) -> float:
    """A diagnostic's value as a float (None, not applicable, as NaN)."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _thin(n: int, keep: int) -> np.ndarray:
    """Indices of at most ``keep`` of ``n`` records, evenly spread, first and last kept."""
    if n <= keep:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, keep).round().astype(np.int64))


def step_budget(runs: list[Run]) -> int:
    """Step records saved per run: all runs together fit :data:`HISTORY_BYTES`, each run
    between :data:`MIN_STEPS_PER_RUN` and :data:`MAX_STEPS_PER_RUN` points."""
    if not runs:
        return MAX_STEPS_PER_RUN
    widest = max(max(r.n_layers, 1) for r in runs)
    per_step = 8 * (len(_STEP_FIELDS) + widest * len(_LAYER_FIELDS))
    per_run = HISTORY_BYTES // (per_step * len(runs))
    return int(min(MAX_STEPS_PER_RUN, max(MIN_STEPS_PER_RUN, per_run)))


# id(history) -> (a weak reference to it, what it held, its columns): an autosave every 30 s
# encodes again only the histories that changed (the run training), not every finished run
_encoded: dict[int, tuple[weakref.ref, tuple, dict]] = {}


def history_to_dict(history: History, max_steps: int = MAX_STEPS_PER_RUN) -> dict:
    """``history`` as JSON-able columns, step records thinned to ``max_steps``."""
    key = (len(history.steps), len(history.epochs), history.stride,
           history.steps[-1].step if history.steps else 0, max_steps)
    cached = _encoded.get(id(history))
    if cached is not None and cached[0]() is history and cached[1] == key:
        return cached[2]
    d = _history_to_dict(history, max_steps)
    for k in [k for k, (ref, _, _) in _encoded.items() if ref() is None]:
        del _encoded[k]  # histories gone (runs removed, projects closed)
    _encoded[id(history)] = (weakref.ref(history), key, d)
    return d


def _history_to_dict(history: History, max_steps: int) -> dict:
    epochs = list(history.epochs)  # copies: a training thread may be appending
    steps = list(history.steps)
    epochs = [epochs[i] for i in _thin(len(epochs), MAX_SAVED_EPOCHS)]
    steps = [steps[i] for i in _thin(len(steps), max_steps)]
    n_layers = min((len(s.layers) for s in steps), default=0)
    layers: dict[str, Any] = {"n": n_layers}
    for name in _LAYER_FIELDS:
        table = [[_number(getattr(s.layers[l], name)) for l in range(n_layers)] for s in steps]
        layers[name] = _encode(np.asarray(table, dtype=np.float64).reshape(-1))
    return {
        "encoding": ENCODING,
        "epochs": {k: _encode([_number(getattr(e, k)) for e in epochs]) for k in _EPOCH_FIELDS},
        "steps": {k: _encode([_number(getattr(s, k)) for s in steps]) for k in _STEP_FIELDS},
        "n_epochs": len(epochs), "n_steps": len(steps), "layers": layers,
    }


def _count(d: dict, key: str, where: str) -> int:
    n = d.get(key)
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 10**7:
        raise ValueError(f"{where}.{key} is not a count")
    return n


def _as(kind: type, x: float) -> Any:
    if kind is int:  # counters saved as float64 are whole numbers below 2**53
        return int(x) if math.isfinite(x) else 0
    return float(x)


def _field_kinds(cls) -> dict[str, type]:
    return {f.name: (int if f.type in ("int", int) else float) for f in fields(cls)}


def history_from_dict(d: Any, where: str = "history") -> History:
    """The :class:`History` saved by :func:`history_to_dict` (ValueError saying what is
    wrong). A field missing from the file (one written by an older version) takes its
    default, or NaN."""
    if not isinstance(d, dict) or d.get("encoding") != ENCODING:
        raise ValueError(f"{where} is not a saved history ({ENCODING})")
    n_epochs, n_steps = _count(d, "n_epochs", where), _count(d, "n_steps", where)
    columns = {}
    for part, names, n in (("epochs", _EPOCH_FIELDS, n_epochs),
                           ("steps", _STEP_FIELDS, n_steps)):
        given = d.get(part)
        if not isinstance(given, dict):
            raise ValueError(f"{where}.{part} is not an object")
        columns[part] = {k: _decode(given[k], n, f"{where}.{part}.{k}")
                         for k in names if k in given}
    layers = d.get("layers")
    if not isinstance(layers, dict):
        raise ValueError(f"{where}.layers is not an object")
    n_layers = _count(layers, "n", f"{where}.layers")
    per_layer = {k: _decode(layers[k], n_steps * n_layers, f"{where}.layers.{k}").reshape(
        n_steps, n_layers) for k in _LAYER_FIELDS if k in layers}

    def record(cls, cols: dict[str, np.ndarray], i: int, **extra) -> Any:
        kinds = _field_kinds(cls)
        values = dict(extra)
        for f in fields(cls):
            if f.name in values:
                continue
            if f.name in cols:
                values[f.name] = _as(kinds[f.name], cols[f.name][i])
            elif f.default is not MISSING:
                values[f.name] = f.default
            else:
                values[f.name] = _as(kinds[f.name], math.nan)
        return cls(**values)

    history = History()
    for i in range(n_epochs):
        history.epochs.append(record(EpochReport, columns["epochs"], i))
    for i in range(n_steps):
        stats = [record(LayerStats, {k: v[i] for k, v in per_layer.items()}, l, layer=l + 1)
                 for l in range(n_layers)]
        history.steps.append(record(StepReport, columns["steps"], i, layers=stats))
    return history


def run_to_dict(run: Run, current: bool, max_steps: int = MAX_STEPS_PER_RUN) -> dict:
    """What a project keeps of ``run``: its summary, its history, and whether it is the run
    whose model the project holds."""
    return {**run.to_summary_dict(), "m_train": run.m_train, "current": current,
            "history": history_to_dict(run.history, max_steps)}


def runs_to_dicts(runs: list[Run], current: Run | None) -> list[dict]:
    """Every run of the session, as :func:`run_to_dict` (their histories within budget)."""
    budget = step_budget(runs)
    return [run_to_dict(r, r is current, budget) for r in runs]


def _changes_from(items: Any, number: int, notes: list[str]) -> list[SettingChange]:
    """The settings changed during run ``number`` (its summary's ``changes``); those that
    cannot be read are left out, with a note."""
    if items is None:
        return []
    items = items if isinstance(items, list) else [items]
    changes = []
    for item in items:
        try:
            changes.append(SettingChange.from_dict(item))
        except ValueError:
            pass
    if len(changes) < len(items):
        notes.append(f"{len(items) - len(changes)} of Run {number}'s setting changes could "
                     "not be read; their marks were left out.")
    return changes


def runs_from_dicts(items: list[Any]) -> tuple[list[Run], Run | None, list[str]]:
    """The runs a project saved (oldest first), the one marked current (None when none), and
    notes on what could not be read. A run saved without a history (by an older version, or
    with a damaged one) comes back with an empty history."""
    runs: list[Run] = []
    current: Run | None = None
    notes: list[str] = []
    for k, d in enumerate(items):
        where = f"run {k + 1}"
        if not isinstance(d, dict):
            notes.append(f"The saved {where} is not a set of values; it was left out.")
            continue
        number = d.get("number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1 \
                or any(r.number == number for r in runs):
            number = (runs[-1].number + 1) if runs else 1
        settings = d.get("settings") if isinstance(d.get("settings"), dict) else {}
        m_train = d.get("m_train")
        m_train = m_train if isinstance(m_train, int) and not isinstance(m_train, bool) \
            and m_train > 0 else 1
        history = History()
        if "history" in d:
            try:
                history = history_from_dict(d["history"], f"Run {number}'s history")
            except (ValueError, KeyError) as exc:
                notes.append(f"{exc}; that run's curves were left out.")
        history.changes.extend(_changes_from(d.get("changes"), number, notes))
        summary = d.get("summary") if isinstance(d.get("summary"), str) else ""
        run = Run(number, settings, history, m_train, summary)
        if isinstance(d.get("started"), str):
            run.started = d["started"]
        runs.append(run)
        if d.get("current") is True:
            current = run
    return runs, current, notes


__all__ = ["history_from_dict", "history_to_dict", "run_to_dict", "runs_from_dicts",
           "runs_to_dicts", "step_budget"]
