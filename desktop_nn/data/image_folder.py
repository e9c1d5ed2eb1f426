"""Load a folder of images sorted into one subfolder per class into feature columns.

Layouts, detected automatically:
    DIR/<class>/<images>                                   ("classes")
    DIR/train/<class>/... + DIR/test/<class>/... [+ DIR/val/<class>/...]   ("splits")
Classes are the subfolder names, sorted. Images inside a class folder may sit in subfolders.

Each usable image is decoded with Pillow, converted to gray or RGB (alpha composited on white,
16-bit scaled to 8-bit, palette and CMYK converted), resized to (H, W) by ``stretch`` or ``fit``
(keep the aspect ratio, pad with black), and flattened in *channel planes* as in the course
notes: all red values row by row, then all green, then all blue, so pixel (y, x) of channel c
is feature c*H*W + y*W + x. A gray image has one plane.

Files that cannot be used are skipped and listed with the reason; a folder that cannot be used
raises :class:`FolderError` with one clear message. Big folders decode in worker processes with
a progress callback and cancellation; decoded arrays are cached in the user cache directory,
keyed by every file's path, size and mtime and by the options, so reopening is near instant and
an edited folder is re-read.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import multiprocessing
import os
import struct
import threading
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from desktop_nn.data.png_fast import decode_plain_png

# extension -> the Pillow format tried first (a file whose content disagrees is still read)
FORMAT_OF_EXTENSION = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
                       ".gif": "GIF", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
IMAGE_EXTENSIONS = frozenset(FORMAT_OF_EXTENSION)
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", ".ds_store", "icon\r"})
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F", "La"})
RESIZE_MODES = ("stretch", "fit")
COLORS = ("gray", "rgb")
FLATTEN_ORDER = "channel-planes"  # feature c*H*W + y*W + x holds pixel (y, x) of channel c
MAX_PIXELS = 50_000_000  # above this an image is refused as a decompression bomb
CACHE_VERSION = 3  # 3: file stats stored in the entry
WHOLE_READ_LIMIT = 16 << 20  # files up to this size are read in one system call
PROCESS_THRESHOLD = 2000  # fewer images decode faster in-process than a pool starts

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


def parse_image_size(text: str) -> tuple[int, int]:
    """``"64x48"`` (WIDTHxHEIGHT, as image sizes are written) or ``"64"`` -> (height, width)."""
    parts = text.lower().replace(" ", "").split("x")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"image size must look like 64x64 or 64, got {text!r}") from None
    if len(nums) == 1:
        nums = nums * 2
    if len(nums) != 2 or min(nums) < 1:
        raise ValueError(f"image size must look like 64x64 or 64, got {text!r}")
    width, height = nums
    return height, width


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class ImageFile:
    path: str
    label: int
    split: str


@dataclass
class FolderScan:
    """What is in a folder before decoding: candidate images, skipped files, classes."""

    root: Path
    layout: str
    class_names: list[str]
    files: list[ImageFile]
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImageFolderData:
    """Decoded images of a folder. ``pixels`` (m, n_x) uint8 holds one image per *row* (the
    compact storage); :meth:`X` gives the (n_x, m) float columns the math uses."""

    root: str
    layout: str
    class_names: list[str]
    input_shape: tuple[int, int, int]  # (H, W, C)
    options: LoadOptions
    pixels: np.ndarray  # (m, n_x) uint8
    labels: np.ndarray  # (m,) int64
    splits: np.ndarray  # (m,) str: "train" | "val" | "test"
    paths: list[str]  # (m,) source file of each row, relative to root
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


# ---------------------------------------------------------------------------- scanning
def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def _sorted_entries(path: str) -> list[os.DirEntry]:
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: e.name)


def _subdirs(path: str) -> list[os.DirEntry]:
    try:
        entries = _sorted_entries(path)
    except OSError as exc:
        raise FolderError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    out = []
    for e in entries:
        try:
            if e.is_dir() and not _is_hidden(e.name):
                out.append(e)
        except OSError:
            continue
    return out


class _Scanner:
    """Walks class folders, collecting candidate images and the reasons for skipping others.
    Paths are plain strings: pathlib costs more than the file system on big folders."""

    def __init__(self, root: str, on_found: Callable[[int], None] | None = None) -> None:
        self.root = root
        self.prefix = len(root.rstrip(os.sep)) + 1
        self.skipped: list[Skipped] = []
        self.on_found = on_found
        self.found = 0

    def rel(self, path: str) -> str:
        return path[self.prefix:] if path.startswith(self.root) else path

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append(Skipped(self.rel(path), reason))

    def images(self, class_dir: str) -> list[os.DirEntry]:
        """Candidate image files below ``class_dir`` (recursively, following links, no loops)."""
        seen: set[str] = set()
        stack = [class_dir]
        found = []
        while stack:
            d = stack.pop()
            real = os.path.realpath(d)
            if real in seen:
                self.skip(d, "symlink loop: folder already visited")
                continue
            seen.add(real)
            try:
                entries = _sorted_entries(d)
            except OSError as exc:
                self.skip(d, f"folder cannot be read: {exc.strerror or exc}")
                continue
            subdirs = []
            for e in entries:
                if _is_hidden(e.name):
                    self.skip(e.path, "hidden or system file")
                    continue
                try:
                    is_dir = e.is_dir()
                except OSError as exc:
                    self.skip(e.path, f"unreadable: {exc.strerror or exc}")
                    continue
                if is_dir:
                    subdirs.append(e.path)
                    continue
                dot = e.name.rfind(".")
                ext = e.name[dot:].lower() if dot > 0 else ""
                if ext not in IMAGE_EXTENSIONS:
                    self.skip(e.path, f"not an image file (extension {ext or 'none'!r})")
                    continue
                found.append(e)
            stack.extend(reversed(subdirs))
        self.found += len(found)
        if self.on_found is not None:
            self.on_found(self.found)
        return found


def scan_folder(root: str | os.PathLike, min_classes: int = 2,
                on_found: Callable[[int], None] | None = None) -> FolderScan:
    """Find the layout, the classes and the candidate image files of ``root``.
    A training folder needs ``min_classes`` = 2; a test folder may hold one class.
    ``on_found(n)`` is told the number of candidate files found so far, after each class."""
    root_path = Path(root).expanduser()
    if not root_path.exists():
        raise FolderError(f"{root_path}: no such folder")
    if not root_path.is_dir():
        raise FolderError(f"{root_path}: is not a folder (expected one subfolder per class)")
    root_s = str(root_path)
    top = _subdirs(root_s)
    split_dirs = {SPLIT_ALIASES[d.name.lower()]: d for d in top if d.name.lower() in SPLIT_ALIASES}
    layout = "splits" if "train" in split_dirs and len(split_dirs) == len(top) else "classes"
    scanner = _Scanner(root_s, on_found)
    notes: list[str] = []
    for e in _sorted_entries(root_s):
        if not _is_hidden(e.name) and not e.is_dir():
            scanner.skip(e.path, "not inside a class folder")

    by_split: dict[str, dict[str, list[os.DirEntry]]] = {}
    if layout == "splits":
        for split, d in split_dirs.items():
            by_split[split] = {c.name: scanner.images(c.path) for c in _subdirs(d.path)}
    else:
        by_split["train"] = {c.name: scanner.images(c.path) for c in top}

    train = by_split["train"]
    if not train:
        where = root_path / "train" if layout == "splits" else root_path
        raise FolderError(f"{where}: no class subfolders found; put the images of each class "
                          f"in a subfolder named after the class")
    class_names = sorted(c for c, files in train.items() if files)
    for c in sorted(train):
        if not train[c]:
            notes.append(f"class folder {c!r} has no images and is left out")
    if not class_names:
        raise FolderError(f"{root_path}: no images found (looked for "
                          f"{', '.join(sorted(IMAGE_EXTENSIONS))})")
    if len(class_names) < min_classes:
        raise FolderError(f"{root_path}: only one class ({class_names[0]!r}) has images; a "
                          f"classifier needs at least two class subfolders")
    index = {c: i for i, c in enumerate(class_names)}
    files: list[ImageFile] = []
    for split in ("train", "val", "test"):
        for c, entries in sorted(by_split.get(split, {}).items()):
            if c not in index:
                for e in entries:
                    scanner.skip(e.path, f"class {c!r} has no training images")
                continue
            # No stat here: a cold load gets each file's size and mtime from the open file in
            # the decoding workers, and a dangling link is reported when it fails to open.
            files.extend(ImageFile(e.path, index[c], split) for e in entries)
    return FolderScan(root_path, layout, class_names, files, scanner.skipped, notes)


# ---------------------------------------------------------------------------- decoding
class _Refused(Exception):
    """An image that is refused; the message is the skip reason."""


def _read_bytes(path: str) -> tuple[bytes | None, os.stat_result]:
    """(the bytes of ``path`` in one unbuffered read, or None when it is over
    WHOLE_READ_LIMIT; its stat). A sized read would allocate the limit for every file."""
    with open(path, "rb", buffering=0) as f:
        st = os.fstat(f.fileno())
        return (f.read() if st.st_size <= WHOLE_READ_LIMIT else None), st


def _open_checked(path: str, max_pixels: int, header_only: bool = False
                  ) -> tuple[Image.Image, os.stat_result | None]:
    """Open lazily (header only) and refuse decompression bombs before any decoding -> (the
    image, the file's stat). A file to decode is read whole first: one read call instead of
    Pillow's many small ones saves a tenth of the time on small images; a plain PNG is then
    decoded without Pillow's Python chunk reader (png_fast), which halves its decoding."""
    data, st = None, None
    if not header_only:
        data, st = _read_bytes(path)
        if data is not None:
            img = decode_plain_png(data, max_pixels)
            if img is not None:
                return img, st
    img = _open_hinted(path, data)
    w, h = img.size
    if w * h > max_pixels:
        img.close()
        raise _Refused(f"decompression bomb: {w}x{h} pixels is over the limit of "
                       f"{max_pixels:,}")
    return img, st


def _open_hinted(path: str, data: bytes | None) -> Image.Image:
    """Image.open trying the extension's format first: it skips Pillow's probing of every
    other format (a tenth of the time on small images). A file whose content is another
    format than its extension says is still identified, by the full probe."""
    hint = FORMAT_OF_EXTENSION.get(os.path.splitext(path)[1].lower())
    if hint is not None:
        try:
            return Image.open(io.BytesIO(data) if data is not None else path, formats=(hint,))
        except UnidentifiedImageError:
            pass
    return Image.open(io.BytesIO(data) if data is not None else path)


def _is_gray(img: Image.Image) -> bool:
    """Whether an image holds gray levels only: a gray mode, or a palette of grays (a GIF or
    PNG saved from a gray image reads back as mode "P")."""
    if img.mode in GRAY_MODES:
        return True
    if img.mode != "P":
        return False
    palette = img.getpalette("RGB")
    if not palette:
        return False
    rgb = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))


