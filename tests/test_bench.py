"""``desktop-nn bench``: the table and JSON it prints, on workloads shrunk to run in a moment."""

from __future__ import annotations

import json
import os
import sys

import pytest

from desktop_nn import bench
from desktop_nn.cli import main

TINY = {
    "small": bench.Workload("small", (12, 6, 3), "sigmoid", "sigmoid", 96, 16, 6),
    "cat": bench.Workload("cat", (20, 5, 3, 1), "relu", "sigmoid", 24, 24, 5, 0.0075),
    "wide": bench.Workload("wide", (16, 16, 16, 4), "relu", "softmax", 64, 16, 4, 0.01),
}


@pytest.fixture
def tiny_workloads(monkeypatch):
    monkeypatch.setattr(bench, "WORKLOADS", TINY)
    # the matmul rate on a 4096 x 4096 matrix would dominate; time a small one instead
    real = bench.matmul_flops
    monkeypatch.setattr(bench, "matmul_flops", lambda backend, n, dtype: real(backend, 64, dtype))


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_bench_json_gives_every_workload_with_its_ratio(tiny_workloads, capsys):
    assert main(["bench", "--device", "cpu", "--workload", "all", "--repeats", "1",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["device"].startswith("CPU") and out["dtype"] == "float32"
    rows = {r["workload"]: r for r in out["results"]}
    assert list(rows) == ["small", "cat", "wide"]
    for name, row in rows.items():
        assert row["sizes"] == list(TINY[name].sizes)
        assert row["desktop_nn_examples_per_s"] > 0
        if _has_torch():
            assert row["torch_examples_per_s"] > 0
            assert row["ratio"] == pytest.approx(
                row["desktop_nn_examples_per_s"] / row["torch_examples_per_s"], rel=1e-2)
            assert row["paired_ratio_median"] > 0
        else:
            assert row["ratio"] is None and row["paired_ratio_median"] is None
            assert out["reference_skipped"].startswith("PyTorch not installed")
    wide = rows["wide"]
    assert wide["matmul_flops"] > 0 and wide["share_of_matmul_limit"] > 0
    assert wide["paired_share_median"] > 0


def test_without_pytorch_the_json_is_still_one_object_and_says_why(tiny_workloads, capsys,
                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as in CI, which installs no PyTorch
    assert main(["bench", "--workload", "cat", "--repeats", "1", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["reference_skipped"].startswith("PyTorch not installed")
    assert out["results"][0]["ratio"] is None
    assert "reference skipped" in captured.err


def test_bench_table_without_reference(tiny_workloads, capsys):
    assert main(["bench", "cpu", "--workload", "cat", "--repeats", "1", "--no-reference"]) == 0
    out = capsys.readouterr().out
    assert "dtype float32" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("cat"))
    assert line.split()[-3:] == ["-", "-", "-"]  # no PyTorch figure, no ratios


def test_the_paired_ratio_is_the_median_of_runs_taken_together():
    # a machine that slows down half-way: the ratio of the bests mixes fast and slow runs
    ours, refs = [100.0, 100.0, 50.0], [50.0, 100.0, 50.0]
    assert bench.paired_median(ours, refs) == 1.0
    assert max(ours) / max(refs) == 1.0
    assert bench.paired_median([120.0, 60.0, 60.0], [100.0, 50.0, 40.0]) == 1.2


def test_matmul_shares_pair_each_run_with_the_limit_measured_before_it():
    # examples/s of three runs and the limit measured before each, 10 FLOP per example
    ours, limits = [50.0, 100.0, 80.0], [1000.0, 2000.0, 1000.0]
    best, paired = bench.matmul_shares(ours, limits, 10)
    assert best == pytest.approx(100.0 * 10 / 2000.0)  # best run over the highest limit
    assert paired == pytest.approx(0.5)  # median of 0.5, 0.5, 0.8


def test_wide_flops_count_three_products_per_layer_but_the_first():
    # [4, 3, 2]: forward 2*(4*3 + 3*2) = 36, backward 2 * 36 less layer 1's dA_prev (24)
    assert bench.wide_flops_per_example((4, 3, 2)) == 3 * 36 - 24


def test_bench_device_given_twice_must_agree(tiny_workloads, capsys):
    assert main(["bench", "cpu", "--device", "gpu", "--repeats", "1"]) == 2
    assert "desktop-nn: error: bench: device given twice" in capsys.readouterr().err


def test_bench_on_a_missing_gpu_says_why(tiny_workloads, capsys, monkeypatch):
    import desktop_nn.backend as backend_mod

    monkeypatch.setattr(backend_mod, "_try_cupy", lambda: (None, "no CUDA device found"))
    assert main(["bench", "--device", "gpu", "--repeats", "1"]) == 2
    assert "GPU requested but unavailable" in capsys.readouterr().err


@pytest.mark.parametrize("option,value", [
    ("--repeats", "0"), ("--repeats", "-1"), ("--repeats", "1001"),
    ("--repeats", "99999999999999999999999"), ("--repeats", "1e3"),
    ("--threads", "0"), ("--threads", "-5"), ("--threads", "100000"),
    ("--threads", "99999999999999999999999"),
])
@pytest.mark.parametrize("reference", [[], ["--no-reference"]])
def test_bad_repeats_and_threads_are_refused_naming_the_option(tiny_workloads, capsys, option,
                                                               value, reference):
    """Issue 21, item 14: --repeats 0 was a traceback, 1e23 a hang, --threads 100000 a
    segfault; with --no-reference bad thread counts passed."""
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--device", "cpu", "--repeats", "1", f"{option}={value}", *reference])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"argument {option}" in err.splitlines()[-1]


def test_the_thread_limit_is_a_few_per_core(tiny_workloads, capsys):
    assert bench.MAX_THREADS == 4 * (os.cpu_count() or 1)
    assert main(["bench", "--device", "cpu", "--repeats", "1", "--threads",
                 str(bench.MAX_THREADS), "--no-reference", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["threads"] == bench.MAX_THREADS
