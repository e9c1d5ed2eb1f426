"""Scanning a folder before decoding: its layout ("classes" or "splits"), its classes and the
candidate image files, with the reason for every file left out."""

from __future__ import annotations

import operator
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from desktop_nn.data.class_names import printable
from desktop_nn.data.image_folder.records import (
    IMAGE_EXTENSIONS,
    Cancelled,
    FolderError,
    FolderScan,
    Skipped,
)
from desktop_nn.data.user_files import os_error_reason, path_problem, refusal, shown

SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", ".ds_store", "icon\r"})
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def _sorted_entries(path: str) -> list[os.DirEntry]:
    with os.scandir(path) as it:
        return sorted(it, key=_NAME)


_NAME = operator.attrgetter("name")
_PATH = operator.attrgetter("path")
_IS_LINK = operator.methodcaller("is_symlink")
_IS_FILE = operator.methodcaller("is_file")
_IMAGE_SUFFIXES = tuple(IMAGE_EXTENSIONS)
_HAS_IMAGE_SUFFIX = operator.methodcaller("endswith", _IMAGE_SUFFIXES)


def _not_a_file(e: os.DirEntry) -> str | None:
    """Why the entry ``e`` (not a folder) cannot be an image file: a FIFO, a device, a
    socket, or a link to one, or a dangling link; None for a regular file. The entry's type
    comes from the folder listing, so a plain file costs no system call."""
    try:
        if e.is_file():
            return None
        return refusal(os.stat(e.path), None) or "not a regular file"
    except OSError as exc:
        return _unreadable(exc)


def _unreadable(exc: OSError) -> str:
    """Why an entry that the system cannot follow is skipped: a symlink loop, or unreadable."""
    reason = os_error_reason(exc)
    return reason if reason.startswith("symlink loop") else \
        f"unreadable: {exc.strerror or exc}"


def _subdirs(path: str, skip: Callable[[str, str], None] | None = None
             ) -> list[os.DirEntry]:
    """The folders in ``path`` that are not hidden. An entry the system cannot follow (a
    symlink loop: a link to itself, two links to each other) is no folder: ``skip`` is told
    its path and why."""
    try:
        entries = _sorted_entries(path)
    except OSError as exc:
        raise FolderError(f"{shown(path)}: cannot be read ({exc.strerror or exc})") from None
    out = []
    for e in entries:
        try:
            if e.is_dir() and not _is_hidden(e.name):
                out.append(e)
        except OSError as exc:
            if skip is not None and not _is_hidden(e.name):
                skip(e.path, _unreadable(exc))
    return out