def _to_mode(img: Image.Image, color: str) -> Image.Image:
    """Gray ("L") or RGB, 8 bits, alpha composited on white."""
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float64)
        # 16-bit data scaled to 8 bits (65535 -> 255); float data taken as 0..255
        scale = 255.0 / 65535.0 if mode != "F" else 1.0
        img = Image.fromarray(np.clip(np.rint(a * scale), 0, 255).astype(np.uint8), "L")
        mode = "L"
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba).convert("RGB")
    target = "L" if color == "gray" else "RGB"
    return img if img.mode == target else img.convert(target)


def _resize(img: Image.Image, height: int, width: int, mode: str) -> Image.Image:
    if img.size == (width, height):
        return img
    if mode == "stretch":
        return img.resize((width, height), Image.Resampling.BILINEAR)
    fitted = ImageOps.contain(img, (width, height), Image.Resampling.BILINEAR)
    canvas = Image.new(img.mode, (width, height), 0)
    canvas.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
    return canvas


def _pixels(img: Image.Image) -> np.ndarray:
    """An "L" or "RGB" image -> (H, W, C) uint8 (tobytes is cheaper than np.asarray)."""
    return np.frombuffer(img.tobytes(), dtype=np.uint8).reshape(img.height, img.width, -1)


def flatten_planes(a: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) uint8 -> (H*W*C,) in channel planes (all of channel 0 first)."""
    if a.ndim == 2 or a.shape[2] == 1:
        return a.reshape(-1)
    return np.ascontiguousarray(a.transpose(2, 0, 1)).reshape(-1)


def unflatten_planes(v: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Inverse of :func:`flatten_planes`: (n_x,) -> (H, W, C)."""
    h, w, c = shape
    return np.asarray(v).reshape(c, h, w).transpose(1, 2, 0)


