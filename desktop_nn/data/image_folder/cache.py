"""The cache of decoded folders: one .npz entry per folder, options and file list, in the
user cache directory; entries are read back when every file's size and mtime still match, and
written on background threads (:func:`wait_for_cache_writes` waits for them).

The cache directory may be shared with the user's own files (``DESKTOP_NN_CACHE_DIR`` can point
anywhere), so pruning removes only the cache's own entries: a regular file named like an entry
(``<12 hex>-<32 hex>.npz``) that is a zip of exactly the entry's arrays and whose metadata
carry :data:`ENTRY_MARKER` (or are those of a version 3 entry, written before the marker).
Nothing else in the directory is ever removed."""

from __future__ import annotations

import array
import hashlib
import json
import os
import re
import stat
import threading
import time
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from desktop_nn.data.image_folder.decode import DECODER_VERSION
from desktop_nn.data.image_folder.records import (
    FolderScan,
    ImageFolderData,
    LoadOptions,
    Skipped,
)
from desktop_nn.data.image_folder.scan import file_stats
from desktop_nn.data.user_files import shown

# 3: file stats stored in the entry; 4: the entry's marker in its metadata; 5: the key hashes
# the file list in a few calls, and the paths are stored as one UTF-8 string
CACHE_VERSION = 5
ENTRY_MARKER = "desktop-nn image-folder cache"
ENTRY_NAME = re.compile(r"[0-9a-f]{12}-[0-9a-f]{32}\.npz")
ENTRY_MEMBERS = frozenset({"pixels.npy", "file_stats.npy", "labels.npy", "splits.npy",
                           "paths.npy", "meta.npy"})
# the temporary file of an entry being written (see _write_cache); one left by a killed
# process is removed when it is older than this
TEMP_NAME = re.compile(r"\.([0-9a-f]{12}-[0-9a-f]{32}\.npz)\.(\d+)\.\d+\.tmp")
STALE_TEMP_SECONDS = 3600
# ... or, when the process that wrote it is gone, older than this (a cache folder shared with
# another machine could hold a live writer whose number is free here: not for long, though)
DEAD_WRITER_TEMP_SECONDS = 10
MAX_META_BYTES = 256 << 20  # an entry's metadata member bigger than this is not ours