class _Scanner:
    """Walks class folders, collecting candidate images and the reasons for skipping others.
    Paths are plain strings: pathlib costs more than the file system on big folders.

    Links are followed, but every folder and file counts once, under one class: a folder
    reached through a link that resolves to the data folder, a folder above it or another
    class's folder is skipped with the reason (its images belong elsewhere), a folder seen
    before is a loop, and a file reached again by its real path counts once. Real paths are
    asked of the system only for links; the others are their folder's real path and name."""

    def __init__(self, root: str, on_found: Callable[[int], None] | None = None,
                 cancel: threading.Event | None = None, stat_files: bool = False) -> None:
        self.root = root
        self.stat_files = stat_files
        self.root_real = os.path.realpath(root)
        self.cancel = cancel
        self.prefix = len(root.rstrip(os.sep)) + 1
        self.skipped: list[Skipped] = []
        self.on_found = on_found
        self.found = 0
        self.class_of_real: dict[str, str] = {}  # a class folder's real path -> "class 'a'"
        self.seen_dirs: dict[str, str] = {}  # real path -> where it was first walked (shown)
        self.seen_files: dict[str, str] = {}  # real path -> the path it was first found at
        # ... except for the files of folders walked in bulk (see _plain_images), kept per
        # folder: its real path -> (its path as walked, its files' names: a list, made a set
        # when a link first asks, since few folders hold links)
        self.plain_dirs: dict[str, tuple[str, list[str] | set[str]]] = {}
        self.link_target_dirs: set[str] = set()  # the real folders of files reached by link

    def rel(self, path: str) -> str:
        return path[self.prefix:] if path.startswith(self.root) else path

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append(Skipped(shown(self.rel(path)), reason))

    def _above_root(self, real: str) -> bool:
        """Whether ``real`` is the data folder or a folder that holds it."""
        return real == self.root_real or self.root_real.startswith(real.rstrip(os.sep) + os.sep)

    def _owner(self, real: str) -> str | None:
        """The class whose folder holds ``real`` (or is it), or None."""
        p = real
        while True:
            if p in self.class_of_real:
                return self.class_of_real[p]
            parent = os.path.dirname(p)
            if parent == p:
                return None
            p = parent

    def classes(self, groups: dict[str, list[os.DirEntry]]
                ) -> dict[str, dict[str, tuple[list[str], list[int], list[int]]]]:
        """{split: {class name: (its candidate images' paths, sizes, mtimes)}} for the class
        folders of each split (see :meth:`images`).
        The names are :func:`shown`; two folders shown alike (one with a name that is not
        UTF-8) are refused, so that no two classes merge. A class folder that is a link to
        the data folder, a folder above it, another class's folder or a folder inside one
        is skipped with the reason; folders that are no links claim their place first."""
        chosen: dict[str, list[tuple[str, os.DirEntry, str]]] = {}
        for split, folders in groups.items():
            names: dict[str, str] = {}
            for c in folders:
                # as a model file will name the class: bytes that are not UTF-8 and control
                # characters written as \x escapes (data/class_names.py printable)
                name = printable(shown(c.name))
                if name in names:
                    raise FolderError(
                        f"{shown(self.root)}: the class folders {_raw(names[name])} and "
                        f"{_raw(c.name)} have the same name '{name}' once bytes that are not "
                        f"UTF-8 and control characters are written as \\x escapes; rename "
                        f"one of them")
                names[name] = c.name
            links = [c for c in folders if _is_link(c)]
            chosen[split] = []
            for c in [c for c in folders if not _is_link(c)] + links:
                name, real = shown(c.name), os.path.realpath(c.path)
                label = f"class {name!r}" + (f" of the {split} split" if len(groups) > 1 else "")
                reason = self._refused_link(real, None)
                if reason is not None:
                    self.skip(c.path, reason)
                    continue
                self.class_of_real[real] = label
                chosen[split].append((name, c, real))
        out: dict[str, dict[str, tuple[list[str], list[int], list[int]]]] = {}
        for split, classes in chosen.items():
            out[split] = {name: self.images(c.path, real)
                          for name, c, real in sorted(classes, key=lambda t: t[0])}
        return out

    def _refused_link(self, real: str, own: str | None) -> str | None:
        """Why a folder reached through a link, resolving to ``real``, is not walked for the
        class ``own`` (None: a class folder itself)."""
        if self._above_root(real):
            return "a link to the data folder or a folder above it"
        owner = self._owner(real)
        if owner is None or owner == own:
            return None
        if own is None and real in self.class_of_real:
            return f"a link to the same folder as {owner} (not a second class)"
        return f"a link into {owner} (its images belong to that class)"

    def _first_found(self, real: str) -> str | None:
        """The path at which the file whose real path is ``real`` was found, or None."""
        first = self.seen_files.get(real)
        if first is None:
            folder, name = os.path.split(real)
            walked = self.plain_dirs.get(folder)
            if walked is not None:
                names = walked[1]
                if isinstance(names, list):
                    names = self.plain_dirs[folder] = (walked[0], set(names))[1]
                if name in names:
                    first = os.path.join(walked[0], name)
        return first

    def images(self, class_dir: str, class_real: str
               ) -> tuple[list[str], list[int], list[int]]:
        """The paths of the candidate image files below ``class_dir`` (recursively, following
        links that stay out of the other classes, no loops, each file once), and with
        ``stat_files`` their sizes and mtime_ns (else two empty lists)."""
        own = self.class_of_real[class_real]
        stack = [(class_dir, class_real, "")]  # (path, real path, real path of its parent)
        found: list[str] = []
        sizes: list[int] = []
        mtimes: list[int] = []
        while stack:
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled("loading cancelled")
            d, real, parent = stack.pop()
            if real in self.seen_dirs:
                if parent == real or parent.startswith(real + os.sep):
                    self.skip(d, "symlink loop: folder already visited")
                else:
                    self.skip(d, f"the same folder as {self.seen_dirs[real]!r}, reached again "
                                 f"through a link (counted once)")
                continue
            self.seen_dirs[real] = shown(self.rel(d))
            try:
                entries = _sorted_entries(d)
            except OSError as exc:
                self.skip(d, f"folder cannot be read: {exc.strerror or exc}")
                continue
            if real not in self.link_target_dirs and _plain_images(entries):
                # Only plain image files (the common folder): taken in bulk. None was reached
                # before through a link; a link reaching one later finds it in plain_dirs.
                names = list(map(_NAME, entries))
                self.plain_dirs[real] = (d, names)
                found.extend(map(_PATH, entries))
                if self.stat_files:
                    _stat_names_into(d, names, found[len(sizes):], sizes, mtimes)
                continue
            subdirs = []
            # The loop below runs once per file of the folder: it is kept lean (no calls for
            # a plain file but the entry's own, which need no system call).
            real_prefix = real if real.endswith(os.sep) else real + os.sep
            seen_files = self.seen_files
            for e in entries:
                name = e.name
                lower = name.lower()
                if name[0] == "." or lower in SYSTEM_FILES:
                    self.skip(e.path, "hidden or system file")
                    continue
                try:
                    is_dir = e.is_dir()
                except OSError as exc:
                    self.skip(e.path, _unreadable(exc))
                    continue
                try:
                    link = e.is_symlink()
                except OSError:
                    link = False
                e_real = os.path.realpath(e.path) if link else real_prefix + name
                if is_dir:
                    reason = self._refused_link(e_real, own) if link else (
                        None if self.class_of_real.get(e_real, own) == own
                        else f"the folder of {self.class_of_real[e_real]}")
                    if reason is not None:
                        self.skip(e.path, reason)
                    else:
                        subdirs.append((e.path, e_real, real))
                    continue
                if not lower.endswith(_IMAGE_SUFFIXES):  # (the name has no leading dot)
                    dot = name.rfind(".")
                    ext = lower[dot:] if dot > 0 else ""
                    self.skip(e.path, f"not an image file (extension {ext or 'none'!r})")
                    continue
                try:  # a plain file: known from the listing, no system call
                    plain = not link and e.is_file()
                except OSError:
                    plain = False
                reason = None if plain else _not_a_file(e)
                if reason is None and link:
                    owner = self._owner(e_real)
                    if owner is not None and owner != own:
                        reason = f"a link into {owner} (the image belongs to that class)"
                first_at = self._first_found(e_real) if reason is None else None
                if first_at is not None:
                    first = shown(self.rel(first_at))
                    reason = f"the same file as {first!r}, reached again through a link " \
                             f"(counted once)"
                if reason is not None:
                    self.skip(e.path, reason)
                    continue
                path = e.path
                seen_files[e_real] = path
                if link:
                    self.link_target_dirs.add(os.path.dirname(e_real))
                found.append(path)
            if self.stat_files:
                _stat_into(found[len(sizes):], sizes, mtimes)
            stack.extend(reversed(subdirs))
        self.found += len(found)
        if self.on_found is not None:
            self.on_found(self.found)
        return found, sizes, mtimes