def _reason(exc: BaseException) -> str:
    """The skip reason for an exception raised while opening or decoding an image."""
    if isinstance(exc, _Refused):
        return str(exc)
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"decompression bomb: {exc}"
    if isinstance(exc, UnidentifiedImageError):
        return "not a readable image (Pillow cannot identify it)"
    if isinstance(exc, OSError) and exc.errno is not None:
        # the system refused the file (missing, dangling or looping link, permissions)
        return f"unreadable: {exc.strerror}"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    text = text or exc.__class__.__name__
    if "truncated" in text:
        return f"truncated image: {text}"
    return f"corrupt or unreadable image: {text}"


_DECODE_ERRORS = (_Refused, Image.DecompressionBombError, OSError, SyntaxError, ValueError,
                  EOFError, IndexError, struct.error)


def _decode(path: str, image_size: tuple[int, int] | None, color: str | None, resize: str,
            max_pixels: int
            ) -> tuple[np.ndarray | None, tuple[int, int, str, bool], os.stat_result | None]:
    """Decode one file: (flattened pixels or None, (width, height, mode, is gray), its stat).

    "Is gray" comes from the header alone when only the header is read (``image_size`` None),
    and from the pixels once decoded: formats without a gray mode (WebP, most JPEG photos of
    gray scenes) hold gray images as RGB with three equal planes."""
    img, st = _open_checked(path, max_pixels, header_only=image_size is None)
    with img:
        gray = _is_gray(img)
        if image_size is None:
            return None, (img.width, img.height, img.mode, gray), st
        if gray:
            out = _resize(_to_mode(img, color or "rgb"), *image_size, resize)
            a = _pixels(out)
        else:
            out = _resize(_to_mode(img, "rgb"), *image_size, resize)
            a = _pixels(out)
            gray = bool(np.array_equal(a[..., 0], a[..., 1])
                        and np.array_equal(a[..., 1], a[..., 2]))
            if color == "gray":
                a = _pixels(out.convert("L"))
        return flatten_planes(a), (img.width, img.height, img.mode, gray), st


