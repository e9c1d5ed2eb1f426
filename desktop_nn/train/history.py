"""Run history: step and epoch records kept in memory with a bounded size, exportable as CSV
and JSON lines.

Step records are decimated: when more than ``max_step_points`` are kept, every other one is
dropped and from then on only every second report is recorded (the stride doubles), so a run of
a million steps keeps at most ``max_step_points`` points spread evenly over the whole run.
Epoch records are few and all kept, and so are the settings changed during the run
(train/live_settings.py's SettingChange: "lr 0.1 -> 0.01 after step 300").
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from desktop_nn.io.atomic import atomic_write_text
from desktop_nn.nn.diagnostics import LAYER_FIELDS, LayerStats
from desktop_nn.nn.histograms import ActivationHistograms
from desktop_nn.train.live_settings import SettingChange


@dataclass
class StepReport:
    """One mini-batch step, with the per-layer diagnostics of that step. Plain host numbers.

    ``histograms``: the layers' activation histograms of the step's batch, for the live view
    only (a History keeps the report without them, and exports never write them)."""

    epoch: int
    step: int
    batch_cost: float
    layers: list[LayerStats]
    examples_seen: int
    elapsed_s: float
    examples_per_s: float
    total_steps: int
    histograms: ActivationHistograms | None = None

    def to_dict(self) -> dict:
        d = asdict(replace(self, histograms=None))
        del d["histograms"]
        d["type"] = "step"
        return d

    @classmethod
    def from_dict(cls, d: dict) -> StepReport:
        """Read :meth:`to_dict`'s output, of this version or an older one (the layers through
        :meth:`LayerStats.from_dict`, which maps what older versions wrote); JSON's null is
        NaN. Raises KeyError or TypeError on a malformed record."""
        def number(key: str, default: float = math.nan) -> float:
            v = d.get(key, default)
            return math.nan if v is None else float(v)
        return cls(epoch=int(d["epoch"]), step=int(d["step"]), batch_cost=number("batch_cost"),
                   layers=[LayerStats.from_dict(x) for x in d.get("layers") or []],
                   examples_seen=int(d.get("examples_seen", 0)),
                   elapsed_s=number("elapsed_s", 0.0),
                   examples_per_s=number("examples_per_s", 0.0),
                   total_steps=int(d.get("total_steps", 0)))


@dataclass
class EpochReport:
    """End of an epoch: cost and accuracy on the training and validation sets (NaN when absent)."""

    epoch: int
    step: int
    train_cost: float
    train_accuracy: float
    val_cost: float = math.nan
    val_accuracy: float = math.nan
    seconds: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["type"] = "epoch"
        return d


def _json_number(x: float) -> float | None:
    """JSON has no NaN: write null."""
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float):
        return _json_number(obj)
    return obj


@dataclass
class History:
    max_step_points: int = 20_000
    steps: list[StepReport] = field(default_factory=list)
    epochs: list[EpochReport] = field(default_factory=list)
    changes: list[SettingChange] = field(default_factory=list)
    stride: int = 1
    _seen: int = 0

    def add_step(self, report: StepReport) -> None:
        self._seen += 1
        if (self._seen - 1) % self.stride:
            return
        if report.histograms is not None:  # for the live view only: kept, they add up
            report = replace(report, histograms=None)
        self.steps.append(report)
        if len(self.steps) > self.max_step_points:
            self.steps = self.steps[::2]
            self.stride *= 2

    def add_epoch(self, report: EpochReport) -> None:
        self.epochs.append(report)

    def add_change(self, change: SettingChange) -> None:
        self.changes.append(change)

    def clear(self) -> None:
        self.steps.clear()
        self.epochs.clear()
        self.changes.clear()
        self.stride, self._seen = 1, 0

    # ------------------------------------------------------------------ export
    def to_jsonl(self) -> str:
        """One JSON object per line: every epoch record, then every setting changed, then the
        kept step records."""
        lines = [json.dumps(_clean(r.to_dict())) for r in self.epochs]
        lines += [json.dumps(_clean(c.to_dict())) for c in self.changes]
        lines += [json.dumps(_clean(r.to_dict())) for r in self.steps]
        return "\n".join(lines) + ("\n" if lines else "")

    def steps_csv(self) -> str:
        """Step records as CSV, one column per layer quantity (grad_norm_W_1, ...)."""
        n_layers = max((len(r.layers) for r in self.steps), default=0)
        per_layer = LAYER_FIELDS
        header = ["epoch", "step", "batch_cost", "examples_seen", "elapsed_s"]
        header += [f"{q}_{l}" for l in range(1, n_layers + 1) for q in per_layer]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        for r in self.steps:
            row = [r.epoch, r.step, r.batch_cost, r.examples_seen, round(r.elapsed_s, 6)]
            for s in r.layers:
                row += [getattr(s, q) for q in per_layer]
            w.writerow(row)
        return buf.getvalue()

    def epochs_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        cols = ["epoch", "step", "train_cost", "train_accuracy", "val_cost", "val_accuracy",
                "seconds"]
        w.writerow(cols)
        for r in self.epochs:
            w.writerow([getattr(r, c) for c in cols])
        return buf.getvalue()

    def save_jsonl(self, path: str | os.PathLike) -> Path:
        return atomic_write_text(path, self.to_jsonl())

    def save_csv(self, path: str | os.PathLike, kind: str = "steps") -> Path:
        """``kind`` "steps" or "epochs"."""
        text = self.steps_csv() if kind == "steps" else self.epochs_csv()
        return atomic_write_text(path, text)
