"""Loading a folder: :func:`load_image_folder` scans it, reads the cache entry or decodes every
file (guessing the size and colour from a sample of headers, decoding again only when the whole
folder disagrees), and has the new entry written in the background."""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from desktop_nn.data.image_folder.cache import (
    _cache_name,
    _has_cache_entry,
    _read_cache,
    _write_cache_in_background,
    default_cache_dir,
    sweep_stale_temporaries,
)
from desktop_nn.data.image_folder.decode import PROCESS_THRESHOLD, _decode_chunk, _Pool
from desktop_nn.data.image_folder.records import (
    FolderError,
    FolderScan,
    ImageFolderData,
    LoadOptions,
    ProgressCallback,
    Skipped,
)
from desktop_nn.data.image_folder.scan import check_root, scan_folder
from desktop_nn.data.memory import LOAD_BYTES_PER_VALUE, NotEnoughMemory, check_image_memory
from desktop_nn.data.user_files import shown


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
    bytes_per_value: int = LOAD_BYTES_PER_VALUE,
) -> ImageFolderData:
    """Scan, decode (in parallel) and flatten every usable image below ``root``.

    ``progress(done, total)`` is called from the loading thread as chunks finish; setting
    ``cancel`` stops the work and raises :class:`Cancelled` promptly: the scan checks it
    before each folder, decoding in this thread before each file, and the wait for worker
    processes ten times a second. No file is ever opened that could block (a FIFO). Raises
    :class:`FolderError` when the folder cannot be used, or when its images at the image size
    (the one asked for, else the most common one) cannot fit in the memory available, before
    they are decoded (:func:`~desktop_nn.data.memory.check_image_memory`, with
    ``bytes_per_value`` bytes per pixel value: to look at the folder by default,
    :data:`~desktop_nn.data.memory.TRAIN_BYTES_PER_VALUE` to train on it).
    """
    options = options or LoadOptions()
    root = check_root(root)  # a missing folder or a symlink loop: said before anything else
    cache = Path(cache_dir or default_cache_dir()) if options.use_cache else None
    with _Pool(options.workers) as pool:
        # A folder never cached before is decoded: start the worker processes as soon as the
        # scan has found enough files, so that they start up while it goes on.
        decode_ahead = cache is None or not _has_cache_entry(cache, root)

        def found(n: int) -> None:
            if decode_ahead and n >= PROCESS_THRESHOLD:
                pool.start()

        # A folder cached before is likely read back: the scan reads each file's size and
        # mtime as it lists its folder, to check them against the entry.
        scan = scan_folder(root, min_classes, on_found=found, cancel=cancel,
                           stat_files=not decode_ahead)
        if options.image_size is not None:  # before the cache entry or any image is read
            _check_memory(scan, options.image_size, options.color, bytes_per_value, "")
        cache_path = None
        if cache is not None:
            sweep_stale_temporaries(cache)
            cache_path = cache / _cache_name(scan, options)
            cached = _read_cache(cache_path, scan, options)
            if cached is not None:
                if progress is not None:
                    progress(len(scan.paths), len(scan.paths))
                return cached
        data, decode_skipped, file_stats = _decode_folder(
            scan, options, pool, progress, cancel, min_classes, bytes_per_value)
    if cache_path is not None:
        _write_cache_in_background(cache_path, data, decode_skipped, file_stats)
    return data


def _check_memory(scan: FolderScan, size: tuple[int, int], color: str | None,
                  bytes_per_value: int, why: str) -> None:
    try:
        check_image_memory(size, color, len(scan.paths), bytes_per_value)
    except NotEnoughMemory as exc:
        raise FolderError(f"{shown(str(scan.root))}: {exc}{why}") from None