def decode_image(path: str | os.PathLike, image_size: tuple[int, int], color: str,
                 resize: str = "stretch", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """One image file -> (n_x,) uint8 in channel planes. Raises ValueError with the reason."""
    try:
        return _decode(str(path), image_size, color, resize, max_pixels)[0]
    except _DECODE_ERRORS as exc:
        raise ValueError(_reason(exc)) from None


def _stat_pair(path: str) -> tuple[int, int]:
    """(size, mtime_ns) of ``path``; (-1, -1) when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def _decode_chunk(paths: list[str], image_size: tuple[int, int] | None, color: str | None,
                  resize: str, max_pixels: int
                  ) -> tuple[np.ndarray | None, list, list, np.ndarray]:
    """Worker: decode ``paths`` -> (pixels (k, n_x) uint8 or None, infos, errors, file stats
    (k, 2) int64 of size and mtime_ns, -1 where unknown). With ``image_size`` None only the
    headers are read and no stats are taken."""
    n_x = 0 if image_size is None else image_size[0] * image_size[1] * (
        1 if color == "gray" else 3)
    pixels = np.zeros((len(paths), n_x), dtype=np.uint8) if n_x else None
    infos: list = [None] * len(paths)
    errors: list = [None] * len(paths)
    stats = [(-1, -1)] * len(paths)
    with warnings.catch_warnings():
        # Pillow warns on big images before we can refuse them; the refusal is the message.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        for i, path in enumerate(paths):
            try:
                row, infos[i], st = _decode(path, image_size, color, resize, max_pixels)
                if pixels is not None:
                    pixels[i] = row
                if st is not None:
                    stats[i] = (st.st_size, st.st_mtime_ns)
            except _DECODE_ERRORS as exc:
                errors[i] = _reason(exc)
                if pixels is not None:
                    stats[i] = _stat_pair(path)
    return pixels, infos, errors, np.array(stats, dtype=np.int64).reshape(-1, 2)


def _ready() -> int:
    """A no-op run in each new worker process so that it starts (imports) ahead of the work."""
    return os.getpid()


class _Pool:
    """Runs _decode_chunk over chunks of paths: in worker processes for big folders (Pillow
    spends most of its time on small images in Python, so threads would serialise on the
    GIL), in this thread for small ones. Reports progress and honours cancellation.

    The processes start on :meth:`start`, which the loader calls as soon as the scan has
    found enough files, so that they import NumPy and Pillow while the scan goes on."""

    def __init__(self, workers: int | None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.executor: ProcessPoolExecutor | None = None
        self.broken = False

    def start(self) -> None:
        if self.executor is None and self.workers > 1 and not self.broken:
            ctx = multiprocessing.get_context("spawn")  # safe beside Qt threads, all platforms
            self.executor = ProcessPoolExecutor(self.workers, mp_context=ctx)
            for _ in range(self.workers):  # one task each spawns every process now
                self.executor.submit(_ready)

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc) -> None:
        if self.executor is not None:
            # the processes exit on their own once told; nothing to wait for
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    def run(self, paths: list[str], args: tuple, progress: ProgressCallback | None,
            cancel: threading.Event | None, done_before: int, total: int) -> list:
        if len(paths) >= PROCESS_THRESHOLD:
            self.start()
        chunk = max(32, min(1024, len(paths) // (self.workers * 8) or 32))
        starts = list(range(0, len(paths), chunk))
        results: list = [None] * len(starts)
        done = done_before

        def check_cancel() -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled("loading cancelled")

        if self.executor is None:
            for k, s in enumerate(starts):
                check_cancel()
                results[k] = _decode_chunk(paths[s:s + chunk], *args)
                done += len(results[k][1])
                if progress is not None:
                    progress(done, total)
            return results
        try:
            futures = {self.executor.submit(_decode_chunk, paths[s:s + chunk], *args): k
                       for k, s in enumerate(starts)}
            pending = set(futures)
            while pending:
                check_cancel()
                finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                for f in finished:
                    results[futures[f]] = f.result()
                    done += len(results[futures[f]][1])
                if finished and progress is not None:
                    progress(done, total)
        except BrokenProcessPool:
            # Worker processes could not start (e.g. a script without the
            # `if __name__ == "__main__":` guard that "spawn" needs): decode here instead.
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor, self.broken = None, True
            return self.run(paths, args, progress, cancel, done_before, total)
        return results


def _most_common_size(infos: Iterable) -> tuple[int, int]:
    """(height, width) seen most often (ties: the larger)."""
    counts = collections.Counter((h, w) for w, h, *_ in infos)
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def _all_gray(infos: Iterable) -> bool:
    return all(gray for *_, gray in infos)


def load_image_folder(
    root: str | os.PathLike,
    options: LoadOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    cache_dir: str | os.PathLike | None = None,
    min_classes: int = 2,
) -> ImageFolderData:
    """Scan, decode (in parallel) and flatten every usable image below ``root``.

    ``progress(done, total)`` is called from the loading thread as chunks finish; setting
    ``cancel`` stops the work and raises :class:`Cancelled`. Raises :class:`FolderError` when
    the folder cannot be used.
    """
    options = options or LoadOptions()
    cache = Path(cache_dir or default_cache_dir()) if options.use_cache else None
    with _Pool(options.workers) as pool:
        # A folder never cached before is decoded: start the worker processes as soon as the
        # scan has found enough files, so that they start up while it goes on.
        decode_ahead = cache is None or not _has_cache_entry(cache, root)

        def found(n: int) -> None:
            if decode_ahead and n >= PROCESS_THRESHOLD:
                pool.start()

        scan = scan_folder(root, min_classes, on_found=found)
        cache_path = None
        if cache is not None:
            cache_path = cache / _cache_name(scan, options)
            cached = _read_cache(cache_path, scan, options)
            if cached is not None:
                if progress is not None:
                    progress(len(scan.files), len(scan.files))
                return cached
        data, decode_skipped, file_stats = _decode_folder(
            scan, options, pool, progress, cancel, min_classes)
    if cache_path is not None:
        _write_cache_in_background(cache_path, data, decode_skipped, file_stats)
    return data


def _decode_folder(scan: FolderScan, options: LoadOptions, pool: _Pool,
                   progress: ProgressCallback | None, cancel: threading.Event | None,
                   min_classes: int) -> tuple[ImageFolderData, list[Skipped], np.ndarray]:
    """Decode every file of ``scan`` -> (the data, the decoding's skips, (m_files, 2) stats)."""
    paths = [f.path for f in scan.files]
    n = len(paths)
    # Guess the target size and colour from a sample of headers, decode everything in one
    # pass while recording each image's real size and mode, and decode again only when the
    # whole folder disagrees with the guess (its most common size or colour differ).
    size, color = options.image_size, options.color
    if size is None or color is None:
        sample = paths[:: max(1, n // 256)]
        infos = [i for i in _decode_chunk(sample, None, None, "stretch", options.max_pixels)[1]
                 if i is not None]
        if infos:
            size = size or _most_common_size(infos)
            color = color or ("gray" if _all_gray(infos) else "rgb")
        else:
            size, color = size or (1, 1), color or "gray"
    args = (options.resize, options.max_pixels)
    chunks = pool.run(paths, (size, color, *args), progress, cancel, 0, n)
    infos = [i for c in chunks for i in c[1]]
    readable = [i for i in infos if i is not None]
    if not readable:
        first = next((e for c in chunks for e in c[2] if e), "no reason")
        raise FolderError(f"{scan.root}: none of its {n} image files could be read "
                          f"(first problem: {first})")
    true_size = options.image_size or _most_common_size(readable)
    true_color = options.color or ("gray" if _all_gray(readable) else "rgb")
    if true_size == size and (color, true_color) == ("rgb", "gray"):
        # Every image turned out gray: the red plane of a gray image is its gray level
        # (the luma weights sum to one), so keep it rather than decode again.
        color = "gray"
        plane = size[0] * size[1]
        chunks = [(c[0][:, :plane].copy() if c[0] is not None else None, *c[1:])
                  for c in chunks]
    elif (true_size, true_color) != (size, color):
        size, color = true_size, true_color
        chunks = pool.run(paths, (size, color, *args), progress, cancel, n, 2 * n)
    errors = [e for c in chunks for e in c[2]]
    file_stats = np.concatenate([c[3] for c in chunks])
    pixels = np.concatenate([c[0] for c in chunks]) if len(chunks) > 1 else chunks[0][0]
    keep = np.array([e is None for e in errors], dtype=bool)
    rel = _relative_to(scan.root)
    decode_skipped = [Skipped(rel(p), e)
                      for p, e in zip(paths, errors, strict=True) if e is not None]
    if not keep.all():
        pixels = pixels[keep]
    pixels.flags.writeable = False  # shared with the cache writer; nothing edits pixels
    kept = [f for f, k in zip(scan.files, keep, strict=True) if k]
    modes = collections.Counter(mode for _, _, mode, _ in readable)
    sizes = collections.Counter(f"{w}x{h}" for w, h, *_ in readable)
    data = ImageFolderData(
        root=str(scan.root), layout=scan.layout, class_names=scan.class_names,
        input_shape=(size[0], size[1], 1 if color == "gray" else 3), options=options,
        pixels=pixels, labels=np.array([f.label for f in kept], dtype=np.int64),
        splits=np.array([f.split for f in kept], dtype="U5"),
        paths=[rel(f.path) for f in kept],
        skipped=scan.skipped + decode_skipped, warnings=list(scan.warnings),
        sizes_seen=dict(sizes.most_common()), modes_seen=dict(modes.most_common()))
    if not kept:
        raise FolderError(f"{scan.root}: none of its images could be decoded "
                          f"(first problem: {decode_skipped[0].reason})")
    empty = [c for c, k in data.counts("train").items() if k == 0]
    if len(data.class_names) - len(empty) < min_classes:
        raise FolderError(f"{scan.root}: fewer than two classes have usable training images "
                          f"(none usable in: {', '.join(empty)})")
    for c in empty:
        data.warnings.append(f"class {c!r}: none of its images could be used")
    return data, decode_skipped, file_stats


def _relative_to(root: Path) -> Callable[[str], str]:
    """A function giving paths below ``root`` relative to it (others unchanged)."""
    prefix = str(root) + os.sep
    n = len(prefix)
    return lambda path: path[n:] if path.startswith(prefix) else path


# ---------------------------------------------------------------------------- cache
def default_cache_dir() -> Path:
    """``$DESKTOP_NN_CACHE_DIR`` or the platform's user cache dir, ``image-folders`` below."""
    env = os.environ.get("DESKTOP_NN_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("desktop-nn", appauthor=False)) / "image-folders"


def _root_tag(root: str | os.PathLike) -> str:
    """The start of every cache entry's name for the folder ``root``."""
    resolved = str(Path(root).expanduser().resolve())
    return hashlib.sha256(resolved.encode()).hexdigest()[:12]


def _cache_name(scan: FolderScan, options: LoadOptions) -> str:
    return f"{_root_tag(scan.root)}-{_cache_key(scan, options)}.npz"


def _has_cache_entry(cache: Path, root: str | os.PathLike) -> bool:
    """Whether some entry (any options, any file list) exists or is being written for
    ``root``: when none does, a load will decode."""
    tag = _root_tag(root)
    with _writes_lock:
        if any(p.name.startswith(tag) for p in _writes):
            return True
    try:
        return any(cache.glob(f"{tag}-*.npz"))
    except OSError:
        return False


def _cache_key(scan: FolderScan, options: LoadOptions) -> str:
    """Hash of the options and of every candidate file's path, class and split. Sizes and
    mtimes are stored in the entry and checked when it is read (see :func:`_read_cache`)."""
    h = hashlib.sha256()
    opts = {k: v for k, v in asdict(options).items() if k not in ("workers", "use_cache")}
    h.update(json.dumps([CACHE_VERSION, str(scan.root.resolve()), opts,
                         scan.class_names]).encode())
    for f in scan.files:
        h.update(f"{f.path}\0{f.label}\0{f.split}\n".encode())
    return h.hexdigest()[:32]


_writes: dict[Path, threading.Thread] = {}  # cache entries being written
_writes_lock = threading.Lock()


def wait_for_cache_writes() -> None:
    """Block until every cache entry being written in the background is on disk."""
    with _writes_lock:
        threads = list(_writes.values())
    for t in threads:
        t.join()


def _write_cache_in_background(path: Path, data: ImageFolderData,
                               decode_skipped: list[Skipped], file_stats: np.ndarray) -> None:
    """Write the entry on a thread so that the caller has its data without waiting. The
    thread is not a daemon: the interpreter finishes the entry before it exits."""
    def write() -> None:
        try:
            _write_cache(path, data, decode_skipped, file_stats)
        finally:
            with _writes_lock:
                _writes.pop(path, None)

    with _writes_lock:
        previous = _writes.get(path)
    if previous is not None:
        previous.join()
    thread = threading.Thread(target=write, name="desktop-nn cache write")
    with _writes_lock:
        _writes[path] = thread
    thread.start()


def _read_cache(path: Path, scan: FolderScan, options: LoadOptions) -> ImageFolderData | None:
    with _writes_lock:
        pending = _writes.get(path)
    if pending is not None:
        pending.join()
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            if meta.get("version") != CACHE_VERSION:
                return None
            # an edited, replaced or touched file makes the entry stale
            stats = np.array([_stat_pair(f.path) for f in scan.files], dtype=np.int64)
            if not np.array_equal(z["file_stats"], stats.reshape(-1, 2)):
                return None
            pixels, labels, splits = z["pixels"], z["labels"], z["splits"]
            pixels.flags.writeable = False  # as after a cold load
            paths = [str(p) for p in z["paths"]]
    except Exception:  # a damaged cache entry is rebuilt, never trusted
        return None
    skipped = list(scan.skipped) + [Skipped(**s) for s in meta["decode_skipped"]]
    return ImageFolderData(
        root=str(scan.root), layout=scan.layout, class_names=list(meta["class_names"]),
        input_shape=tuple(meta["input_shape"]), options=options, pixels=pixels, labels=labels,
        splits=splits.astype(str), paths=paths, skipped=skipped,
        warnings=list(meta["warnings"]), sizes_seen=meta["sizes_seen"],
        modes_seen=meta["modes_seen"], from_cache=True)


def _write_cache(path: Path, data: ImageFolderData, decode_skipped: list[Skipped],
                 file_stats: np.ndarray, keep: int = 20) -> None:
    """Write atomically; keep the ``keep`` most recent entries. Failure only costs speed.
    Only the decoding's skips are stored: the scan's are found again on every load."""
    meta = {"version": CACHE_VERSION, "class_names": data.class_names,
            "input_shape": list(data.input_shape), "warnings": data.warnings,
            "sizes_seen": data.sizes_seen, "modes_seen": data.modes_seen,
            "decode_skipped": [asdict(s) for s in decode_skipped]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, pixels=data.pixels, file_stats=file_stats, labels=data.labels,
                     splits=data.splits.astype("U5"),
                     paths=np.array(data.paths, dtype=str),
                     meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8))
        os.replace(tmp, path)
        entries = sorted(path.parent.glob("*.npz"), key=lambda p: p.stat().st_mtime,
                         reverse=True)
        for old in entries[keep:]:
            old.unlink(missing_ok=True)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
