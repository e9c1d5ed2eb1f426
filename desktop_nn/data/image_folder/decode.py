"""Decoding image files into flattened pixel rows: opening with the decompression-bomb check,
mode conversion, resizing, the channel-plane layout, the reason for every file refused, and
:class:`_Pool`, which decodes chunks of files in worker processes (or in this thread for a small
folder) with progress and cancellation. The worker processes import this module to run
:func:`_decode_chunk` and :func:`_ready`, so both stay module-level."""

from __future__ import annotations

import io
import multiprocessing
import os
import struct
import threading
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from desktop_nn.data.image_folder.records import (
    FORMAT_OF_EXTENSION,
    MAX_PIXELS,
    Cancelled,
    ProgressCallback,
)
from desktop_nn.data.png_fast import decode_plain_png
from desktop_nn.data.user_files import (
    MAX_IMAGE_FILE_BYTES,
    FileRefused,
    open_regular,
    read_whole,
)

# The version of the decoding, in every cache entry's key: change it with anything that changes
# the pixels a file decodes to, so that no entry decoded the old way is read back.
# 2: EXIF orientation applied
DECODER_VERSION = 2
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F", "La"})
WHOLE_READ_LIMIT = 16 << 20  # files up to this size are read in one system call
PROCESS_THRESHOLD = 2000  # fewer images decode faster in-process than a pool starts


class _Refused(Exception):
    """An image that is refused; the message is the skip reason."""


def _open_checked(f: BinaryIO, path: str, st: os.stat_result, max_pixels: int,
                  header_only: bool = False) -> Image.Image:
    """The image in the open regular file ``f``, opened lazily (header only), with
    decompression bombs refused before any decoding. A file to decode is read whole first
    (up to WHOLE_READ_LIMIT): one read call instead of Pillow's many small ones saves a tenth
    of the time on small images; a plain PNG is then decoded without Pillow's Python chunk
    reader (png_fast), which halves its decoding."""
    data = None
    if not header_only and st.st_size <= WHOLE_READ_LIMIT:
        data = read_whole(f, st)
        img = decode_plain_png(data, max_pixels)
        if img is not None:
            return img
    img = _open_hinted(path, f, data)
    w, h = img.size
    if w * h > max_pixels:
        img.close()
        raise _Refused(f"decompression bomb: {w}x{h} pixels is over the limit of "
                       f"{max_pixels:,}")
    return img


def _open_hinted(path: str, f: BinaryIO, data: bytes | None) -> Image.Image:
    """Image.open (of ``data``, or else of the open file ``f``) trying the extension's format
    first: it skips Pillow's probing of every other format (a tenth of the time on small
    images). A file whose content is another format than its extension says is still
    identified, by the full probe."""
    hint = FORMAT_OF_EXTENSION.get(os.path.splitext(path)[1].lower())
    if hint is not None:
        try:
            return Image.open(io.BytesIO(data) if data is not None else f, formats=(hint,))
        except UnidentifiedImageError:
            pass
    if data is None:
        f.seek(0)
    return Image.open(io.BytesIO(data) if data is not None else f)


_SWAPS_SIDES = frozenset({5, 6, 7, 8})  # EXIF orientations stored on their side


def _orientation(img: Image.Image, header_only: bool) -> int:
    """The EXIF orientation (1 to 8; 1 = as stored) that a camera or editor wrote in the
    file, from its EXIF block or its XMP, as ``ImageOps.exif_transpose`` reads it. With
    ``header_only``, a PNG whose EXIF comes after its pixels counts as 1: Pillow would decode
    it to find out, and the size from the headers is a guess that decoding corrects."""
    if img.format is None:  # decoded by png_fast, which leaves any EXIF or XMP to Pillow
        return 1
    if header_only and img.format == "PNG" and "exif" not in img.info:
        return 1
    if not header_only:
        img.load()  # the pixels' own errors (a damaged file) are raised here, not hidden below
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a damaged EXIF block: the image as stored
        return 1
    return value if value in range(1, 9) else 1


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
    if isinstance(exc, (_Refused, FileRefused)):
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
    f, st = open_regular(path, MAX_IMAGE_FILE_BYTES)
    with f, _open_checked(f, path, st, max_pixels, header_only=image_size is None) as opened:
        orientation = _orientation(opened, header_only=image_size is None)
        gray = _is_gray(opened)
        if image_size is None:
            w, h = opened.size
            if orientation in _SWAPS_SIDES:
                w, h = h, w
            return None, (w, h, opened.mode, gray), st
        img = opened if orientation == 1 else ImageOps.exif_transpose(opened)
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
                  resize: str, max_pixels: int, cancel: threading.Event | None = None
                  ) -> tuple[np.ndarray | None, list, list, np.ndarray]:
    """Worker: decode ``paths`` -> (pixels (k, n_x) uint8 or None, infos, errors, file stats
    (k, 2) int64 of size and mtime_ns, -1 where unknown). With ``image_size`` None only the
    headers are read. In this process, setting ``cancel`` raises :class:`Cancelled` before
    the next file (a worker process gets None: the pool stops waiting for it instead)."""
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
            if cancel is not None and cancel.is_set():
                raise Cancelled("loading cancelled")
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
                results[k] = _decode_chunk(paths[s:s + chunk], *args, cancel)
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

