"""The cache of decoded folders: one .npz entry per folder, options and file list, in the
user cache directory; entries are read back when every file's size and mtime still match, and
written on background threads (:func:`wait_for_cache_writes` waits for them)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict
from pathlib import Path

import numpy as np

from desktop_nn.data.image_folder.decode import _stat_pair
from desktop_nn.data.image_folder.records import (
    FolderScan,
    ImageFolderData,
    LoadOptions,
    Skipped,
)

CACHE_VERSION = 3  # 3: file stats stored in the entry


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
