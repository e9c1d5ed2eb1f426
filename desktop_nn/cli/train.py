"""``desktop-nn train``: load the data, train through the workbench (the same run the window
makes), report, and keep what was asked for (model, metrics, JSON summary)."""

from __future__ import annotations

import json
import math
import sys
import time

from desktop_nn.backend import BackendError
from desktop_nn.cli.checks import (
    UsageError,
    check_output_path,
    check_outputs_apart,
    hidden_activations,
    naming,
    write_failure,
)
from desktop_nn.cli.common import LoadProgress, check_folder_memory, check_run_memory, load_options
from desktop_nn.cli.output import printable
from desktop_nn.cli.tables import check_table_args
from desktop_nn.nn.network import NetworkSpec


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


def _interrupted() -> None:
    sys.stderr.write("\ninterrupted: training stops after this step, and what was "
                     "trained is saved (Ctrl-C again quits without saving)\n")
    sys.stderr.flush()


def _local(data: str):
    """The file or folder ``data`` names ('sample': the bundled one); None for a built-in
    2-D data set (``toy:...``), which no file holds."""
    from desktop_nn.data.sources import resolve
    from desktop_nn.data.toy2d import is_toy_spec

    return None if is_toy_spec(data) else resolve(data)


def cmd_train(args) -> int:
    from desktop_nn.data.sources import DataFileError, FolderError, load_training_data
    from desktop_nn.train.trainer import TrainConfig, summary
    from desktop_nn.workbench import RunRequest, Workbench
    from desktop_nn.workbench.interrupt import stop_on_interrupt

    if args.test_dir is not None and _local(args.data) is None:
        raise UsageError(f"--test-dir {args.test_dir}: a test folder goes with an image "
                         f"folder, not with the built-in data set {args.data}")
    check_output_path("--save", args.save)  # before the work, not after it
    check_output_path("--metrics", args.metrics)
    check_outputs_apart({"--save": args.save, "--metrics": args.metrics},
                        {"the training data": _local(args.data),
                         "the test folder": args.test_dir})
    hidden = args.layers if args.layers is not None else [30]
    activations = hidden_activations(hidden, args.activations, "relu")
    normalise = check_table_args(args)
    options = load_options(args)
    check_folder_memory(args.data, options)
    try:
        loaded = load_training_data(args.data, options, args.val_split, args.seed,
                                    normalise, args.test_dir,
                                    progress=LoadProgress(not args.quiet),
                                    target=args.target)
    except (DataFileError, FolderError, ValueError) as exc:  # names the file or folder
        raise UsageError(naming(args.data, exc)) from None
    data = loaded.prepared
    train, val = data.train, data.val
    n_out = train.Y.shape[0]
    output = args.output or ("sigmoid" if n_out == 1 else "softmax")
    progress = _Progress(enabled=not args.quiet)
    workbench = Workbench(on_step=progress.step, on_epoch=progress.epoch)
    try:
        spec = NetworkSpec(train.n_x, hidden, activations, n_out, output,
                           args.cost, args.init, args.bias_init)
        config = TrainConfig(lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                             optimizer=args.optimizer, l2=args.l2, seed=args.seed,
                             shuffle=not args.no_shuffle, report_every=args.report_every,
                             patience=args.patience)
        request = RunRequest(spec, config, args.dtype or "float32", args.device, data)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    check_run_memory(request)

    def say(text: str) -> None:
        if not args.quiet:  # names from the data may hold control characters: escaped
            sys.stderr.write(f"{printable(text, keep_newlines=True)}\n")

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
        with stop_on_interrupt(workbench.stop, _interrupted) as interrupted:
            workbench.start(request)  # blocks until trained (or moved to the CPU and trained)
    except (ValueError, BackendError) as exc:
        raise UsageError(str(exc)) from None
    trainer, result = workbench.trainer, workbench.last_result
    if trainer is None:  # the run could not be made: the device's reason, or the data's
        problem = problems[-1] if problems else "no run was made"
        raise UsageError(problem if isinstance(workbench.last_refusal, BackendError)
                         else f"{args.data}: {problem}")
    if result is None:  # training failed with an error (its traceback is printed)
        problem = problems[-1] if problems else "training failed"
        print(f"desktop-nn: error: {printable(problem, keep_newlines=True)}", file=sys.stderr)
        return 1
    say(result.message)
    if args.epochs == 0:  # asked for, but easily a slip: said even with --quiet
        sys.stderr.write(f"note: --epochs 0: nothing was trained; the model holds its initial "
                         f"weights (--seed {args.seed})\n")
    test_acc = None
    if data.test is not None:
        test_acc = trainer.evaluate(data.test.X, data.test.Y).accuracy
        say(f"test accuracy {test_acc:.2%} ({data.test.m} examples)")
    failures = _write_outputs(args, trainer, result, loaded, test_acc, say)
    if args.json:
        info = summary(result, trainer)
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
    for line in failures:
        print(f"desktop-nn: error: {printable(line)}", file=sys.stderr)
    if failures:
        return 2  # an output could not be written (README: unusable output)
    if interrupted:  # saved what was trained; still a run the user cut short
        return 128 + interrupted[0]
    return 1 if result.stopped in ("nan", "out_of_memory") else 0


def _write_outputs(args, trainer, result, loaded, test_acc, say) -> list[str]:
    """Write the model, then the metrics, each on its own: one that cannot be written never
    costs the other. Returns one line per failure, naming the file. The model names its data
    as the loader shows them (``loaded.source``: a valid str even for a folder name that is
    not UTF-8)."""
    from desktop_nn.io.model_file import save_model
    from desktop_nn.train.trainer import summary
    from desktop_nn.workbench import model_file

    failures = []
    if args.save:
        try:
            info = summary(result, trainer)
            save_model(args.save, model_file(trainer.network, loaded.prepared, dict(
                info, test_accuracy=test_acc, data=loaded.source)))
        except (OSError, ValueError) as exc:
            failures.append(write_failure(args.save, exc))
        else:
            say(f"saved {args.save}")
    if args.metrics:
        try:
            trainer.history.save_jsonl(args.metrics)
        except (OSError, ValueError) as exc:
            failures.append(write_failure(args.metrics, exc))
    return failures