def _stat_names_into(folder: str, names: list[str], paths: list[str], sizes: list[int],
                     mtimes: list[int]) -> None:
    """:func:`_stat_into` for the files ``names`` of ``folder`` (``paths`` the same files),
    stat'ed by name relative to the open folder where the system allows it: the system then
    looks up one name, not every folder of the path (a fifteenth less time on MNIST)."""
    if os.stat not in os.supports_dir_fd:
        return _stat_into(paths, sizes, mtimes)
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return _stat_into(paths, sizes, mtimes)
    try:
        _stat_into(names, sizes, mtimes, fd)
    finally:
        os.close(fd)
    return None


def _plain_images(entries: list[os.DirEntry]) -> bool:
    """Whether every entry is a plain image file as the folder listing tells it: no link, no
    folder, no special file, not hidden, an image extension. Checked a whole folder at a time
    with calls that loop in C, not per entry in Python."""
    try:
        if any(map(_IS_LINK, entries)) or not all(map(_IS_FILE, entries)):
            return False
    except OSError:  # an entry the listing did not type, which the system cannot stat
        return False
    names = "\0".join(map(_NAME, entries))
    if names.startswith(".") or "\0." in names:
        return False
    lowers = names.lower().split("\0")
    return SYSTEM_FILES.isdisjoint(lowers) and all(map(_HAS_IMAGE_SUFFIX, lowers))


