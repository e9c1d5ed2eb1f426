"""Writing files atomically: a temporary file in the same folder, flushed and fsync'ed, given
the old file's permissions, then ``os.replace``'d onto the target (and the folder fsync'ed).
On any error the temporary file is removed and an existing target is left untouched.

- :func:`atomic_open` / :func:`atomic_write_text`: one file.
- :func:`write_together`: several files as one unit (a project, its model and its training
  state): every file is written to its temporary first, and only when all are whole are they
  moved into place; a failure on the way puts the old files back, so the old set stays whole
  until the new set is whole.
- Only a regular file is replaced (:func:`write_target`): a FIFO, a device, a socket or a
  folder at the target is refused, naming it, before anything is written. A symbolic link is
  written through: the regular file it leads to is replaced and the link is kept (a link that
  leads nowhere, or to something that is not a regular file, is refused).
- Temporaries are named ``.NAME.PID-XXXXXXXX.tmp`` (PID: the writer's process id). One left by
  a writer that was killed (``kill -9``) is removed by the next write of the same file
  (:func:`clean_stale_temporaries`): only names of this pattern, only regular files, and only
  when the writer's process is gone or the file is over :data:`STALE_AFTER_S` old. A name too
  long for that (over 230 bytes where names may have 255) gives ``.STEM~HASH.PID-XXXXXXXX.tmp``:
  its first bytes and 8 hex digits of its SHA-256, so the temporary's name fits the file
  system and still belongs to that one name (:func:`temporary_stem`).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

STALE_AFTER_S = 3600.0
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"  # mkstemp's


NAME_MAX = 255  # bytes in a file name, where the file system does not say
# what a temporary adds after its stem: "." PID (10 digits at most) "-" 8 random ".tmp"
_TAIL_BYTES = 1 + 10 + 1 + 8 + 4
_HASH_CHARS = 8


def _name_max(folder: Path) -> int:
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, ValueError, OSError):  # not POSIX, or the folder is not there
        return NAME_MAX
    return limit if isinstance(limit, int) and 0 < limit < NAME_MAX else NAME_MAX


def temporary_stem(target: Path) -> str:
    """What our temporaries of ``target`` are named after: its name, or, when that would make
    a temporary's name too long for the file system, its first bytes, "~" and 8 hex digits of
    the SHA-256 of the whole name (the same for every writer of that name, and for no other
    name in practice)."""
    name = target.name
    limit = _name_max(target.parent)
    raw = os.fsencode(name)
    if 1 + len(raw) + _TAIL_BYTES <= limit:
        return name
    keep = max(limit - 1 - _TAIL_BYTES - 1 - _HASH_CHARS, 1)
    stem = name[:keep]
    while len(os.fsencode(stem)) > keep:  # whole characters only
        stem = stem[:-1]
    return f"{stem}~{hashlib.sha256(raw).hexdigest()[:_HASH_CHARS]}"


def _prefix(target: Path) -> str:
    return f".{temporary_stem(target)}.{os.getpid()}-"


def _temporary_pattern(stem: str) -> re.Pattern[str]:
    """Our temporaries named after ``stem`` (the PID part is absent in older ones)."""
    return re.compile(rf"\.{re.escape(stem)}\.(?:(\d+)-)?[a-z0-9_]{{8}}\.tmp")


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class NotRegularTargetError(OSError):
    """The file a write would replace is not a regular file (a FIFO, a device, a socket, or
    a link that leads to none of ours); ``filename`` names it, ``strerror`` says what it is."""


def _refuse_kind(path: Path, mode: int, through: str = "") -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, f"{through}is a folder, not a file", str(path))
    for test, kind in _KINDS:
        if test(mode):
            raise NotRegularTargetError(
                errno.EINVAL, f"{through}is {kind}, not a regular file; refusing to write over "
                "it", str(path))
    if not stat.S_ISREG(mode):
        raise NotRegularTargetError(errno.EINVAL, f"{through}is not a regular file; refusing "
                                    "to write over it", str(path))


def write_target(path: str | os.PathLike) -> Path:
    """The file a write of ``path`` replaces: ``path`` itself when it is a regular file or
    absent; for a symbolic link, the regular file the link leads to (written through, the link
    kept). Raises, naming ``path``, before anything is written: IsADirectoryError for a folder,
    :class:`NotRegularTargetError` for a FIFO, a device, a socket, or a link that leads nowhere
    (dangling, a loop) or to one of those. Other errors of ``lstat`` (a folder on the way that
    is a file, no permission) are raised as they are."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return p
    if not stat.S_ISLNK(st.st_mode):
        _refuse_kind(p, st.st_mode)
        return p
    try:  # what the system opens through the link: /dev/stderr leads to a pipe or a terminal
        opened = os.stat(p)  # that no path names (realpath cannot follow it)
    except OSError:
        opened = None
    if opened is not None and not stat.S_ISREG(opened.st_mode):
        _refuse_kind(p, opened.st_mode, through=f"is a symbolic link to {os.readlink(p)}, "
                                                f"which ")
    try:
        real = Path(os.path.realpath(p, strict=True))
        st = os.stat(real)
    except OSError as exc:
        try:
            where = os.readlink(p)
        except OSError:
            where = "?"
        why = "a loop of links" if exc.errno == errno.ELOOP else "nothing"
        raise NotRegularTargetError(
            errno.ENOENT, f"is a symbolic link to {where}, which leads to {why}; refusing to "
            "write through it (name the file itself, or remove the link)", str(p)) from None
    _refuse_kind(p, st.st_mode, through=f"is a symbolic link to {real}, which ")
    return real


