"""The floors under loading an image folder on this machine, for docs/benchmarks.md:

- listing every file (os.scandir of each class folder) and stat'ing every file: what any
  reload that must notice an edited file pays before it reads a byte of its cache;
- a plain decoding loop (Image.open, convert, np.asarray) over N files in one process against
  the same loop split between two processes: how far two cores scale at best.

    python benchmarks/folder_costs.py /tmp/mnist/train --decode 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image


def list_files(root: str) -> list[str]:
    out = []
    for d in sorted(os.scandir(root), key=lambda e: e.name):
        if d.is_dir():
            out += [e.path for e in os.scandir(d.path)]
    return out


def decode(paths: list[str]) -> float:
    t0 = time.perf_counter()
    for p in paths:
        with Image.open(p) as img:
            np.asarray(img.convert("L"))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--decode", type=int, default=20000, help="files for the decoding test")
    args = ap.parse_args(argv)
    list_files(args.folder)  # warm the OS caches
    t0 = time.perf_counter()
    files = list_files(args.folder)
    listed = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in files:
        os.stat(f)
    stated = time.perf_counter() - t0
    print(f"{len(files)} files: listing {listed:.2f} s, stat of every file {stated:.2f} s "
          f"({stated / len(files) * 1e6:.1f} us per file)")
    sample = files[:: max(1, len(files) // args.decode)][: args.decode]
    decode(sample[:200])
    one = decode(sample)
    half = len(sample) // 2
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(decode, [sample[:50], sample[50:100]]))  # start both processes
        t0 = time.perf_counter()
        list(pool.map(decode, [sample[:half], sample[half:]]))
        two = time.perf_counter() - t0
    print(f"decoding {len(sample)} files: one process {one:.2f} s, two processes {two:.2f} s "
          f"= {one / two:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