_STAT_CHUNK = 128  # stat results alive at once: few, so that their memory is reused


def _stat_into(paths: list[str], sizes: list[int], mtimes: list[int],
               dir_fd: int | None = None) -> None:
    """Append each file's size and mtime_ns (following links; -1 and -1 where it cannot be
    stat'ed, as the decoding workers record it) to ``sizes`` and ``mtimes``; ``paths`` are
    relative to the open folder ``dir_fd`` when it is given. A cached reload of a big folder
    pays this per file: a chunk of files at a time, in list comprehensions, and only a chunk
    of ``os.stat`` results alive at once (keeping all 60000 costs half again the system's
    time)."""
    stat_of = os.stat
    for i in range(0, len(paths), _STAT_CHUNK):
        part = paths[i:i + _STAT_CHUNK]
        try:
            stats = [stat_of(p, dir_fd=dir_fd) for p in part]
        except OSError:  # some file is gone or unreadable: the chunk one file at a time
            for p in part:
                try:
                    st = stat_of(p, dir_fd=dir_fd)
                except OSError:
                    sizes.append(-1)
                    mtimes.append(-1)
                    continue
                sizes.append(st.st_size)
                mtimes.append(st.st_mtime_ns)
            continue
        sizes += [st.st_size for st in stats]
        mtimes += [st.st_mtime_ns for st in stats]


def _raw(name: str) -> str:
    """A name as the bytes the system holds (b'caf\\xe9'), to tell apart names shown alike."""
    try:
        return repr(os.fsencode(name))
    except UnicodeError:
        return repr(name)


def _is_link(e: os.DirEntry) -> bool:
    try:
        return e.is_symlink()
    except OSError:
        return False


def _is_loop(e: os.DirEntry) -> bool:
    """Whether the entry is a link the system cannot follow (skipped by :func:`_subdirs`)."""
    try:
        e.is_dir()
    except OSError:
        return True
    return False


def check_root(root: str | os.PathLike) -> Path:
    """``root`` as a Path when it is a folder; else :class:`FolderError` naming it and saying
    why (missing, a symlink loop, unreadable, or not a folder)."""
    root_path = Path(root).expanduser()
    where = shown(str(root_path))
    problem = path_problem(root_path, "folder")
    if problem is not None:
        raise FolderError(f"{where}: {problem}")
    if not root_path.is_dir():
        raise FolderError(f"{where}: is not a folder (expected one subfolder per class)")
    return root_path


