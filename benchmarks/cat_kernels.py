"""The cat recipes under each OpenBLAS kernel: PASS / MISS per kernel (issue 23).

OpenBLAS picks its kernel (the code that does the matrix products) for the CPU when it loads;
``OPENBLAS_CORETYPE`` forces one. It is read once, when NumPy loads OpenBLAS, so every run
here is a subprocess started with the variable already set:

    OPENBLAS_NUM_THREADS=1 python benchmarks/cat_kernels.py                # float64 (the recipes')
    OPENBLAS_NUM_THREADS=1 python benchmarks/cat_kernels.py --dtype float32

For each kernel (the default one, then Haswell, SkylakeX and Zen) it first asks OpenBLAS which
kernel it really uses (``openblas_get_corename``: a build without a kernel falls back to
another, e.g. Zen to Haswell), then runs ``python -m desktop_nn reproduce NAME --json`` for each
cat recipe and prints every figure with PASS / MISS. A kernel whose instructions this CPU lacks
(read from /proc/cpuinfo: Haswell and Zen need AVX2 and FMA, SkylakeX AVX-512) is not run: it
would stop on an illegal instruction. Exit 0 when every run passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

KERNELS = ("default", "Haswell", "SkylakeX", "Zen")
RECIPES = ("cat-2layer", "cat-4layer")
CPUINFO = Path("/proc/cpuinfo")
# the CPU flags (as /proc/cpuinfo spells them) each forced kernel executes
NEEDS = {"Haswell": {"avx2", "fma"}, "Zen": {"avx2", "fma"},
         "SkylakeX": {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}}

_CORENAME = """
import ctypes, glob, os, numpy
names = ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
         "openblas_get_corename64_", "openblas_get_corename")
here = os.path.dirname(numpy.__file__)
for lib in glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*")) + \\
        glob.glob(os.path.join(here, ".libs", "*openblas*")):
    h = ctypes.CDLL(lib)
    for n in names:
        f = getattr(h, n, None)
        if f is not None:
            f.restype = ctypes.c_char_p
            print(f().decode())
            raise SystemExit(0)
print("?")
"""


def cpu_flags(cpuinfo: str) -> set[str]:
    """The flags of the first CPU in a /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def runnable(kernel: str, flags: set[str]) -> tuple[bool, str]:
    """Whether this CPU can run ``kernel`` (and, if not, the missing flags)."""
    missing = NEEDS.get(kernel, set()) - flags
    return (not missing, "missing " + ", ".join(sorted(missing)) if missing else "")


def _env(kernel: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if kernel != "default":
        env["OPENBLAS_CORETYPE"] = kernel
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def corename(kernel: str) -> str:
    out = subprocess.run([sys.executable, "-c", _CORENAME], env=_env(kernel),
                         capture_output=True, text=True)
    return out.stdout.strip() or f"? ({out.stderr.strip().splitlines()[-1:]})"


def run_one(kernel: str, recipe: str, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "desktop_nn", "reproduce", recipe, "--json", "--quiet",
           *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=_env(kernel), capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        return {"recipe": recipe, "error": (proc.stderr.strip().splitlines() or
                                            [f"exit {proc.returncode}"])[-1]}
    rep = json.loads(proc.stdout)
    rep["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return rep


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=KERNELS)
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="default: the recipes' (float64)")
    p.add_argument("--epochs", type=int, default=None, help="a quick check (figures then MISS)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", metavar="FILE", default=None, help="also write every report here")
    args = p.parse_args(argv)
    extra: list[str] = []
    for opt, val in (("--dtype", args.dtype), ("--epochs", args.epochs),
                     ("--data-dir", args.data_dir)):
        if val is not None:
            extra += [opt, str(val)]
    try:
        flags = cpu_flags(CPUINFO.read_text())
    except OSError:
        flags = set()
    print(f"CPU flags: {' '.join(sorted(f for f in flags if f.startswith(('avx', 'fma'))))}")
    ok, results = True, []
    for kernel in args.kernels:
        can, why = runnable(kernel, flags)
        if not can:
            print(f"{kernel}: not run, this CPU cannot ({why})")
            results.append({"kernel": kernel, "skipped": why})
            continue
        core = corename(kernel)
        print(f"{kernel}: OpenBLAS uses the {core} kernel", flush=True)
        for recipe in args.recipes:
            rep = run_one(kernel, recipe, extra)
            rep.update(kernel=kernel, corename=core)
            results.append(rep)
            if "error" in rep:
                ok = False
                print(f"  {recipe}: ERROR {rep['error']}")
                continue
            ok = ok and rep["pass"]
            figs = rep["networks"][0]["figures"]
            print(f"  {recipe} ({rep['dtype']}): {'PASS' if rep['pass'] else 'MISS'}  " +
                  ", ".join(f"{f['label']} {f['measured']:.4f} {f['result']}"
                            if f["measured"] is not None else f"{f['label']} - n/a"
                            for f in figs) + f"  ({rep['wall_seconds']} s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results))
    print("all PASS" if ok else "some MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
