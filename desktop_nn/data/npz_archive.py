"""Reading files that may be hostile, without hanging and without reading more than they hold.

- :func:`open_regular` opens a path only when it is a regular file (a symlink to one is
  followed): a FIFO, a device, a socket or a folder is refused without blocking on it.
- :func:`read_regular` reads a whole regular file of at most ``limit`` bytes.
- :class:`NpzArchive` reads a NumPy ``.npz`` (a zip of ``.npy`` arrays) with no pickle: the
  zip's members are checked against the file's size before anything is decompressed (a member
  cannot claim more bytes than the file could hold, and a deflated archive cannot expand more
  than :data:`MAX_RATIO` times overall), and each array's shape and dtype come from its ``.npy``
  header (:meth:`NpzArchive.header`), so a caller refuses a wrong or huge array before any of
  its data is read (:meth:`NpzArchive.read`).

Problems are :class:`NpzError` (a ValueError) with a message that does not name the file:
each reader family wraps it in its own error type with the file's name.

It lives in data/ (below io/ in the layers) so that the model, project and state readers of
io/ (through :mod:`desktop_nn.io.npz_reader`, which re-exports it) and the data-set reader
(:mod:`desktop_nn.data.npz_data`) share one bounded reader. It imports neither Qt nor io/.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

MAX_MEMBERS = 10_000
# A deflated archive may expand at most this many times its size overall (plus the slack), far
# below deflate's ~1000:1 on zeros: a "zip bomb" is refused before it is decompressed. Files
# written by desktop-nn are not compressed at all (ratio 1).
MAX_RATIO = 64
RATIO_SLACK = 4 << 20
MAX_NPY_HEADER = 10_000
_NPY_MAGIC = b"\x93NUMPY"


class NpzError(ValueError):
    """A problem with an archive's contents; the message does not name the file."""


class NotRegularFileError(OSError):
    """The path is a folder, a FIFO, a device or a socket, not a regular file."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | os.PathLike) -> IO[bytes]:
    """``path`` opened for reading in binary, only if it is a regular file.

    The type is checked before opening (so a device is never opened) and again on the open
    descriptor (so a file swapped in between is caught); the open itself never blocks (a FIFO
    is opened non-blocking, then refused). Raises FileNotFoundError, NotRegularFileError
    (whose ``strerror`` says what the path is) or another OSError.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(f"is {_kind(mode)}, not a regular file")
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
             | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"is {_kind(mode)}, not a regular file")
        try:
            os.set_blocking(fd, True)
        except (AttributeError, OSError):
            pass
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class TooLargeError(OSError):
    """A file is larger than a reader allows."""


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of the regular file ``path``; TooLargeError when it holds over ``limit``."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise TooLargeError(f"is over {limit} bytes")
        # what the file says it holds, then small chunks for one that grows or does not say
        # (/proc), never a buffer larger than the file needs
        chunks = [f.read(size + 1)]
        total = len(chunks[0])
        while total <= limit and len(chunks[-1]) > 0 and total > size:
            chunks.append(f.read(min(64 * 1024, limit + 1 - total)))
            total += len(chunks[-1])
    if total > limit:
        raise TooLargeError(f"is over {limit} bytes")
    return b"".join(chunks)


