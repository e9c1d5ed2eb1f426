"""The user's files: opening one without hanging or reading without end (only a regular file
is opened, and only up to a size limit), and showing its name (:func:`shown`).

A FIFO named ``x.png`` blocks ``open()`` until a writer comes, and a link to ``/dev/zero``
never ends; both are refused with the reason, before any byte is read. The file's kind is
checked with ``os.stat`` before opening, and again with ``fstat`` on the opened descriptor, which
is opened with ``O_NONBLOCK`` (POSIX), so that a file swapped for a FIFO in between cannot
block either. Reads stop at the size the file had when it was opened: a file that grows
while it is read is refused."""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import BinaryIO

MAX_IMAGE_FILE_BYTES = 512 << 20  # 512 MiB: an image file bigger than this is refused unread

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def shown(name: str) -> str:
    r"""A file or folder name (or path) as the system gave it -> a valid str, to print, show
    and save in JSON. On Linux a name's bytes that are not UTF-8 come as surrogate escapes,
    which cannot be encoded: they become backslash escapes (``café`` written in Latin-1 is
    shown ``caf\xe9``: a backslash, x, e, 9). A valid name is returned unchanged. The real
    name still opens the file: only what is shown, stored or returned as a name is
    converted."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeError:  # a lone surrogate that is no escaped byte (a Windows name)
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


_ESCAPED_BYTE = re.compile(r"\\x([89a-fA-F][0-9a-fA-F])")


def unshown(text: str) -> str | None:
    r"""The real name that :func:`shown` wrote as ``text`` (``caf\xe9`` -> the name whose
    bytes are ``caf`` and 0xE9), or None when ``text`` holds no such escape (of a byte of
    0x80 or more: only those come from names that are not UTF-8). For a name a user gives
    back as it was shown (a saved project's data folder, the Data panel's text): the name as
    written is tried first, and this only when nothing has that name."""
    if _ESCAPED_BYTE.search(text) is None:
        return None
    parts = _ESCAPED_BYTE.split(text)  # text, byte, text, byte, ..., text
    raw = b"".join(os.fsencode(part) if i % 2 == 0 else bytes([int(part, 16)])
                   for i, part in enumerate(parts))
    try:
        return os.fsdecode(raw)
    except UnicodeError:
        return None


SYMLINK_LOOP = "symlink loop: its links lead back to themselves (too many levels of links)"


def os_error_reason(exc: OSError, kind: str = "file") -> str:
    """An OSError met opening or listing a path, as a short phrase without the path's name
    (the caller names it): a link that leads back to itself (ELOOP) is a symlink loop,
    a missing ``kind`` ("file", "folder") is "no such ...", anything else the system's
    words."""
    if exc.errno == errno.ELOOP:
        return SYMLINK_LOOP
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"no such {kind}"
    return f"cannot be read ({exc.strerror or exc})"


def path_problem(path: str | os.PathLike, kind: str = "file") -> str | None:
    """Why ``path`` cannot be reached at all (missing, a symlink loop, no permission),
    or None when ``os.stat`` reaches it. ``Path.exists`` says False for a loop, and
    ``Path.resolve`` raises RuntimeError on one: this tells them apart without either."""
    try:
        os.stat(path)
    except OSError as exc:
        return os_error_reason(exc, kind)
    except ValueError:  # a NUL byte in the name
        return f"no such {kind} (the name holds a NUL byte)"
    return None


class FileRefused(ValueError):
    """A file that is not opened or not read: not a regular file, or too big. The message is
    the reason, without the file's name (the caller names it)."""


def refusal(st: os.stat_result, max_bytes: int | None) -> str | None:
    """Why a file with this stat is not read (None when it may be)."""
    mode = st.st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        return f"not a regular file ({kind})"
    if max_bytes is not None and st.st_size > max_bytes:
        return (f"too big: {st.st_size:,} bytes is over the limit of {max_bytes:,} bytes "
                f"for this kind of file")
    return None


def open_regular(path: str | os.PathLike, max_bytes: int | None
                 ) -> tuple[BinaryIO, os.stat_result]:
    """Open ``path`` for reading when it (or the file a link points to) is a regular file of
    at most ``max_bytes`` bytes -> (a buffered binary file, its stat). Raises
    :class:`FileRefused`, or OSError when the system refuses (missing, permissions)."""
    reason = refusal(os.stat(path), max_bytes)
    if reason is not None:
        raise FileRefused(reason)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)  # the file opened: it may have been replaced since the stat
        reason = refusal(st, max_bytes)
        if reason is not None:
            raise FileRefused(reason)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def read_whole(f: BinaryIO, st: os.stat_result) -> bytes:
    """The bytes of the file ``f`` opened by :func:`open_regular`, at most its size at opening
    (one more byte is asked for, to notice a file that grows). Raises :class:`FileRefused`."""
    data = f.read(st.st_size + 1)
    if len(data) > st.st_size:
        raise FileRefused("the file grew while it was read (is it still being written?)")
    return data
