"""The summary of benchmarks/gpu_check.sh: one line per GPU path (from pytest's JUnit XML)
and per step, the bench's ratios against issue 24's targets; exit 0 when everything passed.

    python benchmarks/gpu_check_summary.py OUT GPU PYTEST BENCH WINDOW GRADCHECK

GPU is 1 when the machine has one; each of the others is a step's exit code, or "nogpu".
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

# Each GPU path of issue 24 and the gpu tests that run it (test file::name, parameters cut).
PATHS = {
    "fused kernels vs the reference": [
        "test_backend.py::test_gpu_step_matches_numpy",
        "test_nn_gradcheck.py::test_gradcheck_passes_on_the_gpu"],
    "deferred NaN check vs a checked run": [
        "test_deferred_guard.py::test_on_the_gpu_deferred_and_checked_runs_end_alike"],
    "streaming over a forced small device budget": [
        "test_device_memory.py::test_on_the_gpu_a_streamed_data_set_trains_as_a_resident_one",
        "test_gpu_paths.py::test_a_data_set_larger_than_the_device_budget_is_streamed_within_it"],
    "set aside and resume": [
        "test_gpu_paths.py::test_a_gpu_run_set_aside_in_host_memory_resumes_exactly"],
    "out of memory: fall back to the CPU": [
        "test_gpu_paths.py::test_auto_makes_the_run_on_the_cpu_when_the_gpu_really_runs_out",
        "test_gpu_paths.py::test_auto_goes_on_on_the_cpu_when_the_gpu_runs_out_while_training"],
    "device shuffle equals NumPy's": [
        "test_shuffle.py::test_cupy_draws_the_same_order_as_numpy"],
}
TARGETS = {"ratio": 1.0, "share_of_matmul_limit": 0.70}  # issue 24, item 3


def test_outcomes(xml: Path) -> dict[str, list[str]]:
    """{"file.py::name": [outcome of each parametrisation]} from pytest's JUnit XML."""
    found: dict[str, list[str]] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        key = f"{module}.py::{case.get('name', '').split('[')[0]}"
        kinds = {child.tag for child in case}
        outcome = "failed" if kinds & {"failure", "error"} else \
            "skipped" if "skipped" in kinds else "passed"
        found.setdefault(key, []).append(outcome)
    return found


def path_lines(outcomes: dict[str, list[str]], gpu: bool) -> tuple[list[str], bool]:
    lines, ok = [], True
    for path, tests in PATHS.items():
        got = [o for t in tests for o in outcomes.get(t, ["missing"])]
        if all(o == "passed" for o in got):
            verdict = "passed"
        elif not gpu and all(o == "skipped" for o in got):
            verdict = "skipped: no GPU"
        else:
            verdict = "FAILED (" + ", ".join(f"{o}: {got.count(o)}" for o in sorted(set(got))
                                             if o != "passed") + ")"
            ok = False
        lines.append(f"  {path:<46} {verdict}")
    return lines, ok


def bench_lines(bench: Path) -> list[str]:
    info = json.loads(bench.read_text())
    lines = [f"  bench on {info['device']}, torch {info.get('torch', '-')}:"]
    for r in info["results"]:
        ratio = r["ratio"]
        line = (f"    {r['workload']:<6} {r['desktop_nn_examples_per_s']:>12,.0f} ex/s, "
                f"ratio {ratio if ratio is not None else '-'} "
                f"(paired {r['paired_ratio_median']}), target >= {TARGETS['ratio']}")
        if "share_of_matmul_limit" in r:
            line += (f"; {r['share_of_matmul_limit']:.0%} of the matmul limit "
                     f"{r['matmul_flops'] / 1e12:.1f} TFLOP/s (target >= 70 %)")
        lines.append(line)
    return lines


def main(argv: list[str]) -> int:
    out, gpu = Path(argv[0]), argv[1] == "1"
    statuses = dict(zip(("pytest", "bench", "window", "gradcheck"), argv[2:6], strict=True))
    print(f"GPU check: {'on a GPU' if gpu else 'NO GPU on this machine'}; files in {out}")
    ok = True
    xml = out / "pytest.xml"
    if xml.is_file():
        outcomes = test_outcomes(xml)
        if (out / "gradcheck.xml").is_file():
            outcomes.update(test_outcomes(out / "gradcheck.xml"))
        lines, paths_ok = path_lines(outcomes, gpu)
        print("GPU paths (pytest -m gpu):")
        print("\n".join(lines))
        ok &= paths_ok
    else:
        print("GPU paths: no pytest.xml (pytest did not run; see pytest.log)")
        ok = False
    for name, status in statuses.items():
        if status == "0":
            verdict = "passed"
        elif status == "nogpu":
            verdict = "skipped: no GPU"
        else:
            verdict = "TIMED OUT" if status in ("124", "137") else f"FAILED (exit {status})"
            ok = False
        print(f"step {name:<7} {verdict}")
    if (out / "bench.json").is_file() and statuses["bench"] == "0":
        print("\n".join(bench_lines(out / "bench.json")))
    window = out / "window.log"
    if window.is_file():
        for line in window.read_text().strip().splitlines()[-2:]:
            print("  window:", line)
    print("GPU check:", "PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
