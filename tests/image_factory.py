"""Builders for small image folders (and broken image files) used by the image-folder tests."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def save(path: str | os.PathLike, img: Image.Image, **kw) -> Path:
    """Save ``img`` at ``path`` (format from the extension), creating folders as needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path


def gray(value: int, size: tuple[int, int] = (4, 4)) -> Image.Image:
    """A uniform "L" image; ``size`` is (width, height) as Pillow writes it."""
    return Image.new("L", size, value)


def rgb(value: tuple[int, int, int], size: tuple[int, int] = (4, 4)) -> Image.Image:
    return Image.new("RGB", size, value)


def from_array(a) -> Image.Image:
    """(H, W) or (H, W, C) array -> image; uint8 unless the array says otherwise."""
    a = np.asarray(a)
    if a.dtype == np.int64:
        a = a.astype(np.uint8)
    return Image.fromarray(a)


def make_folder(root: str | os.PathLike, classes: dict[str, int] | None = None,
                size: tuple[int, int] = (4, 4), split: str | None = None,
                ext: str = "png") -> Path:
    """``root/[split/]<class>/img_<i>.<ext>``: ``classes`` maps a class name to its number of
    images; each class is a distinct gray level and each image slightly different."""
    root = Path(root)
    classes = {"a": 2, "b": 2} if classes is None else classes
    base = root / split if split else root
    for k, (name, n) in enumerate(classes.items()):
        (base / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            save(base / name / f"img_{i:03d}.{ext}", gray((40 * k + i) % 256, size))
    return root


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def noise(size: tuple[int, int] = (32, 32), seed: int = 0) -> Image.Image:
    """Incompressible RGB noise, so that cutting its file in half really loses pixel data."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` 8-bit gray pixels (a
    decompression bomb as far as the header goes; the IDAT holds only a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 16)) + png_chunk(b"IEND", b""))


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def finishes(fn, fifos=(), seconds: float = 30.0):
    """``fn()``'s result, run on a thread; when it has not returned within ``seconds`` (stuck
    opening or reading one of ``fifos``), the FIFOs are opened for writing and closed, which
    releases the reader, and AssertionError says it hung (a test fails rather than hangs)."""
    import threading

    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        for f in fifos:
            try:
                fd = os.open(f, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
            except OSError:
                pass
        t.join(seconds)
        raise AssertionError(f"hung: still running after {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]
