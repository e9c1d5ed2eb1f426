"""Hand-made .npz files for the readers' tests: any member bytes, any .npy header, stored or
deflated, so that a file can claim what no honest writer would write."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np


def npy_header(shape: tuple, descr: str = "<f4", fortran: bool = False) -> bytes:
    """The bytes of an .npy header (version 1.0) claiming ``shape`` of ``descr``."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    return out.getvalue()


def npy(a: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, a, allow_pickle=False)
    return out.getvalue()


def members_of(path: Path) -> dict[str, bytes]:
    """The raw bytes of every member of an .npz, by name (with .npy)."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def write_npz(path: Path, members: dict[str, bytes],
              compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def json_member(doc: object) -> bytes:
    """A uint8 .npy array of ``doc``'s JSON (a header or a state entry)."""
    text = doc if isinstance(doc, str) else json.dumps(doc)
    return npy(np.frombuffer(text.encode("utf-8"), dtype=np.uint8))


def deflated_bomb(path: Path, name: str, shape: tuple, descr: str = "<f4",
                  extra: dict[str, bytes] | None = None) -> Path:
    """An .npz whose member ``name`` holds zeros of ``shape``, deflated (about 1000:1)."""
    header = npy_header(shape, descr)
    nbytes = int(np.prod(shape)) * np.dtype(descr).itemsize
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for other, data in (extra or {}).items():
            z.writestr(other, data)
        with z.open(name, "w", force_zip64=True) as f:
            f.write(header)
            block = bytes(1 << 20)
            left = nbytes
            while left > 0:
                f.write(block[:min(left, len(block))])
                left -= len(block)
    return path


def trainer_state(sizes: list[int], optimizer: str = "momentum", step: int = 3,
                  seed: int = 0) -> tuple[dict, dict[str, np.ndarray]]:
    """A training state a run of a network of layer ``sizes`` (n_x, ..., n_L) can continue
    from, as ``Trainer.checkpoint()`` gives it: its counters at ``step``, the optimiser's
    arrays filled with ``step``."""
    state = {"epoch": 1, "step_count": step, "examples_seen": 10 * step,
             "rng": np.random.default_rng(seed).bit_generator.state, "batch_in_epoch": 0,
             "m": 10, "batch_size": 10, "optimizer": {"name": optimizer, "lr": 0.1, "t": step},
             "epoch_report_due": False, "shuffle": "splitmix64-sorted-keys"}
    groups = {"sgd": [], "momentum": ["v"], "adam": ["v", "s"]}[optimizer]
    arrays = {}
    for g in groups:
        for i in range(len(sizes) - 1):
            arrays[f"{g}/W/{i}"] = np.full((sizes[i + 1], sizes[i]), float(step))
            arrays[f"{g}/b/{i}"] = np.full((sizes[i + 1], 1), float(step))
    return state, arrays
