"""The runs of a session: every training run kept with its settings and history, so that runs
can be compared (e.g. quadratic vs cross-entropy cost, sigmoid vs ReLU) and exported.

A run is one network trained from its initial weights; continuing it (Start with only the
epochs, learning rate, L2 or batch size changed: workbench/continuing.py) adds to the same
run, and its history keeps the settings changed. Curves are read from the run's
:class:`History` and put on a common x axis, epochs (examples seen / training examples), so
that runs with different batch sizes line up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from desktop_nn.train.history import History

# metric name -> (where it comes from, the attribute); per-layer metrics take a layer number
EPOCH_METRICS = {"train cost": "train_cost", "validation cost": "val_cost",
                 "train accuracy": "train_accuracy", "validation accuracy": "val_accuracy"}
STEP_METRICS = {"batch cost": "batch_cost"}
LAYER_METRICS = {"||dW[l]||": "grad_norm_W", "||db[l]||": "grad_norm_b",
                 "update ratio[l]": "update_ratio", "saturated units[l]": "saturated_share",
                 "dead units[l]": "dead_share"}
METRICS = [*EPOCH_METRICS, *STEP_METRICS, *LAYER_METRICS]


@dataclass
class Run:
    """One training run.

    Attributes:
        number: 1, 2, ... in the order the runs were started.
        settings: JSON-able snapshot of what made the run: {"designer": ..., "training": ...,
            "data": ...} (the panels' ``state()`` dicts).
        history: the trainer's history, filled while the run trains.
        m_train: training examples, to turn examples seen into epochs.
        summary: one line saying what the run is ("[784, 30, 10] sigmoid · quadratic · ...").
    """

    number: int
    settings: dict
    history: History
    m_train: int
    summary: str = ""
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(
        timespec="seconds"))

    @property
    def name(self) -> str:
        return f"Run {self.number}"

    @property
    def n_layers(self) -> int:
        steps = self.history.steps
        return len(steps[-1].layers) if steps else 0

    def curve(self, metric: str, layer: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(x in epochs, y) of ``metric`` (one of :data:`METRICS`); per-layer metrics read
        ``layer`` (1-based). Missing values are NaN; an unknown layer gives empty arrays."""
        if metric in EPOCH_METRICS:
            epochs = list(self.history.epochs)
            x = np.array([r.epoch for r in epochs], dtype=np.float64)
            y = np.array([getattr(r, EPOCH_METRICS[metric]) for r in epochs], dtype=np.float64)
            return x, y
        steps = list(self.history.steps)  # a copy: the training thread may be appending
        x = np.array([r.examples_seen for r in steps], dtype=np.float64) / max(self.m_train, 1)
        if metric in STEP_METRICS:
            return x, np.array([r.batch_cost for r in steps], dtype=np.float64)
        if metric not in LAYER_METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        key = LAYER_METRICS[metric]
        keep = [i for i, r in enumerate(steps) if len(r.layers) >= layer >= 1]
        y = np.array([getattr(steps[i].layers[layer - 1], key) for i in keep],
                     dtype=np.float64)
        return x[keep], y

    def settings_in_force(self) -> dict[str, float]:
        """The learning rate, L2 and batch size the run last trained with (TrainConfig
        names: ``lr``, ``l2``, ``batch_size``): its settings at the start with the changes
        made during it. A value that is missing or unusable (an older or damaged file) is
        left out."""
        training = self.settings.get("training") if isinstance(self.settings, dict) else None
        training = training if isinstance(training, dict) else {}
        values = {"lr": training.get("lr"), "l2": training.get("l2"),
                  "batch_size": training.get("batch")}
        for change in self.history.changes:
            values[change.name] = change.new
        usable = {"lr": lambda v: v > 0, "l2": lambda v: v >= 0,
                  "batch_size": lambda v: v >= 0 and v == int(v)}
        out: dict[str, float] = {}
        for name, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
                    and usable[name](v):
                out[name] = int(v) if name == "batch_size" else float(v)
        return out

    def final(self) -> dict:
        """The last epoch's figures (NaN when the run has no epoch yet)."""
        last = self.history.epochs[-1] if self.history.epochs else None
        get = (lambda k: getattr(last, k)) if last is not None else (lambda k: math.nan)
        return {"epochs": last.epoch if last is not None else 0,
                "train_cost": get("train_cost"), "train_accuracy": get("train_accuracy"),
                "val_cost": get("val_cost"), "val_accuracy": get("val_accuracy")}

    def to_summary_dict(self) -> dict:
        """JSON-able: what a project keeps of a run (not its step and epoch records): its
        settings, final figures and the settings changed during it (``changes``: dicts that
        :meth:`SettingChange.from_dict` reads back)."""
        final = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in self.final().items()}
        return {"number": self.number, "summary": self.summary, "started": self.started,
                "settings": self.settings, "final": final,
                "changes": [c.to_dict() for c in self.history.changes]}


class RunLog:
    """The runs of a session, in order."""

    def __init__(self) -> None:
        self.runs: list[Run] = []

    def __len__(self) -> int:
        return len(self.runs)

    def add(self, settings: dict, history: History, m_train: int, summary: str = "") -> Run:
        number = max((r.number for r in self.runs), default=0) + 1
        run = Run(number, settings, history, m_train, summary)
        self.runs.append(run)
        return run

    def remove(self, number: int) -> None:
        self.runs = [r for r in self.runs if r.number != number]

    def get(self, number: int) -> Run | None:
        return next((r for r in self.runs if r.number == number), None)

    def clear(self) -> None:
        self.runs.clear()

    def restore(self, runs: list[Run]) -> None:
        """The runs of a reopened project, replacing these (new runs are numbered after
        them)."""
        self.runs = list(runs)


def describe(designer: dict, training: dict) -> str:
    """A one-line summary of a run's settings, from the panels' ``state()`` dicts: designer
    {"layers": [[units, activation], ...], "output", "cost", "init"} and training {"lr",
    "batch", "optimizer", "l2", ...}."""
    hidden = ", ".join(f"{u} {a}" for u, a in designer.get("layers") or [])
    out = designer.get("output", "?")
    parts = [f"[{hidden}] → {out}" if hidden else f"→ {out}", str(designer.get("cost", "?")),
             f"{training.get('optimizer', '?')} lr {training.get('lr', '?')}"]
    batch = training.get("batch")
    if batch is not None:
        parts.append("full batch" if batch == 0 else f"batch {batch}")
    if training.get("l2"):
        parts.append(f"L2 {training['l2']}")
    return " · ".join(parts)
