"""Command line: desktop-nn [gui] | train | inspect-data | predict | gradcheck | bench |
reproduce.

Exit codes: 0 success; 1 a check failed (gradcheck above tolerance), training stopped on
NaN/inf, or an image could not be predicted; 2 bad arguments or unusable input (the message
names the file and the problem).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Sequence

import numpy as np

from desktop_nn import __version__
from desktop_nn.backend import BackendError, select_backend
from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS
from desktop_nn.nn.costs import VALID_PAIRS
from desktop_nn.nn.gradcheck import TOLERANCE as GRADCHECK_TOLERANCE
from desktop_nn.nn.init import BIAS_INITS, INITS
from desktop_nn.nn.network import DTYPES, Network, NetworkSpec
from desktop_nn.nn.optimizers import OPTIMIZERS


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def _int_list(text: str) -> list[int]:
    if not text.strip():
        return []
    try:
        return [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") \
            from None


def _name_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _add_network_args(p: argparse.ArgumentParser, default_output: str | None,
                      default_bias_init: str = "zeros") -> None:
    g = p.add_argument_group("network")
    g.add_argument("--layers", type=_int_list, default=None,
                   help="hidden layer sizes, comma separated (e.g. 30 or 20,7,5; '' for none)")
    g.add_argument("--activations", type=_name_list, default=None,
                   help="hidden activations, one or one per layer: "
                   + ", ".join(HIDDEN_ACTIVATIONS))
    g.add_argument("--output", default=default_output, choices=sorted(VALID_PAIRS),
                   help="output activation (default: sigmoid for 2 classes, softmax for more)")
    g.add_argument("--cost", default="cross-entropy", choices=["cross-entropy", "quadratic"])
    g.add_argument("--init", default="he", choices=INITS)
    g.add_argument("--bias-init", default=default_bias_init, choices=BIAS_INITS,
                   help=f"bias initialisation (default {default_bias_init})")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    g.add_argument("--dtype", default=None, choices=DTYPES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desktop-nn",
        description="See how neural networks learn: hand-written backprop on NumPy / CuPy.",
        epilog="Run 'desktop-nn COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"desktop-nn {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="start the app offscreen, train one epoch on the bundled sample "
                        "on the available device, check the plots got the data, and report "
                        "in one line (exit 0 when it works)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a network on an image folder, 'sample' or an .npz",
                       description="Train a fully-connected network. DATA is a folder of images "
                       "with one subfolder per class (or train/ and test/ folders holding "
                       "those), 'sample' for the bundled MNIST digits, or an .npz with X "
                       "(n_x, m) and Y, or X_train/Y_train[/X_val/Y_val][/X_test/Y_test].")
    t.add_argument("data", metavar="DATA")
    _add_network_args(t, default_output=None)
    _add_image_args(t)
    t.add_argument("--test-dir", metavar="DIR", default=None,
                   help="a folder of test images (same classes), decoded like the training data")
    t.add_argument("--normalise", choices=["scale", "standardise"], default="scale",
                   help="pixels / 255 (default), or standardised with training-set statistics")
    g = t.add_argument_group("training")
    g.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    g.add_argument("--lr", type=float, default=0.1, help="learning rate")
    g.add_argument("--epochs", type=int, default=10)
    g.add_argument("--batch-size", type=int, default=64, help="0 = full batch")
    g.add_argument("--l2", type=float, default=0.0,
                   help="L2 strength lambda; the cost gains lambda/(2n) sum ||W||^2")
    g.add_argument("--val-split", type=float, default=0.1,
                   help="share of training data held out for validation when DATA has no X_val")
    g.add_argument("--no-shuffle", action="store_true", help="keep the examples in file order")
    g.add_argument("--patience", type=int, default=0, help="early stopping (0 = off)")
    g.add_argument("--report-every", type=int, default=10, help="steps between diagnostics")
    o = t.add_argument_group("output")
    o.add_argument("--save", metavar="MODEL.npz", help="save the trained model here")
    o.add_argument("--metrics", metavar="FILE.jsonl", help="write the run history as JSON lines")
    o.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    o.add_argument("--quiet", action="store_true", help="no progress on stderr")

    c = sub.add_parser("gradcheck", help="check backprop against finite differences",
                       description="Compare backprop gradients with two-sided finite "
                       "differences (float64) on a small random problem; exit 1 if any "
                       f"layer's relative error exceeds {GRADCHECK_TOLERANCE:g}.")
    # Random biases keep ReLU pre-activations off their kink at exactly 0 (see gradcheck.py).
    _add_network_args(c, default_output="sigmoid", default_bias_init="normal")
    c.add_argument("--inputs", type=int, default=4, help="n_x of the random problem")
    c.add_argument("--outputs", type=int, default=None, help="output units (default 1, or 3 "
                   "for softmax)")
    c.add_argument("--examples", type=int, default=6, help="m of the random problem")
    c.add_argument("--l2", type=float, default=0.0)
    c.add_argument("--order", type=int, default=4, choices=[2, 4],
                   help="2: (J(+eps) - J(-eps)) / 2eps as in the notes; 4: the symmetric "
                   "five-point stencil, far less rounding on tiny gradients (default)")
    c.add_argument("--eps", type=float, default=None,
                   help="finite-difference step (default 1e-5 for order 2, 1e-4 for order 4)")
    c.add_argument("--all", action="store_true",
                   help="check every hidden activation x output x cost combination")
    c.add_argument("--json", action="store_true")

    d = sub.add_parser("inspect-data", help="what an image folder holds and how it will load",
                       description="Load an image folder as training would and report classes, "
                       "counts, sizes and modes seen, the input shape and n_x, and every "
                       "skipped file with the reason.")
    d.add_argument("folder", metavar="DIR", help="image folder, or 'sample'")
    _add_image_args(d)
    d.add_argument("--json", action="store_true", help="print one JSON object")

    pr = sub.add_parser("predict", help="classify image files with a saved model",
                        description="Print each image's class and probabilities, the image "
                        "preprocessed exactly as the model's training data.")
    pr.add_argument("model", metavar="MODEL.npz")
    pr.add_argument("images", metavar="IMAGE", nargs="+")
    pr.add_argument("--top", type=int, default=3, help="probabilities shown per image")
    pr.add_argument("--device", default="cpu", choices=["auto", "cpu", "gpu"])
    pr.add_argument("--json", action="store_true", help="print one JSON object")

    b = sub.add_parser("bench", help="time training against a reference (PyTorch) in one run")
    from desktop_nn.bench import add_bench_arguments

    add_bench_arguments(b)
    r = sub.add_parser("reproduce", help="re-measure a published result (Nielsen, the course)",
                       description="Train a published network on the real data through the "
                       "app's own loader and trainer, and print each published figure beside "
                       "the measured one with PASS or MISS (exit 1 on a MISS).")
    from desktop_nn.reproduce import add_reproduce_arguments

    add_reproduce_arguments(r)
    gui = sub.add_parser("gui", help="start the desktop app (the default with no command)")
    gui.add_argument("data", nargs="?", default=None,
                     help="image folder to open (default: the last one, or the sample)")
    return parser


# ---------------------------------------------------------------------------- gradcheck
def _gradcheck_case(hidden: list[int], acts: list[str], output: str, cost: str, args
                    ) -> dict:
    from desktop_nn.nn.gradcheck import gradcheck

    n_out = args.outputs or (3 if output == "softmax" else 1)
    spec = NetworkSpec(args.inputs, hidden, acts or ["tanh"], n_out, output, cost, args.init,
                       args.bias_init)
    net = Network(spec, select_backend("cpu"), dtype="float64", seed=args.seed)
    rng = np.random.default_rng(args.seed + 1)
    X = rng.standard_normal((args.inputs, args.examples))
    if output == "softmax":
        Y = np.eye(n_out)[:, rng.integers(0, n_out, args.examples)]
    elif output == "sigmoid":
        Y = rng.integers(0, 2, (n_out, args.examples)).astype(np.float64)
    else:
        Y = rng.standard_normal((n_out, args.examples))
    eps = args.eps or (1e-5 if args.order == 2 else 1e-4)
    checks = gradcheck(net, X, Y, l2=args.l2, n=max(args.examples, 1) * 2, eps=eps,
                       order=args.order)
    worst = max(c.relative_error for c in checks)
    return {"hidden": hidden, "activations": spec.hidden_activations, "output": output,
            "cost": cost, "errors": [c.relative_error for c in checks], "worst": worst,
            "kinks": sum(c.kinks for c in checks), "ok": worst <= GRADCHECK_TOLERANCE}


def cmd_gradcheck(args) -> int:
    hidden = args.layers if args.layers is not None else [5, 4]
    if args.all:
        cases = [(hidden, [a] * len(hidden), out, cost)
                 for a, (out, costs) in itertools.product(HIDDEN_ACTIVATIONS, VALID_PAIRS.items())
                 for cost in costs]
    else:
        acts = args.activations or ["tanh"]
        cases = [(hidden, acts, args.output, args.cost)]
    rows = []
    for h, acts, out, cost in cases:
        try:
            rows.append(_gradcheck_case(h, acts, out, cost, args))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    ok = all(r["ok"] for r in rows)
    if args.json:
        print(json.dumps({"tolerance": GRADCHECK_TOLERANCE, "ok": ok, "cases": rows}))
    else:
        print(f"{'hidden':<12} {'activations':<22} {'output':<8} {'cost':<14} "
              f"{'worst rel. error':>16}  per layer")
        for r in rows:
            per = " ".join(f"{e:.1e}" for e in r["errors"])
            mark = "ok" if r["ok"] else "FAIL"
            print(f"{','.join(map(str, r['hidden'])) or '-':<12} "
                  f"{','.join(r['activations']) or '-':<22} {r['output']:<8} {r['cost']:<14} "
                  f"{r['worst']:>16.2e}  {per}  {mark}")
        print(f"{sum(r['ok'] for r in rows)} of {len(rows)} within {GRADCHECK_TOLERANCE:g}")
        if any(r["kinks"] and not r["ok"] for r in rows):
            print("note: some ReLU pre-activations sit within eps of the kink at 0, where finite "
                  "differences are not the derivative; try --bias-init normal or another --seed")
    return 0 if ok else 1


# ---------------------------------------------------------------------------- train
class _Progress:
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def step(self, report) -> None:
        if not self.enabled or not self.tty:
            return
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        frac = report.step / max(report.total_steps, 1)
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r[{bar:<30}] epoch {report.epoch} step {report.step}/"
                         f"{report.total_steps} cost {report.batch_cost:.4f} "
                         f"{report.examples_per_s:,.0f} ex/s")
        sys.stderr.flush()

    def epoch(self, report) -> None:
        if not self.enabled:
            return
        val = "" if math.isnan(report.val_cost) else \
            f"  val cost {report.val_cost:.4f} acc {report.val_accuracy:.2%}"
        sys.stderr.write(("\r" if self.tty else "") + f"epoch {report.epoch:>3}: train cost "
                         f"{report.train_cost:.4f} acc {report.train_accuracy:.2%}{val}"
                         f"  ({report.seconds:.1f} s){' ' * 10}\n")
        sys.stderr.flush()


class _LoadProgress:
    """'loading images 1200/60000' on stderr (a terminal only), at most 10 times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        sys.stderr.write(f"\rloading images {done}/{total}" + ("\n" if done >= total else ""))
        sys.stderr.flush()


