"""The settings a project holds for the three panels, checked without Qt: what each value may
be, the same ranges the window's widgets hold, so that a project that passes opens exactly as
written and nothing in it is silently replaced, clamped or dropped.

:func:`check_project_settings` lists every problem; :func:`desktop_nn.io.project_file.
load_project` refuses a project with any (one message listing them all). A missing value is
not a problem: the panel keeps its default for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from desktop_nn.data.dataset import NORMALISATIONS
from desktop_nn.data.image_folder import COLORS, RESIZE_MODES
from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from desktop_nn.nn.costs import VALID_PAIRS
from desktop_nn.nn.init import INITS
from desktop_nn.nn.optimizers import OPTIMIZERS

# The ranges of the window's widgets (gui/designer.py, gui/training_panel.py,
# gui/data_panel.py); a value outside them would be clamped there.
MAX_UNITS = 100_000  # units of a hidden layer (0 is kept: the designer shows it as a problem)
MAX_LAYERS = 100  # hidden layers
LR_RANGE = (0.00001, 100.0)
EPOCHS_RANGE = (1, 100_000)
BATCH_RANGE = (0, 1_000_000)  # 0: the whole training set
L2_RANGE = (0.0, 1000.0)
SEED_RANGE = (0, 2**31 - 1)
VAL_SPLIT_RANGE = (0.0, 0.9)
DEVICES = ("auto", "cpu", "gpu")
DTYPES = ("float32", "float64")
DATA_COLORS = ("auto", *COLORS)
SCALINGS = tuple(k for k in NORMALISATIONS if k != "none")  # the data panel's choices


def _whole(v: Any) -> bool:
    """An int, or a float with a whole value (JSON writers may write 5.0), not a bool."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v) and v.is_integer())


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _show(v: Any) -> str:
    return f"{v!r:.60}"


class _Problems(list):
    def whole(self, section: Mapping, key: str, where: str, lo: int, hi: int) -> None:
        if key not in section:
            return
        v = section[key]
        if not _whole(v) or not lo <= v <= hi:
            self.append(f"{where}.{key} must be a whole number from {lo} to {hi}, "
                        f"got {_show(v)}")

    def number(self, section: Mapping, key: str, where: str, lo: float, hi: float) -> None:
        if key not in section:
            return
        v = section[key]
        if not _number(v) or not lo <= v <= hi:
            self.append(f"{where}.{key} must be a number from {lo:g} to {hi:g}, got {_show(v)}")

    def choice(self, section: Mapping, key: str, where: str, choices: tuple) -> None:
        if key in section and section[key] not in choices:
            self.append(f"{where}.{key} must be one of {', '.join(choices)}, "
                        f"got {_show(section[key])}")


def _check_designer(d: Mapping, out: _Problems) -> None:
    if "layers" in d:
        layers = d["layers"]
        if not isinstance(layers, list):
            out.append(f"designer.layers must be a list of [units, activation], "
                       f"got {_show(layers)}")
        elif len(layers) > MAX_LAYERS:
            out.append(f"designer.layers has {len(layers)} hidden layers, over {MAX_LAYERS}")
        else:
            for i, layer in enumerate(layers, start=1):
                if not isinstance(layer, list | tuple) or len(layer) != 2:
                    out.append(f"designer.layers[{i}] must be [units, activation], "
                               f"got {_show(layer)}")
                    continue
                units, act = layer
                if not _whole(units) or not 0 <= units <= MAX_UNITS:
                    out.append(f"designer.layers[{i}] units must be a whole number from 0 to "
                               f"{MAX_UNITS}, got {_show(units)}")
                if act not in HIDDEN_ACTIVATIONS:
                    out.append(f"designer.layers[{i}] activation must be one of "
                               f"{', '.join(HIDDEN_ACTIVATIONS)}, got {_show(act)}")
    out.choice(d, "output", "designer", OUTPUT_ACTIVATIONS)
    out.choice(d, "init", "designer", INITS)
    if "cost" in d:
        output = d.get("output", "sigmoid")
        allowed = VALID_PAIRS.get(output) if isinstance(output, str) else None
        every = tuple(dict.fromkeys(c for pair in VALID_PAIRS.values() for c in pair))
        if d["cost"] not in every:
            out.choice(d, "cost", "designer", every)
        elif allowed is not None and d["cost"] not in allowed:
            out.append(f"designer.cost {_show(d['cost'])} does not go with the "
                       f"{output} output (use {', '.join(allowed)})")


def _check_training(t: Mapping, out: _Problems) -> None:
    out.number(t, "lr", "training", *LR_RANGE)
    out.whole(t, "epochs", "training", *EPOCHS_RANGE)
    out.whole(t, "batch", "training", *BATCH_RANGE)
    out.number(t, "l2", "training", *L2_RANGE)
    out.whole(t, "seed", "training", *SEED_RANGE)
    out.choice(t, "optimizer", "training", OPTIMIZERS)
    out.choice(t, "device", "training", DEVICES)
    out.choice(t, "dtype", "training", DTYPES)


def _check_data(d: Mapping, out: _Problems) -> None:
    if "folder" in d and not isinstance(d["folder"], str):
        out.append(f"data.folder must be a string, got {_show(d['folder'])}")
    if "size" in d and not isinstance(d["size"], str):
        # free text, shown as written: the data panel says what is wrong with it on loading
        out.append(f"data.size must be text ('auto' or like '64x64'), got {_show(d['size'])}")
    out.choice(d, "color", "data", DATA_COLORS)
    out.choice(d, "resize", "data", RESIZE_MODES)
    out.choice(d, "normalisation", "data", SCALINGS)
    out.number(d, "val_split", "data", *VAL_SPLIT_RANGE)
    if d.get("target") is not None and not isinstance(d["target"], str):
        out.append(f"data.target must be a column name or null, got {_show(d['target'])}")


def check_project_settings(project: Any) -> list[str]:
    """Every problem with the panels' settings of ``project`` (a Project, or any object with
    ``designer``, ``training`` and ``data`` mappings), one line each, naming the value (e.g.
    ``training.lr must be a number from 1e-05 to 100, got nan``); [] when it can be shown
    exactly as written. Missing values are fine (the panels' defaults)."""
    out = _Problems()
    for name, check in (("designer", _check_designer), ("training", _check_training),
                        ("data", _check_data)):
        section = getattr(project, name, None)
        if section is None:
            continue
        if not isinstance(section, Mapping):
            out.append(f"{name} must be an object, got {_show(section)}")
            continue
        check(section, out)
    return list(out)


__all__ = ["MAX_LAYERS", "MAX_UNITS", "check_project_settings"]
