"""Loading an image folder: desktop-nn cold and cached against a plain serial Pillow loop.

Make the MNIST training set as 60000 PNG files, then time it:

    python ../shared/tools/idx_to_folders.py ../shared/data/mnist /tmp/mnist
    python benchmarks/load_images.py /tmp/mnist/train

Every figure is the best of ``--repeats`` runs, all measured in this run on the same files
(the first, discarded pass warms the OS file cache so that every contender reads from memory):

- serial: ``Image.open``, convert, ``np.asarray`` into a preallocated (m, n_x) uint8 array, one
  file after the other in this process (what a newcomer would write);
- cold: :func:`load_image_folder` with an empty cache (scan, decode in worker processes; the
  cache entry is written on a background thread once the data are returned);
- cached: the same call again (wait for that entry if it is still being written, scan, check
  every file's size and mtime, read the entry), then twice more, each after the floors below;
- floor: what any reload that notices an edited file must do, done as plainly as possible:
  ``os.scandir`` of every folder below the data folder, ``os.stat`` of every file, and
  ``np.load`` of the cache entry's pixel array (read whole); the cached target is at most 1.5x
  this floor (issue 23). It is timed twice per repeat, alternating with the cached load; the
  loader stats a file by its name relative to its open folder
  (``os.stat(name, dir_fd=...)``), which costs the system less than ``os.stat(path)``: the
  same floor done that way is printed too, so that the ratio is also given against it;
- peak memory: the largest Python/NumPy heap of this process (tracemalloc) while loading cold
  and turning the pixels into the float32 X (n_x, m) the network trains on, divided by the size
  of that X. Each worker process holds one chunk of at most 1024 images at a time.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_nn.data.dataset import prepare_image_data
from desktop_nn.data.image_folder import LoadOptions, load_image_folder, scan_folder


def serial_pillow(paths: list[str], shape: tuple[int, int], color: str) -> np.ndarray:
    """The reference: decode ``paths`` one after the other -> (m, n_x) uint8."""
    h, w = shape
    mode = "L" if color == "gray" else "RGB"
    out = np.empty((len(paths), h * w * (1 if mode == "L" else 3)), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as img:
            img = img.convert(mode)
            if img.size != (w, h):
                img = img.resize((w, h))
            out[i] = np.asarray(img).reshape(-1)
    return out


def floor(folder: str, entry: Path) -> int:
    """The floor of a cached reload: list every folder, stat every file, read the entry's
    pixel array once -> the number of files stat'ed."""
    n, stack = 0, [folder]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir():
                    stack.append(e.path)
                else:
                    os.stat(e.path)
                    n += 1
    with np.load(entry, allow_pickle=False) as z:
        z["pixels"]
    return n


def floor_dir_fd(folder: str, entry: Path) -> int:
    """:func:`floor` with each file stat'ed by name relative to its open folder (POSIX)."""
    n, stack = 0, [folder]
    while stack:
        d = stack.pop()
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_dir():
                        stack.append(e.path)
                    else:
                        os.stat(e.name, dir_fd=fd)
                        n += 1
        finally:
            os.close(fd)
    with np.load(entry, allow_pickle=False) as z:
        z["pixels"]
    return n


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="image folder, e.g. /tmp/mnist/train")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None,
                        help="decoding processes (default: one per core)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    scan = scan_folder(args.folder)
    paths = scan.paths
    with tempfile.TemporaryDirectory() as tmp:
        # discarded pass: warms the OS file cache and finds the size and colour
        first = load_image_folder(args.folder, LoadOptions(workers=args.workers),
                                  cache_dir=Path(tmp) / "warm")
        shape, color = first.input_shape[:2], first.color
        del first

        serial, cold, cached, floors, floors_fd = [], [], [], [], []
        for r in range(args.repeats):
            t, ref = timed(lambda: serial_pillow(paths, shape, color))
            serial.append(t)
            load = functools.partial(load_image_folder, args.folder,
                                     LoadOptions(workers=args.workers),
                                     cache_dir=Path(tmp) / f"run{r}")
            t, data = timed(load)
            cold.append(t)
            t, again = timed(load)
            cached.append(t)
            assert again.from_cache and not data.from_cache
            (entry,) = (Path(tmp) / f"run{r}").glob("*.npz")
            # The floor and the cached load alternate, so that the best of each comes from
            # the same state: whatever runs first after a cold load is slowed (on 2 cores)
            # by the worker processes still exiting.
            for _ in range(2):
                t, _ = timed(functools.partial(floor, args.folder, entry))
                floors.append(t)
                if os.stat in os.supports_dir_fd:
                    t, _ = timed(functools.partial(floor_dir_fd, args.folder, entry))
                    floors_fd.append(t)
                t, again = timed(load)
                cached.append(t)
            if not data.skipped and not np.array_equal(data.pixels, ref):
                raise SystemExit("desktop-nn and the serial loop decoded different pixels")
            del ref, data, again

        tracemalloc.start()
        data = load_image_folder(args.folder, LoadOptions(workers=args.workers),
                                 cache_dir=Path(tmp) / "memory")
        prepared = prepare_image_data(data, val_split=0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        x_bytes = prepared.train.X.nbytes

    result = {
        "folder": str(args.folder), "images": len(paths), "input_shape": list(data.input_shape),
        "cpu_count": os.cpu_count(), "workers": args.workers or os.cpu_count(),
        "repeats": args.repeats,
        "serial_s": min(serial), "cold_s": min(cold), "cached_s": min(cached),
        "cold_speedup_vs_serial": min(serial) / min(cold),
        "cached_speedup_vs_cold": min(cold) / min(cached), "floor_s": min(floors),
        "cached_over_floor": min(cached) / min(floors),
        "floor_dir_fd_s": min(floors_fd) if floors_fd else None,
        "cached_over_floor_dir_fd": min(cached) / min(floors_fd) if floors_fd else None,
        "peak_bytes": peak, "X_bytes": x_bytes, "peak_over_X": peak / x_bytes,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    mb = 2.0**20
    print(f"{result['images']} images {data.input_shape}, {result['workers']} workers, "
          f"best of {args.repeats}")
    print(f"  serial Pillow loop  {result['serial_s']:7.2f} s")
    print(f"  desktop-nn cold     {result['cold_s']:7.2f} s   "
          f"{result['cold_speedup_vs_serial']:.2f}x the serial loop")
    print(f"  desktop-nn cached   {result['cached_s']:7.2f} s   "
          f"{result['cached_speedup_vs_cold']:.1f}x faster than cold, "
          f"{result['cached_over_floor']:.2f}x the floor")
    print(f"  floor (list, stat, read the entry's pixels) {result['floor_s']:7.2f} s")
    if floors_fd:
        print(f"  the floor stat'ing by name in the folder    {result['floor_dir_fd_s']:7.2f} s"
              f"   cached is {result['cached_over_floor_dir_fd']:.2f}x this")
    print(f"  peak memory         {peak / mb:7.1f} MB   {result['peak_over_X']:.2f}x the final X "
          f"({x_bytes / mb:.1f} MB float32)")
    return 0


if __name__ == "__main__":  # the guard that worker processes ("spawn") need
    sys.exit(main())