def _pid_gone(pid: int) -> bool:
    """Whether no process with this id runs (POSIX; elsewhere nobody can tell: False)."""
    if os.name != "posix" or pid <= 0:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def clean_stale_temporaries(target: str | os.PathLike,
                            max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temporaries that writers of ``target`` left behind when they were killed;
    returns what was removed. Only files named as :func:`atomic_open` names them, only regular
    files (never a link or a folder), and only when their writer's process is gone or they are
    over ``max_age_s`` old: a live writer's temporary is left alone. Errors are ignored."""
    target = Path(target)
    stem = temporary_stem(target)
    pattern = _temporary_pattern(stem)
    start = f".{stem}."
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(start) and entry.name.endswith(".tmp")):
            continue
        m = pattern.fullmatch(entry.name)
        if m is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            pid = int(m.group(1)) if m.group(1) else None
            if not ((pid is not None and _pid_gone(pid)) or now - st.st_mtime > max_age_s):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _new_temporary(target: Path) -> tuple[int, Path]:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_prefix(target), suffix=".tmp")
    return fd, Path(tmp)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """``with atomic_open(path) as f: ...``: ``f`` is the temporary file ("wb", or "w" for
    UTF-8 text); ``path`` is replaced when the block ends without an error. Only a regular
    file is replaced, a link is written through (:func:`write_target`: anything else is
    refused before the block runs). Stale temporaries of ``path`` are cleaned first
    (:func:`clean_stale_temporaries`)."""
    target = write_target(path)
    clean_stale_temporaries(target)
    fd, tmp_path = _new_temporary(target)
    try:
        text = "b" not in mode
        with os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": ""} if text else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _copy_mode(target, tmp_path)
        _still_replaceable(target)
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)
    return Path(path)


Writer = Callable[[IO[bytes]], None]


def _check_removable(path: Path) -> None:
    """A file to remove must be a regular file, a link (removed itself, never what it leads
    to) or absent: never a folder, a FIFO, a device or a socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISLNK(st.st_mode):
        _refuse_kind(path, st.st_mode)


def _still_replaceable(target: Path) -> None:
    """Checked again just before the rename: something else may have taken the name since."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    _refuse_kind(target, st.st_mode)


