"""The command line's checks of the user's input, made before any work starts: argument types
that refuse out-of-range and non-finite numbers naming the option (argparse prints them, exit
2), the output files' folders, and whether the memory a request needs is there."""

from __future__ import annotations

import argparse
import errno
import math
import os
from pathlib import Path

from desktop_nn.arg_types import whole_number
from desktop_nn.data import memory
from desktop_nn.data.memory import TRAIN_BYTES_PER_VALUE


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


MAX_INT = 2**31 - 1  # counts (epochs, batch size, ...): the window's spin boxes go this far
MAX_SEED = 2**63 - 1
MAX_UNITS = 10_000_000  # units per hidden layer: far beyond any memory, far below an overflow


def int_in(lo: int, hi: int = MAX_INT):
    """An argparse type: a whole number in [lo, hi]."""
    return whole_number(lo, hi)


def float_in(lo: float, hi: float = math.inf, lo_open: bool = False, hi_open: bool = False):
    """An argparse type: a finite number in [lo, hi] (an end left out with ``*_open``)."""
    low = f"{'>' if lo_open else '>='} {lo:g}"
    high = "" if math.isinf(hi) else f" and {'<' if hi_open else '<='} {hi:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and \
            (value < hi if hi_open else value <= hi)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be a finite number {low}{high}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def file_name(text: str) -> str:
    """An argparse type: a file or folder name; '' (an unset shell variable, say) is refused,
    never taken for the current folder or ignored."""
    if text == "":
        raise argparse.ArgumentTypeError("an empty file name; name a file or folder")
    return text


def layer_sizes(text: str) -> list[int]:
    """``--layers``: comma-separated unit counts; '' (or spaces) for no hidden layer."""
    if not text.strip():
        return []
    sizes = []
    for part in text.split(","):
        try:
            n = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated whole numbers (e.g. 30 or 20,7,5; '' for none), "
                f"got {text!r}") from None
        if not 1 <= n <= MAX_UNITS:
            raise argparse.ArgumentTypeError(
                f"a hidden layer needs 1 to {MAX_UNITS:,} units, got {part.strip()}")
        sizes.append(n)
    return sizes


def activation_list(text: str) -> list[str]:
    """``--activations``: comma-separated hidden activations; '' for none."""
    from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS, get_activation

    names = [t.strip() for t in text.split(",") if t.strip()]
    for name in names:
        try:
            known = get_activation(name).name in HIDDEN_ACTIVATIONS
        except ValueError:
            known = False
        if not known:
            raise argparse.ArgumentTypeError(f"{name!r} is not a hidden activation; choose "
                                             f"from {', '.join(HIDDEN_ACTIVATIONS)}")
    return names


def hidden_activations(layers: list[int], activations: list[str] | None,
                       default: str) -> list[str]:
    """The activations for ``layers`` from ``--activations`` (None: ``default`` for each; one
    name: for each; else one per layer)."""
    if activations is None:
        return [default] * len(layers)
    if not activations:
        if layers:
            raise UsageError(f"--activations '' gives no activation for the {len(layers)} "
                             f"hidden layer(s) of --layers; name one, or one per layer")
        return []
    if len(activations) == 1:
        return activations * len(layers)
    if len(activations) != len(layers):
        raise UsageError(f"--activations names {len(activations)} activations for the "
                         f"{len(layers)} hidden layer(s) of --layers; give one, or one per layer")
    return activations


def check_output_path(option: str, path: str | None) -> None:
    """Refuse, before any work, an output file whose folder is missing or not writable."""
    if path is None:
        return
    if path == "":
        raise UsageError(f"{option} '': an empty file name; name a file")
    target = Path(path).expanduser()
    folder = target.parent
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a folder; name a file")
    if not folder.is_dir():
        try:
            os.stat(folder)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UsageError(f"{option} {path}: the folder {folder} is a loop of symbolic "
                                 f"links") from None
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: the folder {folder} is not writable")
    from desktop_nn.io.atomic import write_target

    try:  # a FIFO, a device, /dev/stderr, a link leading nowhere: refused before training
        write_target(target)
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror or exc}") from None


def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.path.expanduser(os.fspath(path)))


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two names are one file: the same real path, or (both there) the same inode
    (a hard link)."""
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    real, root = _real(path), _real(folder)
    try:
        return os.path.commonpath([real, root]) == root
    except ValueError:  # different drives
        return False


def check_outputs_apart(outputs: dict[str, str | None], inputs: dict[str, object]) -> None:
    """Refuse, before any work, two outputs that are one file, and an output that is an
    input (the training data set itself) or lies inside an input folder (the image folder,
    the test folder): writing it would replace the user's data, or add a file to it.
    ``outputs``: option -> name; ``inputs``: what to call it -> path (a file or a folder)."""
    named = [(option, path) for option, path in outputs.items() if path]
    for i, (option, path) in enumerate(named):
        for other, other_path in named[i + 1:]:
            if _same_file(path, other_path):
                raise UsageError(f"{option} {path} and {other} {other_path} are the same "
                                 f"file; name two files")
        for what, source in inputs.items():
            if source is None:
                continue
            if os.path.isdir(source):
                if _inside(path, source):
                    raise UsageError(f"{option} {path} is inside {what} {source}; writing "
                                     f"there would add to the data: name a file elsewhere")
            elif _same_file(path, source):
                raise UsageError(f"{option} {path} is {what} {source}; writing it would "
                                 f"replace the data: name another file")


def naming(source, exc: BaseException) -> str:
    """``exc``'s message, led by ``source`` (the data the user named) unless it names it."""
    text = str(exc).strip() or type(exc).__name__
    return text if str(source) in text else f"{source}: {text}"


def write_failure(path: str, exc: BaseException) -> str:
    """One line naming the file that could not be written and why."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot write {path}: {exc.strerror}"
    text = str(exc).strip() or type(exc).__name__
    return text if str(path) in text else f"cannot write {path}: {text}"


def check_image_memory(size: tuple[int, int], color: str | None, n_images: int,
                       available: int | None, bytes_per_value: int = TRAIN_BYTES_PER_VALUE,
                       option: str = "--image-size") -> None:
    """The data layer's check of an image size (data/memory.py), before decoding, said as a
    usage error naming ``option`` and the size to give it instead."""
    h, w = size
    try:
        memory.check_image_memory(size, color, n_images, bytes_per_value, available)
    except memory.NotEnoughMemory as exc:
        text = str(exc).removeprefix(f"image size {w}x{h}: ")
        hint = f" (e.g. {option} {exc.fits}x{exc.fits})" if exc.fits else ""
        raise UsageError(f"{option} {w}x{h}: {text}{hint}") from None