def default_cache_dir() -> Path:
    """``$DESKTOP_NN_CACHE_DIR`` or the platform's user cache dir, ``image-folders`` below."""
    env = os.environ.get("DESKTOP_NN_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("desktop-nn", appauthor=False)) / "image-folders"


def _root_tag(root: str | os.PathLike) -> str:
    """The start of every cache entry's name for the folder ``root``."""
    resolved = os.path.realpath(Path(root).expanduser())  # never raises on a symlink loop
    return hashlib.sha256(resolved.encode("utf-8", "surrogatepass")).hexdigest()[:12]


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
    """Hash of the cache's and the decoder's versions, the options and every candidate
    file's path, class and split (a change to decoding changes every key). Sizes and
    mtimes are stored in the entry and checked when it is read (see :func:`_read_cache`)."""
    h = hashlib.sha256()
    opts = {k: v for k, v in asdict(options).items() if k not in ("workers", "use_cache")}
    # ASCII JSON and "surrogatepass": names that are not UTF-8 (surrogate escapes) hash too
    h.update(json.dumps([CACHE_VERSION, DECODER_VERSION, os.path.realpath(scan.root), opts,
                         scan.class_names, len(scan.paths)]).encode())
    # Whole lists at once, not a call per file: with their number hashed first, the labels
    # (8 bytes each), then the splits and the paths joined by NUL, which no name holds, can
    # be read back from the bytes hashed in one way only.
    h.update(array.array("q", scan.labels).tobytes())
    h.update("\0".join(scan.splits).encode())
    h.update(b"\0")
    h.update("\0".join(scan.paths).encode("utf-8", "surrogatepass"))
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
    if not _is_regular(path):  # missing, or a FIFO or device named like an entry
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            if meta.get("version") != CACHE_VERSION or meta.get("format") != ENTRY_MARKER:
                return None
            # an edited, replaced or touched file makes the entry stale
            stats = scan.file_stats  # read by the scan as it listed each folder, or now
            if stats is None:
                stats = file_stats(scan.paths)
            if not np.array_equal(z["file_stats"], stats):
                return None
            pixels, labels, splits = z["pixels"], z["labels"], z["splits"]
            pixels.flags.writeable = False  # as after a cold load
            paths = bytes(z["paths"]).decode("utf-8").split("\0")
    except Exception:  # a damaged cache entry is rebuilt, never trusted
        return None
    skipped = list(scan.skipped) + [Skipped(**s) for s in meta["decode_skipped"]]
    return ImageFolderData(
        root=shown(str(scan.root)), layout=scan.layout, class_names=list(meta["class_names"]),
        input_shape=tuple(meta["input_shape"]), options=options, pixels=pixels, labels=labels,
        splits=splits.astype(str), paths=paths, skipped=skipped,
        warnings=list(meta["warnings"]), sizes_seen=meta["sizes_seen"],
        modes_seen=meta["modes_seen"], from_cache=True)


def _write_cache(path: Path, data: ImageFolderData, decode_skipped: list[Skipped],
                 file_stats: np.ndarray, keep: int = 20) -> None:
    """Write atomically; keep the ``keep`` most recent entries. Failure only costs speed.
    Only the decoding's skips are stored: the scan's are found again on every load."""
    meta = {"format": ENTRY_MARKER, "version": CACHE_VERSION, "class_names": data.class_names,
            "input_shape": list(data.input_shape), "warnings": data.warnings,
            "sizes_seen": data.sizes_seen, "modes_seen": data.modes_seen,
            "decode_skipped": [asdict(s) for s in decode_skipped]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, pixels=data.pixels, file_stats=file_stats, labels=data.labels,
                     splits=data.splits.astype("U5"),
                     # the paths as shown (valid str, no NUL): one string, split when read
                     paths=np.frombuffer("\0".join(data.paths).encode("utf-8"),
                                         dtype=np.uint8),
                     meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8))
        os.replace(tmp, path)
        _prune(path.parent, keep)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _is_regular(path: Path) -> bool:
    """Whether ``path`` is a regular file (not following a last symlink: a link named like an
    entry is not the cache's)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_own_entry(path: Path) -> bool:
    """Whether ``path`` is an entry this cache wrote: its name, its members and its marker.
    Reading stops at the zip's directory and the small metadata member."""
    if not ENTRY_NAME.fullmatch(path.name) or not _is_regular(path):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            if set(z.namelist()) != ENTRY_MEMBERS:
                return False
            if z.getinfo("meta.npy").file_size > MAX_META_BYTES:
                return False
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    except Exception:  # anything unreadable is not known to be ours: left alone
        return False
    if not isinstance(meta, dict):
        return False
    legacy = meta.get("version") == 3 and "decode_skipped" in meta and "format" not in meta
    return meta.get("format") == ENTRY_MARKER or legacy


def _prune(cache: Path, keep: int) -> None:
    """Keep the ``keep`` most recent of the cache's own entries in ``cache``; remove the
    temporary files that killed writers left. Nothing else there is touched."""
    entries: list[tuple[float, Path]] = []
    for p in cache.iterdir():
        if TEMP_NAME.fullmatch(p.name):
            _remove_if_stale(p)
        elif ENTRY_NAME.fullmatch(p.name) and _is_own_entry(p):
            try:
                entries.append((os.lstat(p).st_mtime, p))
            except OSError:
                pass
    entries.sort(key=lambda e: e[0], reverse=True)
    for _, old in entries[keep:]:
        old.unlink(missing_ok=True)


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or no way to ask: taken as alive
        return True
    return True


def _remove_if_stale(p: Path) -> None:
    """Remove the temporary ``p`` of an entry whose writer was killed (an image size of
    20000x20000 leaves gigabytes): its process gone, or an hour old."""
    match = TEMP_NAME.fullmatch(p.name)
    if match is None:
        return
    try:
        st = os.lstat(p)
        age = time.time() - st.st_mtime
        if not stat.S_ISREG(st.st_mode):
            return
        dead = age > DEAD_WRITER_TEMP_SECONDS and not _writer_alive(int(match.group(2)))
        if dead or age > STALE_TEMP_SECONDS:
            p.unlink()
    except (OSError, ValueError):
        pass


def sweep_stale_temporaries(cache: Path) -> None:
    """Remove what killed writers left in ``cache`` (done at every cached load, not only
    after a write, so that a killed load's gigabytes go at the next load)."""
    try:
        names = [p for p in cache.iterdir() if TEMP_NAME.fullmatch(p.name)]
    except OSError:
        return
    for p in names:
        _remove_if_stale(p)