def os_problem(exc: OSError) -> str:
    """An OSError as a short phrase (the file's name is added by the caller)."""
    if isinstance(exc, NotRegularFileError | TooLargeError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return "does not exist"
    return f"cannot be read ({exc.strerror or exc})"


@dataclass(frozen=True)
class ArrayHeader:
    """What an ``.npy`` member says it holds: shape, dtype, order, and its data's size."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    nbytes: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def _npy_header(fp: IO[bytes], name: str) -> ArrayHeader:
    """Parse the ``.npy`` header at the start of ``fp`` (the position is left after it)."""
    magic = fp.read(len(_NPY_MAGIC) + 2)
    if len(magic) < 8 or not magic.startswith(_NPY_MAGIC):
        raise NpzError(f"{name} is not a NumPy array (raw bytes, not .npy)")
    version = (magic[6], magic[7])
    readers = {(1, 0): np.lib.format.read_array_header_1_0,
               (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise NpzError(f"{name} is a .npy array of unsupported version {version}")
    try:
        shape, fortran_order, dtype = readers[version](fp, max_header_size=MAX_NPY_HEADER)
    except Exception as exc:  # a parser of untrusted text: any failure means a damaged header
        raise NpzError(f"{name} has a damaged .npy header ({type(exc).__name__})") from None
    if dtype.hasobject:
        raise NpzError(f"{name} is an object array that would need pickled objects to load; "
                       "refusing it")
    if dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize == 0:
        raise NpzError(f"{name} has dtype {dtype}, not a plain numeric array")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise NpzError(f"{name} has an invalid shape {shape!r}")
    return ArrayHeader(tuple(shape), dtype, bool(fortran_order),
                       math.prod(shape) * dtype.itemsize)


class NpzArchive:
    """An ``.npz`` opened for bounded reading (use as a context manager).

    ``max_bytes``: a larger file is refused before its archive is parsed. ``file``: the path
    already opened as a regular file (by the caller's own :func:`open_regular`); the archive
    then owns it and closes it.
    """

    def __init__(self, path: str | os.PathLike, max_bytes: int | None = None,
                 file: IO[bytes] | None = None) -> None:
        self.path = Path(path)
        self._file = open_regular(self.path) if file is None else file
        try:
            self.file_size = os.fstat(self._file.fileno()).st_size
            if max_bytes is not None and self.file_size > max_bytes:
                raise NpzError(f"is too large ({self.file_size} bytes, over {max_bytes})")
            self._zip = self._open_zip()
            self._members = self._check_members()
        except BaseException:
            self._file.close()
            raise
        self._headers: dict[str, ArrayHeader] = {}

    def _open_zip(self) -> zipfile.ZipFile:
        head = self._file.read(len(_NPY_MAGIC))
        self._file.seek(0)
        if head == _NPY_MAGIC:
            raise NpzError("is a single .npy array, not an .npz archive")
        try:
            return zipfile.ZipFile(self._file)
        except Exception as exc:  # zipfile's parser on untrusted bytes: any failure is damage
            detail = f" ({exc})" if str(exc) else ""
            raise NpzError(f"is truncated or not an .npz file{detail}") from None

    def _check_members(self) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise NpzError(f"holds {len(infos)} members, over {MAX_MEMBERS}")
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if name in members:
                raise NpzError(f"holds {name!r} twice")
            if info.flag_bits & 0x1:
                raise NpzError(f"{name} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise NpzError(f"{name} uses an unsupported compression method "
                               f"({info.compress_type})")
            if info.header_offset + info.compress_size > self.file_size:
                raise NpzError(f"{name} claims more bytes than the file holds; the file is "
                               "truncated or damaged")
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise NpzError(f"{name} is damaged (stored with two different sizes)")
            members[name] = info
            total += info.file_size
        if total > MAX_RATIO * self.file_size + RATIO_SLACK:
            raise NpzError(f"its members claim {total} bytes, more than a file of "
                           f"{self.file_size} bytes can hold; refusing to decompress it")
        return members

    # ------------------------------------------------------------------ reading
    @property
    def names(self) -> list[str]:
        return list(self._members)

    def __contains__(self, name: str) -> bool:
        return name in self._members

    def _member(self, name: str) -> zipfile.ZipInfo:
        try:
            return self._members[name]
        except KeyError:
            raise NpzError(f"{name} is missing") from None

    def header(self, name: str) -> ArrayHeader:
        """The shape and dtype member ``name`` claims, read without reading its data; its data
        size is checked against the member's size."""
        if name not in self._headers:
            info = self._member(name)
            try:
                with self._zip.open(info) as fp:
                    h = _npy_header(fp, name)
                    offset = fp.tell()
            except NpzError:
                raise
            except Exception as exc:  # zipfile / zlib on damaged bytes
                raise NpzError(f"{name} cannot be read ({type(exc).__name__}: {exc}); "
                               "the file is truncated or damaged") from None
            if h.nbytes != info.file_size - offset:
                raise NpzError(f"{name} claims shape {h.shape} of {h.dtype} ({h.nbytes} bytes) "
                               f"but holds {max(info.file_size - offset, 0)} bytes; the file "
                               "is damaged")
            self._headers[name] = h
        return self._headers[name]

    def read(self, name: str) -> np.ndarray:
        """Member ``name``'s array (writable), after :meth:`header`'s checks."""
        h = self.header(name)
        try:
            with self._zip.open(self._member(name)) as fp:
                _npy_header(fp, name)
                buf = bytearray(h.nbytes)
                view, pos = memoryview(buf), 0
                while pos < h.nbytes:
                    n = fp.readinto(view[pos:])
                    if not n:
                        raise NpzError(f"{name} is truncated")
                    pos += n
                if fp.read(1):  # also makes zipfile check the member's CRC
                    raise NpzError(f"{name} holds more data than its header says")
        except NpzError:
            raise
        except Exception as exc:  # zipfile / zlib on damaged bytes
            raise NpzError(f"{name} cannot be read ({type(exc).__name__}: {exc}); "
                           "the file is truncated or damaged") from None
        a = np.frombuffer(buf, dtype=h.dtype)
        if h.fortran_order:
            return a.reshape(h.shape[::-1]).transpose()
        return a.reshape(h.shape)

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ArrayHeader", "NotRegularFileError", "NpzArchive", "NpzError", "TooLargeError",
           "open_regular", "os_problem", "read_regular"]