def _decode_folder(scan: FolderScan, options: LoadOptions, pool: _Pool,
                   progress: ProgressCallback | None, cancel: threading.Event | None,
                   min_classes: int, bytes_per_value: int
                   ) -> tuple[ImageFolderData, list[Skipped], np.ndarray]:
    """Decode every file of ``scan`` -> (the data, the decoding's skips, (m_files, 2) stats)."""
    paths = scan.paths
    n = len(paths)
    # Guess the target size and colour from a sample of headers, decode everything in one
    # pass while recording each image's real size and mode, and decode again only when the
    # whole folder disagrees with the guess (its most common size or colour differ).
    size, color = options.image_size, options.color
    if size is None or color is None:
        sample = paths[:: max(1, n // 256)]
        headers = _decode_chunk(sample, None, None, "stretch", options.max_pixels, cancel)
        infos = [i for i in headers[1] if i is not None]
        if infos:
            size = size or _most_common_size(infos)
            color = color or ("gray" if _all_gray(infos) else "rgb")
        else:
            size, color = size or (1, 1), color or "gray"
    auto = " (the most common size of its images: choose a smaller image size)"
    if options.image_size is None or options.color is None:  # guessed: checked again
        _check_memory(scan, size, color, bytes_per_value,
                      auto if options.image_size is None else "")
    args = (options.resize, options.max_pixels)
    chunks = pool.run(paths, (size, color, *args), progress, cancel, 0, n)
    infos = [i for c in chunks for i in c[1]]
    readable = [i for i in infos if i is not None]
    if not readable:
        first = next((e for c in chunks for e in c[2] if e), "no reason")
        raise FolderError(f"{shown(str(scan.root))}: none of its {n} image files could be read "
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
        _check_memory(scan, size, color, bytes_per_value, auto)
        chunks = pool.run(paths, (size, color, *args), progress, cancel, n, 2 * n)
    errors = [e for c in chunks for e in c[2]]
    file_stats = np.concatenate([c[3] for c in chunks])
    pixels = np.concatenate([c[0] for c in chunks]) if len(chunks) > 1 else chunks[0][0]
    keep = np.array([e is None for e in errors], dtype=bool)
    rel = _relative_to(scan.root)
    decode_skipped = [Skipped(shown(rel(p)), e)
                      for p, e in zip(paths, errors, strict=True) if e is not None]
    if not keep.all():
        pixels = pixels[keep]
    pixels.flags.writeable = False  # shared with the cache writer; nothing edits pixels
    kept = [p for p, k in zip(paths, keep, strict=True) if k]
    modes = collections.Counter(mode for _, _, mode, _ in readable)
    sizes = collections.Counter(f"{w}x{h}" for w, h, *_ in readable)
    data = ImageFolderData(
        root=shown(str(scan.root)), layout=scan.layout, class_names=scan.class_names,
        input_shape=(size[0], size[1], 1 if color == "gray" else 3), options=options,
        pixels=pixels, labels=np.array(scan.labels, dtype=np.int64)[keep],
        splits=np.array(scan.splits, dtype="U5")[keep],
        paths=[shown(rel(p)) for p in kept],
        skipped=scan.skipped + decode_skipped, warnings=list(scan.warnings),
        sizes_seen=dict(sizes.most_common()), modes_seen=dict(modes.most_common()))
    if not kept:
        raise FolderError(f"{shown(str(scan.root))}: none of its images could be decoded "
                          f"(first problem: {decode_skipped[0].reason})")
    empty = [c for c, k in data.counts("train").items() if k == 0]
    if len(data.class_names) - len(empty) < min_classes:
        raise FolderError(f"{shown(str(scan.root))}: fewer than two classes have usable "
                          f"training images (none usable in: {', '.join(empty)})")
    for c in empty:
        data.warnings.append(f"class {c!r}: none of its images could be used")
    return data, decode_skipped, file_stats


def _relative_to(root: Path) -> Callable[[str], str]:
    """A function giving paths below ``root`` relative to it (others unchanged)."""
    prefix = str(root) + os.sep
    n = len(prefix)
    return lambda path: path[n:] if path.startswith(prefix) else path
