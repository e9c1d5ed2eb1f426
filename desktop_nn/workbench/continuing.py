"""Whether a Start continues the run in hand or makes a new one, and why (no Qt).

A run keeps its weights and optimiser state through a change of the settings that only say
how to go on training (:data:`LIVE_SETTINGS`: epochs, learning rate, L2, batch size; the
speed is no setting of the run at all). Any other change needs a new network: the layers,
activations, cost and initialisation make other weights; the seed draws other weights; the
optimiser has other state; the device and precision hold other arrays; other data are
another problem. A run's key (:func:`run_key`) holds exactly those, so that a Start whose
key is the run's continues it (workbench.Workbench.start).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

# The training panel's settings (TrainingPanel.state() keys) that a run can change and keep
# its weights: "epochs" says how long to go on; the others are applied as live changes
# (train/live_settings.py)
LIVE_SETTINGS = ("epochs", "lr", "l2", "batch")

# what each setting that needs a new network is called when it changed
_NAMES = {("designer", "layers"): "hidden layers", ("designer", "output"): "output layer",
          ("designer", "cost"): "cost", ("designer", "init"): "initialisation",
          ("training", "optimizer"): "optimiser", ("training", "seed"): "seed",
          ("training", "device"): "device", ("training", "dtype"): "precision"}


def run_key(designer: dict, training: dict, data_id: object) -> str:
    """The key of a run with the panels' ``designer`` and ``training`` settings on the data
    set ``data_id`` (any JSON-able value naming the loaded data): equal keys, same network."""
    kept = {k: v for k, v in training.items() if k not in LIVE_SETTINGS}
    return json.dumps({"designer": designer, "training": kept, "data": data_id},
                      sort_keys=True)


def restart_reasons(old_key: str, new_key: str) -> list[str]:
    """What differs between two run keys, in words ("seed", "hidden layers", "data"); empty
    when they are equal."""
    if old_key == new_key:
        return []
    try:
        old, new = json.loads(old_key), json.loads(new_key)
        reasons = [name for (part, k), name in _NAMES.items()
                   if old[part].get(k) != new[part].get(k)]
        if old["data"] != new["data"]:
            reasons.append("data")
        known = {k for _, k in _NAMES}
        for part in ("designer", "training"):
            reasons += sorted(k for k in set(old[part]) | set(new[part])
                              if k not in known and old[part].get(k) != new[part].get(k))
    except (ValueError, TypeError, KeyError, AttributeError):
        return ["settings"]
    return reasons or ["settings"]


@dataclass(frozen=True)
class StartMode:
    """What a Start would do now: ``"start"`` (no run in hand: a new run, from an imported
    model's weights when its design is theirs), ``"continue"`` (the run in hand goes on, its
    weights and optimiser state kept) or ``"restart"`` (a new run from freshly drawn
    weights, ``reasons`` saying which settings changed)."""

    action: str
    reasons: list[str] = field(default_factory=list)
