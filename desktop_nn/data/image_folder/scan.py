"""Scanning a folder before decoding: its layout ("classes" or "splits"), its classes and the
candidate image files, with the reason for every file left out."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from desktop_nn.data.image_folder.records import (
    IMAGE_EXTENSIONS,
    Cancelled,
    FolderError,
    FolderScan,
    ImageFile,
    Skipped,
)
from desktop_nn.data.user_files import refusal, shown

SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", ".ds_store", "icon\r"})
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def _sorted_entries(path: str) -> list[os.DirEntry]:
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: e.name)


def _not_a_file(e: os.DirEntry) -> str | None:
    """Why the entry ``e`` (not a folder) cannot be an image file: a FIFO, a device, a
    socket, or a link to one, or a dangling link; None for a regular file. The entry's type
    comes from the folder listing, so a plain file costs no system call."""
    try:
        if e.is_file():
            return None
        return refusal(os.stat(e.path), None) or "not a regular file"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


def _subdirs(path: str) -> list[os.DirEntry]:
    try:
        entries = _sorted_entries(path)
    except OSError as exc:
        raise FolderError(f"{shown(path)}: cannot be read ({exc.strerror or exc})") from None
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

    def __init__(self, root: str, on_found: Callable[[int], None] | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.root = root
        self.cancel = cancel
        self.prefix = len(root.rstrip(os.sep)) + 1
        self.skipped: list[Skipped] = []
        self.on_found = on_found
        self.found = 0

    def rel(self, path: str) -> str:
        return path[self.prefix:] if path.startswith(self.root) else path

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append(Skipped(shown(self.rel(path)), reason))

    def classes(self, folders: list[os.DirEntry]) -> dict[str, list[os.DirEntry]]:
        """{class name: its candidate images} for the class ``folders``. The names are
        :func:`shown`; two folders shown alike (one with a name that is not UTF-8) are
        refused, so that no two classes merge."""
        out: dict[str, list[os.DirEntry]] = {}
        real: dict[str, str] = {}
        for c in folders:
            name = shown(c.name)
            if name in out:
                raise FolderError(
                    f"{shown(self.root)}: the class folders {shown(real[name])!r} and "
                    f"{c.name!r} have the same name once their bytes that are not UTF-8 are "
                    f"written as \\x escapes; rename one of them")
            real[name] = c.name
            out[name] = self.images(c.path)
        return out

    def images(self, class_dir: str) -> list[os.DirEntry]:
        """Candidate image files below ``class_dir`` (recursively, following links, no loops)."""
        seen: set[str] = set()
        stack = [class_dir]
        found = []
        while stack:
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled("loading cancelled")
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
                reason = _not_a_file(e)
                if reason is not None:
                    self.skip(e.path, reason)
                    continue
                found.append(e)
            stack.extend(reversed(subdirs))
        self.found += len(found)
        if self.on_found is not None:
            self.on_found(self.found)
        return found


def scan_folder(root: str | os.PathLike, min_classes: int = 2,
                on_found: Callable[[int], None] | None = None,
                cancel: threading.Event | None = None) -> FolderScan:
    """Find the layout, the classes and the candidate image files of ``root``.
    A training folder needs ``min_classes`` = 2; a test folder may hold one class.
    ``on_found(n)`` is told the number of candidate files found so far, after each class;
    setting ``cancel`` raises :class:`Cancelled` before the next folder is listed."""
    root_path = Path(root).expanduser()
    where = shown(str(root_path))
    if not root_path.exists():
        raise FolderError(f"{where}: no such folder")
    if not root_path.is_dir():
        raise FolderError(f"{where}: is not a folder (expected one subfolder per class)")
    root_s = str(root_path)
    top = _subdirs(root_s)
    split_dirs = {SPLIT_ALIASES[d.name.lower()]: d for d in top if d.name.lower() in SPLIT_ALIASES}
    layout = "splits" if "train" in split_dirs and len(split_dirs) == len(top) else "classes"
    scanner = _Scanner(root_s, on_found, cancel)
    notes: list[str] = []
    for e in _sorted_entries(root_s):
        if not _is_hidden(e.name) and not e.is_dir():
            scanner.skip(e.path, "not inside a class folder")

    by_split: dict[str, dict[str, list[os.DirEntry]]] = {}
    if layout == "splits":
        for split, d in split_dirs.items():
            by_split[split] = scanner.classes(_subdirs(d.path))
    else:
        by_split["train"] = scanner.classes(top)

    train = by_split["train"]
    if not train:
        where = shown(str(root_path / "train")) if layout == "splits" else where
        raise FolderError(f"{where}: no class subfolders found; put the images of each class "
                          f"in a subfolder named after the class")
    class_names = sorted(c for c, files in train.items() if files)
    for c in sorted(train):
        if not train[c]:
            notes.append(f"class folder {c!r} has no images and is left out")
    if not class_names:
        raise FolderError(f"{where}: no images found (looked for "
                          f"{', '.join(sorted(IMAGE_EXTENSIONS))})")
    if len(class_names) < min_classes:
        raise FolderError(f"{where}: only one class ({class_names[0]!r}) has images; a "
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
