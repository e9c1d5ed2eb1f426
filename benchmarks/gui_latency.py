"""Event-loop latency of the app while it trains flat out on the bundled sample.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py --seconds 10 [--activations]
    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py --boundary --data SPIRAL.npz \
        --layers 16,16 --activation tanh

A QTimer probe in the GUI thread asks to run every 10 ms; its lateness (actual gap minus 10 ms)
is what a user feels as lag. Also counts plot redraws per second (target <= 30) and the steps
trained meanwhile. Targets (issue 5): p99 lateness <= 50 ms, redraws <= 30 per second.
``--activations`` shows the Activations tab (its heat map redrawn live) instead of the
Training tab's plots; the target is the same (issue 22). ``--boundary`` shows the Plane
tab (the decision boundary and the unit pictures computed and redrawn live) on 2-D data given
with ``--data`` (anything the Data panel loads: an .npz of X (2, m), or ``toy:spiral`` where
built-in data sets exist); the target is the same (issue 25).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from event_loop_probe import GapProbe  # beside this script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--activations", action="store_true",
                        help="train with the Activations tab shown")
    parser.add_argument("--boundary", action="store_true",
                        help="train with the Plane tab (decision boundary) shown; needs 2-D --data")
    parser.add_argument("--data", default=None,
                        help="the data to train on, as the Data panel loads them "
                             "(default: the bundled sample)")
    parser.add_argument("--layers", default="100", help="hidden layer sizes, e.g. 16,16")
    parser.add_argument("--activation", default="sigmoid", help="the hidden layers' activation")
    args = parser.parse_args(argv)
    layers = [(int(n), args.activation) for n in args.layers.split(",") if n.strip()]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from desktop_nn.gui.app import create_main_window

    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = create_main_window(settings=settings)
        window.show()
        if args.data is not None:
            loaded, failed = QEventLoop(), []
            window.data_loaded.connect(loaded.quit)
            window.data_panel.load_failed.connect(lambda message: (failed.append(message),
                                                                   loaded.quit()))
            window.data_panel.load(args.data)
            loaded.exec()
            if failed:
                window.close()
                print(f"cannot load {args.data}: {failed[0]}", file=sys.stderr)
                return 1
        window.designer.set_layers(layers)
        window.training_panel.batch_spin.setValue(args.batch_size)
        window.training_panel.epochs_spin.setValue(100_000)
        if args.activations:
            window.tabs.setCurrentWidget(window.activation_view)
        boundary = window.boundary_view
        if args.boundary:
            window.tabs.setCurrentWidget(boundary)
        probe = GapProbe(10)
        loop = QEventLoop()
        window.start()
        redraws0 = window.plots.redraws + window.activation_view.redraws + boundary.redraws
        t0 = probe.start()
        QTimer.singleShot(int(args.seconds * 1000), loop.quit)
        loop.exec()
        elapsed = time.perf_counter() - t0
        probe.stop()
        gaps = probe.gaps
        redraws = (window.plots.redraws + window.activation_view.redraws + boundary.redraws
                   - redraws0)
        shape = window.workbench.trainer.network.spec.sizes
        steps = window.workbench.trainer.step_count
        window.projects.ask_unsaved = lambda name: "discard"  # no modal question
        window.close()

    late_ms = np.maximum(np.array(gaps) - 0.010, 0) * 1000
    result = {"seconds": elapsed, "probes": len(gaps), "steps": steps,
              "steps_per_s": steps / elapsed,
              "lateness_p50_ms": float(np.percentile(late_ms, 50)),
              "lateness_p99_ms": float(np.percentile(late_ms, 99)),
              "lateness_max_ms": float(late_ms.max()),
              "redraws_per_s": redraws / elapsed, "activations": args.activations,
              "activation_redraws": window.activation_view.redraws,
              "boundary": args.boundary, "boundary_redraws": boundary.redraws,
              "data": args.data or "sample", "sizes": shape}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{elapsed:.1f} s training {shape} on {result['data']}, batch {args.batch_size}: "
              f"{result['steps_per_s']:,.0f} steps/s")
        print(f"  event-loop lateness p50 {result['lateness_p50_ms']:.1f} ms, "
              f"p99 {result['lateness_p99_ms']:.1f} ms, max {result['lateness_max_ms']:.1f} ms "
              f"({len(gaps)} probes)")
        print(f"  redraws {result['redraws_per_s']:.1f} per second"
              + (f" ({result['activation_redraws']} of the activation heat map)"
                 if args.activations else "")
              + (f" ({result['boundary_redraws']} of the decision boundary)"
                 if args.boundary else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