def _load_options(args):
    from desktop_nn.data.image_folder import LoadOptions, parse_image_size

    try:
        size = parse_image_size(args.image_size) if args.image_size else None
        return LoadOptions(image_size=size, resize=args.resize, color=args.color,
                           use_cache=not args.no_cache)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _add_image_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("images (when DATA is a folder)")
    g.add_argument("--image-size", metavar="WxH", default=None,
                   help="resize every image to this size (default: the most common size)")
    g.add_argument("--color", choices=["gray", "rgb"], default=None,
                   help="default: gray when every image is grayscale, else rgb")
    g.add_argument("--resize", choices=["stretch", "fit"], default="stretch",
                   help="fit keeps the aspect ratio and pads with black")
    g.add_argument("--no-cache", action="store_true", help="decode again, ignoring the cache")


def cmd_train(args) -> int:
    from desktop_nn.data.sources import DataFileError, FolderError, load_training_data
    from desktop_nn.io.model_file import save_model
    from desktop_nn.train.trainer import TrainConfig, summary
    from desktop_nn.workbench import RunRequest, Workbench, model_file

    try:
        loaded = load_training_data(args.data, _load_options(args), args.val_split, args.seed,
                                    args.normalise, args.test_dir,
                                    progress=_LoadProgress(not args.quiet))
    except (DataFileError, FolderError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    data = loaded.prepared
    train, val = data.train, data.val
    n_out = train.Y.shape[0]
    output = args.output or ("sigmoid" if n_out == 1 else "softmax")
    hidden = args.layers if args.layers is not None else [30]
    progress = _Progress(enabled=not args.quiet)
    workbench = Workbench(on_step=progress.step, on_epoch=progress.epoch)
    try:
        spec = NetworkSpec(train.n_x, hidden, args.activations or ["relu"], n_out, output,
                           args.cost, args.init, args.bias_init)
        config = TrainConfig(lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                             optimizer=args.optimizer, l2=args.l2, seed=args.seed,
                             shuffle=not args.no_shuffle, report_every=args.report_every,
                             patience=args.patience)
        request = RunRequest(spec, config, args.dtype or "float32", args.device, data)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    def say(text: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"{text}\n")

    def run_made(trainer, new_run: bool) -> None:
        if not new_run:
            return
        for note in loaded.notes:
            say(f"note: {note}")
        if loaded.folder is not None and loaded.folder.skipped:
            say(f"skipped {len(loaded.folder.skipped)} files "
                f"(desktop-nn inspect-data {args.data} lists them)")
        shape = "" if data.input_shape is None else " of {}x{}x{}".format(*data.input_shape)
        say(f"device: {trainer.network.backend.label}\nnetwork: {spec.sizes} "
            f"{spec.activations} cost {spec.cost}, {spec.parameter_count():,} parameters; "
            f"{train.m} training, {val.m if val else 0} validation examples{shape}")
        if trainer.streaming:
            say("the data set does not fit on the GPU: it stays in host memory and each "
                "mini-batch is copied over")

    problems: list[str] = []
    workbench.events.run_made.connect(run_made)
    workbench.events.notice.connect(say)
    workbench.events.not_made.connect(lambda message, refused: problems.append(message))
    workbench.events.failed.connect(problems.append)
    try:
        workbench.start(request)  # blocks until trained (or moved to the CPU and trained)
    except (ValueError, BackendError) as exc:
        raise UsageError(str(exc)) from None
    trainer, result = workbench.trainer, workbench.last_result
    if trainer is None:  # the run could not be made
        raise UsageError(f"{args.data}: {problems[-1] if problems else 'no run was made'}")
    if result is None:  # training failed with an error (its traceback is printed)
        print(f"desktop-nn: error: {problems[-1] if problems else 'training failed'}",
              file=sys.stderr)
        return 1
    say(result.message)
    test_acc = None
    if data.test is not None:
        test_acc = trainer.evaluate(data.test.X, data.test.Y).accuracy
        say(f"test accuracy {test_acc:.2%} ({data.test.m} examples)")
    info = summary(result, trainer)
    if args.metrics:
        trainer.history.save_jsonl(args.metrics)
    if args.save:
        save_model(args.save, model_file(trainer.network, data, dict(
            info, test_accuracy=test_acc, data=str(args.data))))
        say(f"saved {args.save}")
    if args.json:
        out = {
            "train_accuracy": info["train_accuracy"],
            "val_accuracy": info["val_accuracy"],
            "test_accuracy": test_acc,
            "final_cost": info["final_cost"],
            "epochs": result.epochs,
            "steps": result.steps,
            "seconds": info["seconds"],
            "device": trainer.network.backend.label,
            "stopped": result.stopped,
        }
        print(json.dumps(out))
    return 1 if result.stopped in ("nan", "out_of_memory") else 0


def cmd_inspect_data(args) -> int:
    from desktop_nn.data.image_folder import FolderError, load_image_folder
    from desktop_nn.data.sources import resolve

    try:
        data = load_image_folder(resolve(args.folder), _load_options(args),
                                 progress=_LoadProgress(not args.json))
    except FolderError as exc:
        raise UsageError(str(exc)) from None
    h, w, c = data.input_shape
    splits = {s: data.counts(s) for s in ("train", "val", "test") if (data.splits == s).any()}
    report = {
        "folder": data.root, "layout": data.layout, "classes": data.class_names,
        "counts": data.counts(), "n_x": data.n_x, "input_shape": [h, w, c],
        "loaded": int(data.labels.size),
        "skipped": [{"path": s.path, "reason": s.reason} for s in data.skipped],
        "splits": splits, "sizes_seen": data.sizes_seen, "modes_seen": data.modes_seen,
        "warnings": data.warnings, "from_cache": data.from_cache,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    print(f"folder: {data.root} ({data.layout} layout{', from cache' if data.from_cache else ''})")
    print(f"classes ({len(data.class_names)}):")
    width = max(len(n) for n in data.class_names)
    for name in data.class_names:
        per = "  ".join(f"{s} {splits[s][name]}" for s in splits)
        print(f"  {name:<{width}}  {per}")
    print("sizes seen: " + ", ".join(f"{k} ({v})" for k, v in list(data.sizes_seen.items())[:8]))
    print("modes seen: " + ", ".join(f"{k} ({v})" for k, v in data.modes_seen.items()))
    print(f"input: {w}x{h} {'gray' if c == 1 else 'RGB'} -> n_x = {h} * {w} * {c} = {data.n_x}"
          f" (channel planes)")
    print(f"loaded {report['loaded']} images, skipped {len(data.skipped)}")
    for s in data.skipped:
        print(f"  skipped {s.path}: {s.reason}")
    for note in data.warnings:
        print(f"  note: {note}")
    return 0


def cmd_predict(args) -> int:
    from desktop_nn.io.model_file import ModelFileError, load_model
    from desktop_nn.predict import PredictError, Predictor, predict_files

    try:
        predictor = Predictor(load_model(args.model, select_backend(args.device)))
    except (ModelFileError, PredictError, BackendError) as exc:
        raise UsageError(str(exc)) from None
    # one forward pass over all the readable files, as the Predict tab makes
    results, failed = [], 0
    for item in predict_files(predictor, args.images):
        if item.error is not None:
            failed += 1
            results.append({"path": item.path, "error": item.error})
            continue
        probs = item.probabilities
        results.append({"path": item.path, "class": predictor.class_names[item.predicted],
                        "probabilities": dict(zip(predictor.class_names, probs, strict=True))})
    if args.json:
        print(json.dumps({"model": str(args.model), "results": results}, ensure_ascii=False))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['path']}: error: {r['error']}")
                continue
            top = sorted(r["probabilities"].items(), key=lambda kv: -kv[1])[:args.top]
            shown = "  ".join(f"{name} {p:.3f}" for name, p in top)
            print(f"{r['path']}: {r['class']}   ({shown})")
    return 1 if failed else 0


def cmd_gui(args) -> int:
    from desktop_nn.gui.app import main as gui_main

    return gui_main(data=getattr(args, "data", None))


def main(argv: Sequence[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # image decoding uses worker processes (frozen app too)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        from desktop_nn.gui.selftest import main as self_test

        return self_test()
    try:
        if args.command == "train":
            return cmd_train(args)
        if args.command == "gradcheck":
            return cmd_gradcheck(args)
        if args.command == "inspect-data":
            return cmd_inspect_data(args)
        if args.command == "predict":
            return cmd_predict(args)
        if args.command == "bench":
            from desktop_nn.bench import run_bench

            return run_bench(args)
        if args.command == "reproduce":
            from desktop_nn.reproduce import run_reproduce

            return run_reproduce(args)
        return cmd_gui(args)
    except UsageError as exc:
        print(f"desktop-nn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("desktop-nn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