def scan_folder(root: str | os.PathLike, min_classes: int = 2,
                on_found: Callable[[int], None] | None = None,
                cancel: threading.Event | None = None, stat_files: bool = False) -> FolderScan:
    """Find the layout, the classes and the candidate image files of ``root``.
    A training folder needs ``min_classes`` = 2; a test folder may hold one class.
    ``on_found(n)`` is told the number of candidate files found so far, after each class;
    setting ``cancel`` raises :class:`Cancelled` before the next folder is listed. With
    ``stat_files`` (a cached reload is likely) every candidate's size and mtime are read
    as its folder is listed, into ``file_stats``."""
    root_path = check_root(root)
    where = shown(str(root_path))
    root_s = str(root_path)
    scanner = _Scanner(root_s, on_found, cancel, stat_files)
    top = _subdirs(root_s, scanner.skip)
    split_dirs = {SPLIT_ALIASES[d.name.lower()]: d for d in top if d.name.lower() in SPLIT_ALIASES}
    layout = "splits" if "train" in split_dirs and len(split_dirs) == len(top) else "classes"
    notes: list[str] = []
    folders = {e.name for e in top}
    for e in _sorted_entries(root_s):
        if not _is_hidden(e.name) and e.name not in folders and not _is_loop(e):
            scanner.skip(e.path, "not inside a class folder")

    if layout == "splits":  # train first: a file reached again elsewhere counts there
        groups = {split: _subdirs(split_dirs[split].path, scanner.skip)
                  for split in ("train", "val", "test") if split in split_dirs}
    else:
        groups = {"train": top}
    by_split = scanner.classes(groups)

    train = by_split["train"]
    if not train:
        where = shown(str(root_path / "train")) if layout == "splits" else where
        raise FolderError(f"{where}: no class subfolders found; put the images of each class "
                          f"in a subfolder named after the class")
    class_names = sorted(c for c, (paths, _, _) in train.items() if paths)
    for c in sorted(train):
        if not train[c][0]:
            notes.append(f"class folder {c!r} has no images and is left out")
    if not class_names:
        raise FolderError(f"{where}: no images found (looked for "
                          f"{', '.join(sorted(IMAGE_EXTENSIONS))})")
    if len(class_names) < min_classes:
        raise FolderError(f"{where}: only one class ({class_names[0]!r}) has images; a "
                          f"classifier needs at least two class subfolders")
    index = {c: i for i, c in enumerate(class_names)}
    paths: list[str] = []
    labels: list[int] = []
    splits: list[str] = []
    sizes: list[int] = []
    mtimes: list[int] = []
    for split in ("train", "val", "test"):
        for c, (found, found_sizes, found_mtimes) in sorted(by_split.get(split, {}).items()):
            if c not in index:
                for path in found:
                    scanner.skip(path, f"class {c!r} has no training images")
                continue
            # No stat here: a cold load gets each file's size and mtime from the open file in
            # the decoding workers, and a dangling link is reported when it fails to open.
            paths.extend(found)
            labels.extend([index[c]] * len(found))
            splits.extend([split] * len(found))
            sizes.extend(found_sizes)
            mtimes.extend(found_mtimes)
    return FolderScan(root_path, layout, class_names, paths, labels, splits, scanner.skipped,
                      notes, file_stats=_stat_array(sizes, mtimes) if stat_files else None)


def file_stats(paths: list[str]) -> np.ndarray:
    """(m_files, 2) int64: each file's size and mtime_ns, -1 where it cannot be stat'ed."""
    sizes: list[int] = []
    mtimes: list[int] = []
    _stat_into(paths, sizes, mtimes)
    return _stat_array(sizes, mtimes)


def _stat_array(sizes: list[int], mtimes: list[int]) -> np.ndarray:
    out = np.empty((len(sizes), 2), dtype=np.int64)
    out[:, 0] = sizes
    out[:, 1] = mtimes
    return out
