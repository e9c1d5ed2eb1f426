"""Save and load what continuing a training run needs beyond the weights: the trainer's
counters, its shuffling generator and the optimiser's per-parameter state (momentum's v, Adam's
v and s), as an ``.npz`` with no pickle:

    state         (k,) uint8     UTF-8 JSON: {"format": "desktop-nn-trainer-state",
                                 "format_version": 1, "trainer": Trainer.checkpoint()[0],
                                 "generation": the save it belongs to (or absent)}
    opt.<name>.<W|b>.<i>         the optimiser's arrays, named as Optimizer.state_arrays()

Reading is bounded (see :mod:`desktop_nn.io.npz_reader`): only a regular file of at most
:data:`MAX_BYTES` is opened, every member's size and dtype is checked from its header before
any data is read, and every problem is a :class:`TrainerStateError` naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from desktop_nn.io import json_text
from desktop_nn.io.atomic import atomic_open
from desktop_nn.io.npz_reader import NpzArchive, NpzError, os_problem

FORMAT = "desktop-nn-trainer-state"
FORMAT_VERSION = 1
MAX_BYTES = 2 << 30
MAX_STATE_JSON = 16 << 20


class TrainerStateError(ValueError):
    """A trainer-state file cannot be used; the message names the file and the problem."""


@dataclass
class TrainerStateFile:
    """A state file's contents: the trainer's JSON state, the optimiser's arrays (named as
    Optimizer.state_arrays()) and the generation of the save it belongs to (None: none said)."""

    trainer: dict
    arrays: dict[str, np.ndarray]
    generation: str | None = None


def write_trainer_state(f: IO[bytes], state: dict, arrays: dict[str, np.ndarray],
                        generation: str | None = None) -> None:
    """Write the state file's bytes to the open binary file ``f``."""
    doc: dict = {"format": FORMAT, "format_version": FORMAT_VERSION, "trainer": state}
    if generation is not None:
        doc["generation"] = generation
    header = json.dumps(doc).encode("utf-8")
    named = {"opt." + k.replace("/", "."): np.asarray(a) for k, a in arrays.items()}
    np.savez(f, state=np.frombuffer(header, dtype=np.uint8), **named)


def save_trainer_state(path: str | os.PathLike, state: dict,
                       arrays: dict[str, np.ndarray], generation: str | None = None) -> Path:
    """Write atomically (see :mod:`desktop_nn.io.atomic`)."""
    path = Path(path)
    with atomic_open(path) as f:
        write_trainer_state(f, state, arrays, generation)
    return path


def _contents(z: NpzArchive) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON document and the arrays; every header is checked before any data is read."""
    if "state" not in z:
        raise NpzError("not a desktop-nn training state (no 'state' entry)")
    names = [n for n in z.names if n != "state"]
    for name in names:
        parts = name.split(".")
        if len(parts) != 4 or parts[0] != "opt" or parts[2] not in ("W", "b") \
                or not parts[3].isdigit():
            raise NpzError(f"unexpected entry {name!r}")
    h = z.header("state")
    if h.dtype != np.uint8 or len(h.shape) != 1 or h.nbytes > MAX_STATE_JSON:
        raise NpzError(f"its 'state' entry has dtype {h.dtype} and shape {h.shape}; expected "
                       "1-d uint8 bytes of JSON")
    for name in names:
        a = z.header(name)
        if a.dtype.kind != "f":
            raise NpzError(f"{name} has dtype {a.dtype}; expected a float array")
    try:
        doc = json_text.loads(z.read("state").tobytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise NpzError("damaged or not a training state (its state is not UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise NpzError(f"damaged or not a training state (its state is not JSON: {exc})") \
            from None
    except ValueError as exc:  # JsonValueError, or Python's own limit on digits
        raise NpzError(f"damaged or not a training state (its state {exc})") from None
    except RecursionError:
        raise NpzError("damaged or not a training state (its JSON is nested too deeply)") \
            from None
    arrays = {"/".join(name.split(".")[1:]): z.read(name) for name in names}
    return doc, arrays


def read_trainer_state(path: str | os.PathLike) -> TrainerStateFile:
    """The state file's contents, generation included. Raises :class:`TrainerStateError`
    naming the file when it cannot be used."""
    path = Path(path)

    def fail(problem: str) -> TrainerStateError:
        return TrainerStateError(f"{path}: {problem}")

    try:
        with NpzArchive(path, max_bytes=MAX_BYTES) as z:
            doc, arrays = _contents(z)
    except FileNotFoundError:
        raise fail("no such file") from None
    except OSError as exc:
        raise fail(os_problem(exc)) from None
    except NpzError as exc:
        text = str(exc)
        if text.startswith("is truncated or not an .npz"):
            text = "damaged or not a training state (" + text + ")"
        elif text.startswith("is too large"):
            text = "too large for a training state (" + text + ")"
        raise fail(text) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise fail("not a desktop-nn training state")
    if doc.get("format_version") != FORMAT_VERSION:
        raise fail(f"format version {doc.get('format_version')!r} is not supported "
                   f"(this desktop-nn reads version {FORMAT_VERSION})")
    if not isinstance(doc.get("trainer"), dict):
        raise fail("the 'trainer' entry is missing")
    generation = doc.get("generation")
    if generation is not None and not isinstance(generation, str):
        raise fail("its 'generation' is not a string")
    return TrainerStateFile(doc["trainer"], arrays, generation)


def load_trainer_state(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """-> (the trainer's JSON state, the optimiser arrays named as Optimizer.state_arrays()).
    Raises :class:`TrainerStateError` naming the file when it cannot be used."""
    got = read_trainer_state(path)
    return got.trainer, got.arrays
