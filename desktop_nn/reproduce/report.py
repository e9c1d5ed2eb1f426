"""``desktop-nn reproduce`` on the command line: its arguments, the report printed for a run
(each published figure beside the measured one with PASS or MISS), and :func:`run_reproduce`,
which runs the recipes asked for and gives the exit code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from desktop_nn.io.project_settings import EPOCHS_RANGE, SEED_RANGE
from desktop_nn.nn.init import INITS
from desktop_nn.nn.network import DTYPES
from desktop_nn.reproduce.data import DATA_ENV, default_data_dir, default_work_dir
from desktop_nn.reproduce.recipes import RECIPES, WEIGHTS, ReproduceError
from desktop_nn.reproduce.run import run_recipe


def _fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "percent":
        return f"{100 * value:.2f} %"
    if unit == "fraction":
        return f"{value:.3f}"
    if unit == "cost":
        return f"{value:.4f}"
    if unit == "norms":
        return ", ".join(f"{v:.3g}" for v in value)
    if unit == "ratio":
        return f"{value:.3g}"
    return str(value)


def _tolerance(f: dict) -> str:
    if f["check"] == "order":
        return "same order"
    if f["check"] == "factor":
        return f"within x{f['tolerance']:g}"
    if f["unit"] == "percent":
        return f"± {100 * f['tolerance']:.2f} pts"
    return f"± {f['tolerance']:g}"


def format_report(rep: dict) -> str:
    lines = [f"{rep['recipe']}: {rep['title']} ({rep['source']})",
             f"  {rep['setup']}",
             f"  seed {rep['seed']}, {rep['dtype']}, initial weights: {rep['initial_weights']}" +
             (f"; NOT THE RECIPE'S SETUP: {', '.join(rep['overridden'])}"
              if rep["overridden"] else ""),
             f"  data: {rep['data']}: " + ", ".join(f"{n} {s}" for s, n in
                                                    rep["examples"].items() if n)]
    for note in rep["data_notes"]:
        lines.append(f"  note: {note}")
    if rep["note"]:
        lines.append(f"  note: {rep['note']}")
    header = ("network", "figure", "published", "measured", "tolerance", "result")
    table = []
    for row in rep["networks"]:
        for f in row["figures"]:
            measured = _fmt(f["measured"], f["unit"])
            info = row["info"]
            if f["key"] == "peak_accuracy" and "best_epoch" in info:
                measured += (f" (epoch {info['best_epoch']}; final "
                             f"{_fmt(info['final_accuracy'], 'percent')})")
            elif f["key"] == "final_accuracy" and "best_epoch" in info:
                measured += (f" (peak {_fmt(info['best_accuracy'], 'percent')} at epoch "
                             f"{info['best_epoch']})")
            table.append((str(row["network"]).replace(" ", ""), f["label"],
                          _fmt(f["published"], f["unit"]), measured, _tolerance(f),
                          f["result"]))
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for r in [header, *table]:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     .rstrip())
    for row in rep["networks"]:
        if "test_accuracy" in row["info"] and not any(
                f["key"] == "test_accuracy" for f in row["figures"]):
            lines.append(f"  {str(row['network']).replace(' ', '')}: test accuracy after the "
                         f"last epoch {_fmt(row['info']['test_accuracy'], 'percent')}")
    train_s = sum(r["seconds"] for r in rep["networks"])
    verdict = "all PASS" if rep["pass"] else "some MISS"
    lines.append(f"  {verdict}; {rep['seconds']:.1f} s in all (loading {rep['load_seconds']:.1f}"
                 f" s, training / measuring {train_s:.1f} s) on {rep['device']}")
    lines.append(f"  machine: {rep['machine']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- CLI
def _whole(lo: int, hi: int):
    """An argparse type: a whole number in [lo, hi] (argparse names the option), checked
    before anything is loaded."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, got {text}")
        return value

    parse.__name__ = "whole number"
    return parse


def _folder(text: str) -> Path:
    """An argparse type: a folder's name; '' (which would mean the current folder) refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty folder name; name a folder")
    return Path(text)


def add_reproduce_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", nargs="?", choices=[*RECIPES, "all"],
                   help="recipe: " + ", ".join(RECIPES) + ", or all (one after another)")
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    p.add_argument("--data-dir", metavar="DIR", type=_folder, default=None,
                   help=f"the shared data folder with mnist/ and catvnoncat/ (default "
                   f"${DATA_ENV}, else ../shared/data beside the repository)")
    p.add_argument("--work", metavar="DIR", type=_folder, default=None,
                   help="where the MNIST image folders are built and reused (default: "
                   "$DESKTOP_NN_CACHE_DIR/reproduce, else the user cache dir's "
                   "desktop-nn/reproduce)")
    p.add_argument("--seed", type=_whole(*SEED_RANGE), default=0,
                   help="seeds the initial weights and the shuffling (default 0; the "
                   f"window's range, {SEED_RANGE[0]} to {SEED_RANGE[1]})")
    p.add_argument("--epochs", type=_whole(0, EPOCHS_RANGE[1]), default=None,
                   help="override the recipe's epochs (iterations for full batch) for a "
                   "quick check; the figures are then not comparable (0: the cost at "
                   f"initialisation only; at most {EPOCHS_RANGE[1]:,})")
    p.add_argument("--init", choices=INITS, default=None,
                   help="override the recipe's weight initialisation (an experiment)")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="override the recipe's dtype (float32, as the app)")
    p.add_argument("--weights", choices=WEIGHTS, default=None,
                   help="initial weights: course = the course notebook's own draw "
                   "(np.random.seed(1), its layer order, its pixel order; the cat recipes' "
                   "default, since their published costs depend on it), seeded = the app's "
                   "initialiser seeded by --seed (every other recipe's default)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run_reproduce(args: argparse.Namespace) -> int:
    """Exit 0 when every figure passes, 1 when one misses, 2 on unusable input."""
    if args.list or not args.name:
        for r in RECIPES.values():
            print(f"{r.name:<22} {r.title} ({r.source})")
        return 0 if args.list else 2
    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    names = list(RECIPES) if args.name == "all" else [args.name]
    data_dir = (args.data_dir or default_data_dir()).expanduser()
    work_dir = (args.work or default_work_dir()).expanduser()
    reports = []
    try:
        for name in names:
            log(f"{name}: running")
            rep = run_recipe(RECIPES[name], data_dir, work_dir, args.seed, args.epochs,
                             args.device, args.init, args.dtype,
                             weights=args.weights, log=log)
            reports.append(rep)
            if not args.json:
                print(format_report(rep), flush=True)
    except ReproduceError as exc:
        print(f"desktop-nn: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = reports[0] if len(reports) == 1 else {"recipes": reports,
                                                     "pass": all(r["pass"] for r in reports)}
        print(json.dumps(out))
    return 0 if all(r["pass"] for r in reports) else 1
