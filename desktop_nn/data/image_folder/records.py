"""The image folder's shared vocabulary: the file formats read, the loading options, the two
errors, and the records passed between scanning, decoding, the cache and the loader
(:class:`FolderScan` before decoding, :class:`ImageFolderData` after)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# extension -> the Pillow format tried first (a file whose content disagrees is still read)
FORMAT_OF_EXTENSION = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
                       ".gif": "GIF", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
IMAGE_EXTENSIONS = frozenset(FORMAT_OF_EXTENSION)
RESIZE_MODES = ("stretch", "fit")
COLORS = ("gray", "rgb")
FLATTEN_ORDER = "channel-planes"  # feature c*H*W + y*W + x holds pixel (y, x) of channel c
MAX_PIXELS = 50_000_000  # above this an image is refused as a decompression bomb
# The widest or highest image size asked for: Pillow cannot resize to much more (its resampling
# coefficients overflow near 2**25 pixels on a side, whatever the memory), nor take a side over
# 2**31 - 1 at all.
MAX_IMAGE_SIDE = 1 << 24

ProgressCallback = Callable[[int, int], None]


class FolderError(ValueError):
    """The folder as a whole cannot be used; the message names it and says why."""


class Cancelled(Exception):
    """Loading was cancelled through the ``cancel`` event."""


@dataclass(frozen=True)
class LoadOptions:
    """How images become columns. ``image_size`` is (height, width); None = most common."""

    image_size: tuple[int, int] | None = None
    resize: str = "stretch"
    color: str | None = None  # "gray" | "rgb" | None: gray when every image is grayscale
    max_pixels: int = MAX_PIXELS
    workers: int | None = None  # decoding processes; None = one per core
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {self.resize!r}")
        if self.color not in (None, *COLORS):
            raise ValueError(f"color must be gray, rgb or None (auto), got {self.color!r}")
        if self.image_size is not None:
            h, w = self.image_size
            if h < 1 or w < 1:
                raise ValueError(f"image size must be positive, got {w}x{h}")
            _check_sides(w, h)


def _check_sides(width: int, height: int) -> None:
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ValueError(f"image size {width}x{height} is too large: a width or height of "
                         f"at most {MAX_IMAGE_SIDE:,} pixels can be made")


def parse_image_size(text: str) -> tuple[int, int]:
    """``"64x48"`` (WIDTHxHEIGHT, as image sizes are written) or ``"64"`` -> (height, width)."""
    parts = text.lower().replace(" ", "").split("x")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"image size must look like 64x64 or 64, got {text!r}") from None
    if len(nums) == 1:
        nums = nums * 2
    if len(nums) != 2:
        raise ValueError(f"image size must look like 64x64 or 64, got {text!r}")
    if min(nums) < 1:
        raise ValueError(f"image size {text!r}: the width and height must be at least 1 pixel")
    width, height = nums
    _check_sides(width, height)
    return height, width


@dataclass
class Skipped:
    path: str  # relative to the folder, as :func:`shown` gives it
    reason: str


@dataclass
class ImageFile:
    path: str
    label: int
    split: str


@dataclass
class FolderScan:
    """What is in a folder before decoding: candidate images, skipped files, classes.
    The candidates are three parallel lists, not one object per file: a cached reload of a
    big folder spends its time per file, so the scan builds no record for each."""

    root: Path
    layout: str
    class_names: list[str]  # the class folders' names as :func:`shown` gives them
    paths: list[str]  # (m_files,) the candidates' paths, to open
    labels: list[int]  # (m_files,) index into class_names
    splits: list[str]  # (m_files,) "train" | "val" | "test"
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (m_files, 2) int64 size and mtime_ns (-1: cannot be stat'ed), when the scan read them
    file_stats: np.ndarray | None = None

    @property
    def files(self) -> list[ImageFile]:
        """The candidates as records (built on each call)."""
        return [ImageFile(p, c, s) for p, c, s in zip(self.paths, self.labels, self.splits,
                                                       strict=True)]


@dataclass
class ImageFolderData:
    """Decoded images of a folder. ``pixels`` (m, n_x) uint8 holds one image per *row* (the
    compact storage); :meth:`X` gives the (n_x, m) float columns the math uses."""

    root: str  # the folder, as :func:`shown` gives it (to show, not to open)
    layout: str
    class_names: list[str]  # as :func:`shown` gives them: valid str, saved in model files
    input_shape: tuple[int, int, int]  # (H, W, C)
    options: LoadOptions
    pixels: np.ndarray  # (m, n_x) uint8
    labels: np.ndarray  # (m,) int64
    splits: np.ndarray  # (m,) str: "train" | "val" | "test"
    paths: list[str]  # (m,) source file of each row, relative to root, as shown
    skipped: list[Skipped]
    warnings: list[str]
    sizes_seen: dict[str, int]  # "WxH" -> count
    modes_seen: dict[str, int]
    from_cache: bool = False

    @property
    def n_x(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def color(self) -> str:
        return "gray" if self.input_shape[2] == 1 else "rgb"

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.splits == split)

    def counts(self, split: str | None = None) -> dict[str, int]:
        """Images per class (in one split, or all)."""
        labels = self.labels if split is None else self.labels[self.splits == split]
        per = np.bincount(labels, minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, per, strict=True)}

    def preprocessing(self) -> dict:
        """What a new image needs to become a column like these (saved in model files)."""
        h, w, c = self.input_shape
        return {"image_size": [h, w], "color": self.color, "resize": self.options.resize,
                "flatten_order": FLATTEN_ORDER}
