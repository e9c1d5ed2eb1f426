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

The values are checked against what continuing a run needs (:func:`check_trainer_state`):
whole, non-negative counters, a shuffling generator's state the generator takes, a known
optimiser with a step count of at least 0, and finite optimiser arrays that are that
optimiser's, for every parameter or none (with the network's spec: of its shapes). A file that
reads but fails them is an :class:`UnusableTrainerState`, which a project leaves out with a
note (see :mod:`desktop_nn.io.project_open`).
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
from desktop_nn.nn.network import NetworkSpec
from desktop_nn.nn.optimizers import OPTIMIZERS, make_optimizer

FORMAT = "desktop-nn-trainer-state"
FORMAT_VERSION = 1
MAX_BYTES = 2 << 30
MAX_STATE_JSON = 16 << 20


class TrainerStateError(ValueError):
    """A trainer-state file cannot be used; the message names the file and the problem."""


class UnusableTrainerState(TrainerStateError):
    """The file reads, but its values are not a state a run can continue from."""


MAX_COUNT = 2**62  # epochs, steps, examples, optimiser steps: far beyond any real run


def _count(what: str, v) -> int:
    if not isinstance(v, int | np.integer) or isinstance(v, bool | np.bool_) \
            or not 0 <= v <= MAX_COUNT:
        raise ValueError(f"{what} must be a whole number from 0 to 2**62, got {v!r:.60}")
    return int(v)


def _check_rng(rng) -> None:
    """The shuffling generator's state, as ``np.random.default_rng().bit_generator.state``
    gives it (PCG64), with every number in its range."""
    def fail(why: str) -> ValueError:
        return ValueError(f"its shuffling generator's state cannot be used ({why})")

    if not isinstance(rng, dict) or not isinstance(rng.get("state"), dict):
        raise fail("it is not a generator's state")
    limits = [("state", rng["state"].get("state"), 2**128), ("inc", rng["state"].get("inc"),
              2**128), ("has_uint32", rng.get("has_uint32"), 2),
              ("uinteger", rng.get("uinteger"), 2**32)]
    for name, v, end in limits:
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < end:
            raise fail(f"{name} must be a whole number from 0 to {end - 1}, got {v!r:.60}")
    try:
        np.random.default_rng().bit_generator.state = rng
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise fail(str(exc)) from None


def check_trainer_state(trainer, arrays: dict[str, np.ndarray],
                        spec: NetworkSpec | None = None) -> None:
    """Raise ValueError saying what is wrong when ``(trainer, arrays)`` (as
    ``Trainer.checkpoint()`` gives them) is not a state a run can continue from; with ``spec``
    the optimiser's arrays must have its parameters' shapes too."""
    if not isinstance(trainer, dict):
        raise ValueError("the trainer's state is not an object")
    for key in ("epoch", "step_count", "examples_seen"):
        if key not in trainer:
            raise ValueError(f"its {key} is missing")
        _count(key, trainer[key])
    for key in ("batch_in_epoch", "m", "batch_size"):
        if trainer.get(key) is not None:
            _count(key, trainer[key])
    _check_rng(trainer.get("rng"))
    opt = trainer.get("optimizer")
    if not isinstance(opt, dict) or opt.get("name") not in OPTIMIZERS:
        name = opt.get("name") if isinstance(opt, dict) else opt
        raise ValueError(f"its optimiser {name!r:.60} is not one of {', '.join(OPTIMIZERS)}")
    _count("the optimiser's step count t", opt.get("t", 0))
    groups = sorted(make_optimizer(opt["name"], 1.0)._state_groups())
    _check_arrays(opt["name"], groups, arrays, spec)


def _check_arrays(optimizer: str, groups: list[str], arrays: dict[str, np.ndarray],
                  spec: NetworkSpec | None) -> None:
    held: dict[str, set[tuple[str, int]]] = {g: set() for g in groups}
    for key, a in arrays.items():
        parts = key.split("/")
        if len(parts) != 3 or parts[1] not in ("W", "b") or not parts[2].isdigit():
            raise ValueError(f"unexpected optimiser state {key!r:.60}")
        name, kind, index = parts[0], parts[1], int(parts[2])
        if name not in held:
            raise ValueError(f"optimiser state {key} is not {optimizer}'s (it keeps "
                             f"{', '.join(groups) or 'none'})")
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            raise ValueError(f"optimiser state {key} is not a float array")
        if spec is not None:
            if index >= spec.n_layers:
                raise ValueError(f"optimiser state {key} is for a layer the network does "
                                 f"not have (it has {spec.n_layers})")
            rows, cols = spec.sizes[index + 1], spec.sizes[index]
            want = (rows, cols) if kind == "W" else (rows, 1)
            if a.shape != want:
                raise ValueError(f"optimiser state {key} has shape {a.shape}, expected {want}")
        if not np.isfinite(a).all():
            raise ValueError(f"optimiser state {key} contains NaN or inf")
        if name == "s" and a.size and a.min() < 0:
            raise ValueError(f"optimiser state {key} is negative (a mean of squares)")
        held[name].add((kind, index))
    layers = spec.n_layers if spec is not None else 1 + max(
        (i for keys in held.values() for _, i in keys), default=-1)
    full = {(kind, i) for kind in ("W", "b") for i in range(layers)}
    if any(held.values()) and any(keys != full for keys in held.values()):
        missing = sorted(f"{g}/{k}/{i}" for g, keys in held.items() for k, i in full - keys)
        raise ValueError(f"the optimiser's state is incomplete: {', '.join(missing[:6])}"
                         f"{' ...' if len(missing) > 6 else ''} missing")


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


def read_trainer_state(path: str | os.PathLike,
                       spec: NetworkSpec | None = None) -> TrainerStateFile:
    """The state file's contents, generation included. Raises :class:`TrainerStateError`
    naming the file when it cannot be read, and :class:`UnusableTrainerState` when its values
    are not a state to continue from (:func:`check_trainer_state`; with ``spec``, the
    network's, its arrays' shapes are checked too)."""
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
    try:
        check_trainer_state(doc["trainer"], arrays, spec)
    except ValueError as exc:
        raise UnusableTrainerState(f"{path}: a run cannot continue from it: {exc}") from None
    return TrainerStateFile(doc["trainer"], arrays, generation)


def load_trainer_state(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """-> (the trainer's JSON state, the optimiser arrays named as Optimizer.state_arrays()).
    Raises :class:`TrainerStateError` naming the file when it cannot be used."""
    got = read_trainer_state(path)
    return got.trainer, got.arrays