def _backup(path: Path) -> Path | None:
    """A second name for the current ``path`` (a hard link, else a copy) to put back if the
    set cannot be completed; None when there is no file or no way to keep it."""
    if not os.path.lexists(path):
        return None
    for _ in range(100):
        random = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        name = path.with_name(f"{_prefix(path)}{random}.tmp")
        try:
            try:
                os.link(path, name, follow_symlinks=False)  # a link itself, not its target
            except NotImplementedError:  # platforms that cannot say which
                os.link(path, name)
            return name
        except FileExistsError:
            continue
        except OSError:
            try:
                shutil.copy2(path, name, follow_symlinks=False)
                return name
            except OSError:
                name.unlink(missing_ok=True)
                return None
    return None


def write_together(files: Sequence[tuple[str | os.PathLike, Writer]],
                   remove: Sequence[str | os.PathLike] = ()) -> None:
    """Write several files as one unit, then remove the files in ``remove``.

    Each ``writer(f)`` writes one file's bytes to its temporary; only when every temporary is
    whole and fsync'ed are they moved into place, in the order given (put the file that makes
    the set, e.g. the project, last), then ``remove``'s files are deleted. When anything fails
    the temporaries are removed and every file already replaced or deleted is put back, so
    the old files stay as they were, and the error is raised.

    As :func:`atomic_open`, only regular files are replaced and a link is written through
    (:func:`write_target`); a file to remove may be a regular file or a link (the link itself
    is removed). Anything else, or two files of the set that are one, is refused before
    anything is written.
    """
    targets = [(write_target(p), w) for p, w in files]
    removals = [Path(p) for p in remove]
    for p in removals:
        _check_removable(p)
    seen: dict[Path, str] = {}
    for (target, _), given in zip(targets, files, strict=True):
        key = Path(os.path.realpath(target))
        if key in seen:
            raise NotRegularTargetError(errno.EINVAL, f"is the same file as {seen[key]}; "
                                        "refusing to write one file twice", os.fspath(given[0]))
        seen[key] = os.fspath(given[0])
    for p in [t for t, _ in targets] + removals:
        clean_stale_temporaries(p)
    temporaries: list[Path] = []
    try:
        for target, writer in targets:
            fd, tmp = _new_temporary(target)
            temporaries.append(tmp)
            with os.fdopen(fd, "wb") as f:
                writer(f)
                f.flush()
                os.fsync(f.fileno())
            _copy_mode(target, tmp)
    except BaseException:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
        raise

    backups: dict[Path, Path | None] = {}  # every path that held a file: its second name
    done: list[Path] = []
    try:
        for p in [t for t, _ in targets] + removals:
            if os.path.lexists(p):
                backups[p] = _backup(p)
        for (target, _), tmp in zip(targets, temporaries, strict=True):
            _still_replaceable(target)
            os.replace(tmp, target)
            done.append(target)
        for r in removals:
            if r in backups:
                os.unlink(r)
                done.append(r)
    except BaseException:
        _roll_back(done, backups)
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
        for b in backups.values():
            if b is not None:
                b.unlink(missing_ok=True)
        raise
    for b in backups.values():
        if b is not None:
            b.unlink(missing_ok=True)
    for folder in {t.parent for t, _ in targets} | {r.parent for r in removals}:
        _fsync_dir(folder)


def _roll_back(done: list[Path], backups: dict[Path, Path | None]) -> None:
    """Put back the files of a set that could not be completed (newest change first)."""
    for path in reversed(done):
        if path in backups and backups[path] is None:
            log.error("could not keep the old %s to put it back after a failed save", path)
            continue
        backup = backups.get(path)
        try:
            if backup is not None:
                os.replace(backup, path)
                backups[path] = None  # it is the file again: not to be removed
            else:
                os.unlink(path)  # there was no file before this set
        except OSError as exc:
            log.error("could not put %s back after a failed save: %s", path, exc)
            if backup is not None:
                backups[path] = None  # keep the only copy of the old file
                log.error("the old %s is kept as %s", path.name, backup)


def _copy_mode(target: Path, tmp_path: Path) -> None:
    """Give the new file the old file's permissions (or rw-r--r--), not mkstemp's 0600."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = 0o644
    try:
        os.chmod(tmp_path, mode)
    except OSError:
        pass


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the OS allows fsync on a directory (not on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
