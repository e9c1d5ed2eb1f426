"""Event-loop latency of the app while it trains flat out on the bundled sample.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py --seconds 10 [--activations]

A QTimer probe in the GUI thread asks to run every 10 ms; its lateness (actual gap minus 10 ms)
is what a user feels as lag. Also counts plot redraws per second (target <= 30) and the steps
trained meanwhile. Targets (issue 5): p99 lateness <= 50 ms, redraws <= 30 per second.
``--activations`` shows the Activations tab (its heat map redrawn live) instead of the
Training tab's plots; the target is the same (issue 22).
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
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from desktop_nn.gui.app import create_main_window

    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = create_main_window(settings=settings)
        window.show()
        window.designer.set_layers([(100, "sigmoid")])
        window.training_panel.batch_spin.setValue(args.batch_size)
        window.training_panel.epochs_spin.setValue(100_000)
        if args.activations:
            window.tabs.setCurrentWidget(window.activation_view)
        probe = GapProbe(10)
        loop = QEventLoop()
        window.start()
        redraws0 = window.plots.redraws + window.activation_view.redraws
        t0 = probe.start()
        QTimer.singleShot(int(args.seconds * 1000), loop.quit)
        loop.exec()
        elapsed = time.perf_counter() - t0
        probe.stop()
        gaps = probe.gaps
        redraws = window.plots.redraws + window.activation_view.redraws - redraws0
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
              "activation_redraws": window.activation_view.redraws}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{elapsed:.1f} s training [784, 100, 10] on the sample, batch {args.batch_size}: "
              f"{result['steps_per_s']:,.0f} steps/s")
        print(f"  event-loop lateness p50 {result['lateness_p50_ms']:.1f} ms, "
              f"p99 {result['lateness_p99_ms']:.1f} ms, max {result['lateness_max_ms']:.1f} ms "
              f"({len(gaps)} probes)")
        print(f"  redraws {result['redraws_per_s']:.1f} per second"
              + (f" ({result['activation_redraws']} of the activation heat map)"
                 if args.activations else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
