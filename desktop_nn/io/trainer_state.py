"""Save and load what continuing a training run needs beyond the weights: the trainer's
counters, its shuffling generator and the optimiser's per-parameter state (momentum's v, Adam's
v and s), as an ``.npz`` with no pickle:

    state         (k,) uint8     UTF-8 JSON: {"format": "desktop-nn-trainer-state",
                                 "format_version": 1, "trainer": Trainer.checkpoint()[0]}
    opt.<name>.<W|b>.<i>         the optimiser's arrays, named as Optimizer.state_arrays()
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from desktop_nn.io.atomic import atomic_open

FORMAT = "desktop-nn-trainer-state"
FORMAT_VERSION = 1
MAX_BYTES = 2 << 30


class TrainerStateError(ValueError):
    """A trainer-state file cannot be used; the message names the file and the problem."""


def save_trainer_state(path: str | os.PathLike, state: dict,
                       arrays: dict[str, np.ndarray]) -> Path:
    """Write atomically (see :mod:`desktop_nn.io.atomic`)."""
    path = Path(path)
    header = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                         "trainer": state}).encode("utf-8")
    named = {"opt." + k.replace("/", "."): np.asarray(a) for k, a in arrays.items()}
    with atomic_open(path) as f:
        np.savez(f, state=np.frombuffer(header, dtype=np.uint8), **named)
    return path


def load_trainer_state(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """-> (the trainer's JSON state, the optimiser arrays named as Optimizer.state_arrays()).
    Raises :class:`TrainerStateError` naming the file when it cannot be used."""
    path = Path(path)

    def fail(problem: str) -> TrainerStateError:
        return TrainerStateError(f"{path}: {problem}")

    try:
        if path.stat().st_size > MAX_BYTES:
            raise fail("too large for a training state")
        with np.load(path, allow_pickle=False) as z:
            if "state" not in z.files:
                raise fail("not a desktop-nn training state (no 'state' entry)")
            header = json.loads(bytes(z["state"]).decode("utf-8"))
            arrays = {}
            for name in z.files:
                if name == "state":
                    continue
                parts = name.split(".")
                if len(parts) != 4 or parts[0] != "opt":
                    raise fail(f"unexpected entry {name!r}")
                arrays["/".join(parts[1:])] = z[name]
    except TrainerStateError:
        raise
    except FileNotFoundError:
        raise fail("no such file") from None
    except (OSError, ValueError, EOFError) as exc:  # zip, npy and JSON errors
        raise fail(f"damaged or not a training state ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise fail("not a desktop-nn training state")
    if header.get("format_version") != FORMAT_VERSION:
        raise fail(f"format version {header.get('format_version')!r} is not supported "
                   f"(this desktop-nn reads version {FORMAT_VERSION})")
    if not isinstance(header.get("trainer"), dict):
        raise fail("the 'trainer' entry is missing")
    return header["trainer"], arrays
