"""Command line: desktop-nn [gui] | train | inspect-data | predict | export | gradcheck |
bench | reproduce. This module parses the arguments and hands each command to its module.

Exit codes: 0 success; 1 a check failed (gradcheck above tolerance), training stopped on
NaN/inf, or an image could not be predicted; 2 bad arguments, unusable input or an output
that could not be written (one line, ``desktop-nn: error: ...``, naming the option or the file
and the problem; a trained model is written even when another output fails). An error that
is not about the user's input is a bug and keeps its traceback (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from desktop_nn import __version__
from desktop_nn.cli.checks import UsageError, file_name, float_in, int_in
from desktop_nn.cli.commands import cmd_gradcheck, cmd_inspect_data, cmd_predict
from desktop_nn.cli.common import add_image_args, add_network_args
from desktop_nn.cli.export import add_export_parser, cmd_export
from desktop_nn.cli.output import printable, standard_streams
from desktop_nn.cli.train import cmd_train
from desktop_nn.nn.gradcheck import TOLERANCE as GRADCHECK_TOLERANCE
from desktop_nn.nn.optimizers import OPTIMIZERS


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

    t = sub.add_parser("train", help="train a network on an image folder, 'sample', an .npz "
                       "or a built-in 2-D data set (toy:spiral) or a CSV / TSV table",
                       description="Train a fully-connected network. DATA is a folder of images "
                       "with one subfolder per class (or train/ and test/ folders holding "
                       "those), 'sample' for the bundled MNIST digits, an .npz with X "
                       "(n_x, m) and Y, or X_train/Y_train[/X_val/Y_val][/X_test/Y_test], "
                       "toy:NAME[,n=N][,noise=F][,seed=S] for a built-in 2-D data set as in "
                       "TensorFlow Playground: circle, xor, gauss or spiral (default n=400, "
                       "noise=0, seed=0; docs/toy-data.md), or a table (.csv, .tsv) with a "
                       "header: its numeric columns are the features and --target names the "
                       "column holding the classes.")
    t.add_argument("data", metavar="DATA", type=file_name)
    add_network_args(t, default_output=None)
    add_image_args(t)
    t.add_argument("--test-dir", metavar="DIR", default=None, type=file_name,
                   help="a folder of test images (same classes), decoded like the training data")
    t.add_argument("--target", metavar="COLUMN", default=None,
                   help="a table's column that holds the classes (required for a table)")
    t.add_argument("--normalise", choices=["scale", "standardise", "none"], default=None,
                   help="images: pixels / 255 (scale, the default) or standardised with "
                   "training-set statistics; a table: standardised (default) or none (its "
                   "values as they are)")
    g = t.add_argument_group("training")
    g.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    g.add_argument("--lr", type=float_in(0, lo_open=True), default=0.1, help="learning rate")
    g.add_argument("--epochs", type=int_in(0), default=10,
                   help="passes over the training data (0: no training; the model keeps its "
                   "initial weights, and a note says so)")
    g.add_argument("--batch-size", type=int_in(0), default=64, help="0 = full batch")
    g.add_argument("--l2", type=float_in(0), default=0.0,
                   help="L2 strength lambda; the cost gains lambda/(2n) sum ||W||^2")
    g.add_argument("--val-split", type=float_in(0, 1, hi_open=True), default=0.1,
                   help="share of training data held out for validation when DATA has no X_val")
    g.add_argument("--no-shuffle", action="store_true", help="keep the examples in file order")
    g.add_argument("--patience", type=int_in(0), default=0, help="early stopping (0 = off)")
    g.add_argument("--report-every", type=int_in(1), default=10, help="steps between diagnostics")
    o = t.add_argument_group("output")
    o.add_argument("--save", metavar="MODEL.npz", type=file_name,
                   help="save the trained model here (not over the data, nor inside its folder)")
    o.add_argument("--metrics", metavar="FILE.jsonl", type=file_name,
                   help="write the run history as JSON lines")
    o.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    o.add_argument("--quiet", action="store_true", help="no progress on stderr")

    c = sub.add_parser("gradcheck", help="check backprop against finite differences",
                       description="Compare backprop gradients with two-sided finite "
                       "differences (float64) on a small random problem; exit 1 if any "
                       f"layer's relative error exceeds {GRADCHECK_TOLERANCE:g}.")
    # Random biases keep ReLU pre-activations off their kink at exactly 0 (see gradcheck.py).
    add_network_args(c, default_output="sigmoid", default_bias_init="normal")
    c.add_argument("--inputs", type=int_in(1, 10_000), default=4,
                   help="n_x of the random problem")
    c.add_argument("--outputs", type=int_in(1, 10_000), default=None,
                   help="output units (default 1, or 3 for softmax)")
    c.add_argument("--examples", type=int_in(1, 100_000), default=6,
                   help="m of the random problem")
    c.add_argument("--l2", type=float_in(0), default=0.0)
    c.add_argument("--order", type=int, default=4, choices=[2, 4],
                   help="2: (J(+eps) - J(-eps)) / 2eps as in the notes; 4: the symmetric "
                   "five-point stencil, far less rounding on tiny gradients (default)")
    c.add_argument("--eps", type=float_in(0, 1, lo_open=True), default=None,
                   help="finite-difference step (default 1e-5 for order 2, 1e-4 for order 4)")
    c.add_argument("--all", action="store_true",
                   help="check every hidden activation x output x cost combination")
    c.add_argument("--json", action="store_true")

    d = sub.add_parser("inspect-data", help="what an image folder or a table holds and how it "
                       "will load",
                       description="Load an image folder as training would and report classes, "
                       "counts, sizes and modes seen, the input shape and n_x, and every "
                       "skipped file with the reason; or read a table (.csv, .tsv) and report "
                       "its columns (numeric or not, min / max / mean) and, with --target, its "
                       "classes and counts.")
    d.add_argument("folder", metavar="DIR", type=file_name,
                   help="image folder, 'sample', a built-in 2-D data set (toy:spiral), "
                   "or a table (.csv, .tsv)")
    d.add_argument("--target", metavar="COLUMN", default=None,
                   help="a table's column that holds the classes")
    add_image_args(d)
    d.add_argument("--json", action="store_true", help="print one JSON object")

    pr = sub.add_parser("predict", help="classify image files (or a table's rows) with a saved "
                        "model",
                        description="Print each image's class and probabilities, the image "
                        "preprocessed exactly as the model's training data. For a model "
                        "trained on a table, give tables (.csv, .tsv) holding its feature "
                        "columns (by name, in any order; other columns are ignored): each row "
                        "is predicted, and where the table has the target column, the accuracy "
                        "is reported.")
    pr.add_argument("model", metavar="MODEL.npz", type=file_name)
    pr.add_argument("images", metavar="IMAGE", nargs="+", type=file_name,
                    help="image files; for a table model, tables of rows")
    pr.add_argument("--top", type=int_in(1), default=3, help="probabilities shown per image")
    pr.add_argument("--device", default="cpu", choices=["auto", "cpu", "gpu"])
    pr.add_argument("--json", action="store_true", help="print one JSON object")
    add_export_parser(sub)

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
                     help="image folder (or toy:spiral, a built-in 2-D data set) to open "
                     "(default: the last one, or the sample)")
    return parser


def cmd_gui(args) -> int:
    from desktop_nn.cli.platform_check import platform_problem

    problem = platform_problem()  # before Qt would abort, and before it is even imported
    if problem is not None:
        raise UsageError(problem)
    gui_main = _import_qt(_window_main)
    return gui_main(data=getattr(args, "data", None))


# Static imports in functions: the installer (PyInstaller) bundles only what it sees imported.
def _window_main():
    from desktop_nn.gui.app import main

    return main


def _self_test_main():
    from desktop_nn.gui.selftest import main

    return main


def _import_qt(load):
    """``load()`` (an import of the window's code), with a system library that Qt cannot load
    (which the platform check could not tell, e.g. without ldd) turned into a usage error."""
    try:
        return load()
    except ImportError as exc:
        if ".so" not in str(exc):
            raise  # not a system library: a broken installation of ours, with its traceback
        raise UsageError(f"the window cannot open: a library Qt needs cannot be loaded: "
                         f"{exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command -> its exit code. stdout and stderr are guarded while it runs
    (cli/output.py): a stream that fails never stops the work or costs an output file."""
    with standard_streams() as streams:
        try:
            code = _main(argv)
        except SystemExit as exc:  # argparse: --help, --version, a bad argument
            if exc.code in (0, None):
                raise SystemExit(streams.exit_code(0)) from None
            raise
        return streams.exit_code(code)


def _main(argv: Sequence[str] | None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # image decoding uses worker processes (frozen app too)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        import os

        from desktop_nn.cli.platform_check import platform_problem

        problem = platform_problem({**os.environ, "QT_QPA_PLATFORM":
                                    os.environ.get("QT_QPA_PLATFORM", "offscreen")})
        if problem is not None:  # the self-test runs offscreen unless told otherwise
            print(f"desktop-nn: error: {printable(problem, keep_newlines=True)}",
                  file=sys.stderr)
            return 2
        try:
            self_test = _import_qt(_self_test_main)
        except UsageError as exc:
            print(f"desktop-nn: error: {printable(exc, keep_newlines=True)}", file=sys.stderr)
            return 2
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
        if args.command == "export":
            return cmd_export(args)
        if args.command == "bench":
            from desktop_nn.bench import run_bench

            return run_bench(args)
        if args.command == "reproduce":
            from desktop_nn.reproduce import run_reproduce

            return run_reproduce(args)
        return cmd_gui(args)
    except UsageError as exc:
        print(f"desktop-nn: error: {printable(exc, keep_newlines=True)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("desktop-nn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (OSError, MemoryError, ValueError) as exc:
        line = user_error(exc)
        if line is None:  # not about the user's input: a bug, shown with its traceback
            raise
        print(f"desktop-nn: error: {printable(line, keep_newlines=True)}", file=sys.stderr)
        return 2


def user_error(exc: BaseException) -> str | None:
    """The one line for an error about the user's input or files that a command did not
    turn into a message itself: a file that cannot be read or written, memory too small for
    what was asked, or one of the app's own errors (each names the file and the problem).
    None for anything else."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror}" if where != "" else exc.strerror
    if isinstance(exc, MemoryError):
        return f"not enough memory: {exc}" if str(exc) else "not enough memory"
    if isinstance(exc, ValueError) and type(exc).__module__.startswith("desktop_nn.") \
            and str(exc).strip():
        return str(exc).strip()
    return None


if __name__ == "__main__":
    raise SystemExit(main())
