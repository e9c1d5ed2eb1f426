"""How long Start holds the GUI thread, against how long making the run takes, on MNIST.

    QT_QPA_PLATFORM=offscreen python benchmarks/start_latency.py [--dtype float64] [--runs 3]

Loads the 60000 MNIST training images (made into folders once from ``../shared/data``, as
``desktop-nn reproduce`` does) into the real window, then clicks Start ``--runs`` times, each
time with other settings so that a new run is made. For each it measures, in the same run:

- ``start()``: how long the call holds the GUI thread;
- the longest gap of a 10 ms QTimer probe in the GUI thread between the click and the run's
  first plotted step: what a user feels;
- the build: from the click to ``training_started``, the time the run took to make in the
  worker (with float64 most of it converts X, 60000 x 784, from the loader's float32). Before
  the run was made in a worker, the GUI thread was held for all of it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from event_loop_probe import GapProbe  # beside this script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from desktop_nn.gui.app import create_main_window
    from desktop_nn.reproduce import default_data_dir, default_work_dir, mnist_folders

    folder = mnist_folders(default_data_dir(), default_work_dir(), print) / "train"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = create_main_window(settings=settings)
        window.projects.ask_unsaved = lambda name: "discard"
        window.show()

        def wait(signal, timeout_s: float) -> None:
            loop = QEventLoop()
            signal.connect(loop.quit)
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            loop.exec()
            signal.disconnect(loop.quit)

        window.data_panel.load(str(folder))
        wait(window.data_loaded, 300)
        data = window.data_panel.data
        if data is None or data.prepared.train.m < 50000:
            print(f"MNIST did not load from {folder}", file=sys.stderr)
            return 1
        window.training_panel.dtype_combo.setCurrentText(args.dtype)
        window.designer.set_layers([(100, "sigmoid")])
        window.training_panel.epochs_spin.setValue(1)
        probe = GapProbe(10)
        for run in range(args.runs):
            window.training_panel.seed_spin.setValue(run + 1)  # other settings: a new run
            started = []
            window.training_started.connect(lambda s=started: s.append(time.perf_counter()))
            t0 = probe.start()
            if not window.start():
                print("Start was refused", file=sys.stderr)
                return 1
            returned = time.perf_counter()
            wait(window.training_started, 120)
            # until the first step is plotted: the hand-over and the first redraw
            deadline = time.perf_counter() + 30
            while not len(window.plots.steps.step) and time.perf_counter() < deadline:
                _spin(0.01)
            probe.stop()
            window.stop()
            wait(window.training_finished, 60)
            built = started[0] - t0 if started else float("nan")
            rows.append({"run": run + 1, "start_call_ms": (returned - t0) * 1000,
                         "longest_gap_ms": max(probe.gaps, default=math.nan) * 1000,
                         "build_ms": built * 1000})
        window.close()
    if args.json:
        print(json.dumps({"dtype": args.dtype, "examples": data.prepared.train.m,
                          "n_x": data.prepared.train.n_x, "runs": rows}))
    else:
        print(f"MNIST {data.prepared.train.m} x {data.prepared.train.n_x}, {args.dtype}")
        print("| run | start() holds the GUI thread | longest probe gap | run made in the "
              "worker in |")
        print("|---|---|---|---|")
        for r in rows:
            print(f"| {r['run']} | {r['start_call_ms']:.1f} ms | {r['longest_gap_ms']:.1f} ms"
                  f" | {r['build_ms']:.0f} ms |")
    return 0


def _spin(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


if __name__ == "__main__":
    sys.exit(main())
