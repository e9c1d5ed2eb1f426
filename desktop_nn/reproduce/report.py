"""``desktop-nn reproduce`` on the command line: its arguments, the report printed for a run
(each published figure beside the measured one with PASS or MISS), and :func:`run_reproduce`,
which runs the recipes asked for and gives the exit code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from desktop_nn.arg_types import whole_number
from desktop_nn.io.project_settings import EPOCHS_RANGE, SEED_RANGE
from desktop_nn.nn.init import INITS
from desktop_nn.nn.network import DTYPES
from desktop_nn.reproduce.data import DATA_ENV, default_data_dir, default_work_dir
from desktop_nn.reproduce.recipes import RECIPES, WEIGHTS, ReproduceError
from desktop_nn.reproduce.run import run_recipe
from desktop_nn.reproduce.seeds import run_seeds

SEEDS_RANGE = (1, 100)  # --seeds


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


def _tolerance_seeds(f: dict) -> str:
    return f"{f['statistic']} {_tolerance(f)}"


def format_seeds_report(rep: dict) -> str:
    """The report of :func:`run_seeds`: each figure's mean (or median), min, max and how many
    seeds are within the tolerance on their own; the stuck share where the recipe has one."""
    seeds = rep["seeds"]
    span = f"seeds {seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"
    judged = f"judged on the {rep['statistic']} over the seeds"
    if rep["first_seed_judged"]:
        judged += f" and on seed {seeds[0]} alone"
    lines = [f"{rep['recipe']}: {rep['title']} ({rep['source']})",
             f"  {rep['setup']}",
             f"  {span} ({len(seeds)} runs, {judged}), {rep['dtype']}, initial weights: "
             f"{rep['initial_weights']}" +
             (f"; NOT THE RECIPE'S SETUP: {', '.join(rep['overridden'])}"
              if rep["overridden"] else ""),
             f"  data: {rep['data']}: " + ", ".join(f"{n} {s}" for s, n in
                                                    rep["examples"].items() if n)]
    lines += [f"  note: {n}" for n in [*rep["data_notes"], rep["note"]] if n]
    header = ("network", "figure", "published", rep["statistic"], "min", "max", "within",
              "tolerance", "result")
    table = []
    for row in rep["networks"]:
        for f in row["figures"]:
            within = f"{f['within']} of {f['n']}"
            if rep["first_seed_judged"]:
                within += f" (seed {seeds[0]} {f['first']})"
            table.append((str(row["network"]).replace(" ", ""), f["label"],
                          _fmt(f["published"], f["unit"]), _fmt(f["center"], f["unit"]),
                          _fmt(f["min"], f["unit"]), _fmt(f["max"], f["unit"]), within,
                          _tolerance(f), f["result"]))
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for r in [header, *table]:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     .rstrip())
    for row in rep["networks"]:
        net = str(row["network"]).replace(" ", "")
        for f in row["figures"]:
            if f["unit"] != "norms":
                lines.append(f"  {net} {f['label']} per seed: " + ", ".join(
                    f"{s}: {_fmt(v, f['unit'])}" for s, v in zip(seeds, f["values"],
                                                                   strict=True)))
        if "stuck" in row:
            st = row["stuck"]
            share = "-" if st["share"] is None else f"{100 * st['share']:.0f} %"
            lines.append(f"  {net} stuck (peak below {100 * st['below']:.0f} %): "
                         f"{st['stuck']} of {st['n']} seeds ({share})")
    verdict = "all PASS" if rep["pass"] else "some MISS"
    lines.append(f"  {verdict}; {rep['seconds']:.1f} s in all on {rep['device']}")
    lines.append(f"  machine: {rep['machine']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- CLI
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
    p.add_argument("--seed", type=whole_number(*SEED_RANGE), default=0,
                   help="seeds the initial weights and the shuffling (default 0; the "
                   f"window's range, {SEED_RANGE[0]} to {SEED_RANGE[1]})")
    p.add_argument("--seeds", metavar="N", type=whole_number(*SEEDS_RANGE), default=None,
                   help="run seeds --seed, --seed + 1, ... (N runs) and judge each figure on "
                   "their mean (the gradients: median, and the first seed alone too); default: "
                   "the recipe's (5 for the MNIST accuracy recipes, 20 initialisations for "
                   f"nielsen-ch5-gradients, 1 for the cat recipes); {SEEDS_RANGE[0]} to "
                   f"{SEEDS_RANGE[1]}")
    p.add_argument("--epochs", type=whole_number(0, EPOCHS_RANGE[1]), default=None,
                   help="override the recipe's epochs (iterations for full batch) for a "
                   "quick check; the figures are then not comparable (0: the cost at "
                   f"initialisation only; at most {EPOCHS_RANGE[1]:,})")
    p.add_argument("--init", choices=INITS, default=None,
                   help="override the recipe's weight initialisation (an experiment)")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="override the recipe's dtype (float64 for the cat recipes, as the "
                   "course's NumPy code: their float32 figures depend on OpenBLAS's kernel; "
                   "float32, the app's, for the MNIST recipes)")
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
            recipe = RECIPES[name]
            n = args.seeds or recipe.seeds
            if n == 1:
                rep = run_recipe(recipe, data_dir, work_dir, args.seed, args.epochs,
                                 args.device, args.init, args.dtype,
                                 weights=args.weights, log=log)
            else:
                if args.seed + n - 1 > SEED_RANGE[1]:
                    raise ReproduceError(f"--seed {args.seed} with --seeds {n} runs past the "
                                         f"largest seed, {SEED_RANGE[1]}")
                rep = run_seeds(recipe, data_dir, work_dir,
                                list(range(args.seed, args.seed + n)), args.epochs,
                                args.device, args.init, args.dtype, weights=args.weights,
                                log=log)
            reports.append(rep)
            if not args.json:
                print(format_seeds_report(rep) if "seeds" in rep else format_report(rep),
                      flush=True)
    except ReproduceError as exc:
        print(f"desktop-nn: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = reports[0] if len(reports) == 1 else {"recipes": reports,
                                                     "pass": all(r["pass"] for r in reports)}
        print(json.dumps(out))
    return 0 if all(r["pass"] for r in reports) else 1
