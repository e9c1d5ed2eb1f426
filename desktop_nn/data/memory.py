"""Whether the data asked for fit in memory, checked before anything big is allocated: the
arrays of a data set (from their ``.npy`` headers) and the images of a folder at an image size
(from the number of files and the size). A request that cannot fit is refused with what it
needs and what is available, never with a MemoryError after minutes of work.

:func:`check_image_memory` is the one check of an image size; the image-folder loader makes it
itself (:func:`~desktop_nn.data.image_folder.load_image_folder`, and through it
:func:`~desktop_nn.data.sources.load_training_data`), so the CLI's ``train`` and
``inspect-data`` and the window all get it."""

from __future__ import annotations

import math
import os

# Bytes per pixel value that loading an image folder holds at once: the decoded chunks and
# the array they are joined into.
LOAD_BYTES_PER_VALUE = 2
# Loading for training adds the float32 inputs and the trainer's float32 copy of them.
TRAIN_BYTES_PER_VALUE = 1 + 4 + 4
# A separate test folder: its pixels, the join, and its float32 inputs.
TEST_BYTES_PER_VALUE = 2 + 4


class NotEnoughMemory(ValueError):
    """What was asked for cannot fit in the memory available; the message says what it needs
    and what is available (the caller adds the file or folder's name). ``fits``: for an image
    size, the largest square side that fits (0: none), else None."""

    def __init__(self, message: str, fits: int | None = None) -> None:
        super().__init__(message)
        self.fits = fits


def available_memory() -> int | None:
    """Bytes of memory a new allocation can have now (Linux: MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (powers of 1000), in every memory message of the app."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _available(available: int | None) -> int | None:
    return available_memory() if available is None else available


def check_memory(need: int, what: str, available: int | None = None) -> None:
    """Refuse ``need`` bytes for ``what`` ("X (784 x 60,000 float32) and Y ...") when more than
    the memory ``available`` (default: what the system says now; unknown: not refused)."""
    have = _available(available)
    if have is not None and need > have:
        raise NotEnoughMemory(f"{what} need at least {format_bytes(need)} of memory, "
                              f"{format_bytes(have)} available")


def check_image_memory(size: tuple[int, int], color: str | None, n_images: int,
                       bytes_per_value: int = TRAIN_BYTES_PER_VALUE,
                       available: int | None = None) -> None:
    """Refuse, before decoding, ``n_images`` images of ``size`` (height, width) whose data
    cannot fit in memory: :class:`NotEnoughMemory` saying what they need, what is available
    and which size fits. ``color`` gray, rgb, or None (counted as gray, the least it can
    need); ``bytes_per_value``: :data:`LOAD_BYTES_PER_VALUE` to look at a folder,
    :data:`TRAIN_BYTES_PER_VALUE` to train on it."""
    h, w = size
    channels = 3 if color == "rgb" else 1
    per_pixel = max(n_images, 1) * channels * bytes_per_value
    need = h * w * per_pixel
    have = _available(available)
    if have is None or need <= have:
        return
    side = math.isqrt(max(have // per_pixel, 0))
    fit = f"at most about {side}x{side} fits" if side >= 1 else "no image size fits"
    colour = {"gray": "gray ", "rgb": "RGB "}.get(str(color), "")
    raise NotEnoughMemory(f"image size {w}x{h}: {n_images:,} {colour}images of {w}x{h} need "
                          f"at least {format_bytes(need)} of memory, {format_bytes(have)} "
                          f"available; {fit}", fits=side)


__all__ = ["LOAD_BYTES_PER_VALUE", "TEST_BYTES_PER_VALUE", "TRAIN_BYTES_PER_VALUE",
           "NotEnoughMemory", "available_memory", "check_image_memory", "check_memory",
           "format_bytes"]
