"""desktop-nn reproduce over seeds (issue 23): the aggregation and its PASS rule, the stuck
share, the gradient judging rule (each norm within x2, medians and the first seed) and the
--seeds option, on generated folders (never ../shared)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
from image_factory import gray, save

from desktop_nn.cli import main
from desktop_nn.reproduce import (
    RECIPES,
    Target,
    aggregate,
    format_seeds_report,
    judge,
    run_recipe,
    run_seeds,
    stuck_share,
)

ACC = Target("peak_accuracy", "peak test accuracy", 0.9542, 0.005, "abs", "percent")


def _within(published: float, tol: float, values: list[float]) -> int:
    return sum(abs(v - published) <= tol for v in values)


def test_mean_within_half_a_point_passes_and_counts_the_seeds_within():
    # issue 8's nielsen-ch1 seeds 0-4 (docs/reproductions.md): seed 0 misses, the mean passes
    values = [0.9474, 0.9534, 0.9496, 0.9517, 0.9500]
    agg = aggregate(ACC, values)
    assert agg["center"] == pytest.approx(statistics.fmean(values), abs=1e-15)
    assert (agg["min"], agg["max"]) == (min(values), max(values))
    assert agg["within"] == _within(0.9542, 0.005, values) == 4
    assert agg["first"] == "MISS" and agg["result"] == "PASS" and agg["n"] == 5
    # a mean 0.51 points below misses, even with most seeds within
    low = [0.9542 - 0.0051 + d for d in (-0.002, 0.001, 0.001)]
    agg = aggregate(ACC, low)
    assert agg["result"] == "MISS" and agg["within"] == _within(0.9542, 0.005, low) == 2
    # the mean, not the best seed: one lucky run among stuck ones does not pass
    stuck = [0.8685, 0.7758, 0.8729, 0.8764, 0.9668]
    assert aggregate(Target("p", "p", 0.9659, 0.005), stuck)["result"] == "MISS"
    # a seed that measured nothing: n/a, not a PASS
    assert aggregate(ACC, [0.954, None])["result"] == "n/a"
    with pytest.raises(ValueError):
        aggregate(ACC, values, "mode")


def test_median_is_judged_and_the_first_seed_too_when_asked():
    ratio = Target("ratio", "r", 0.2, 2.0, "factor", "ratio")
    values = [0.5, 0.15, 0.2, 0.25, 0.3]  # median 0.25 passes; seed 0 (0.5) is > 2 x 0.2
    agg = aggregate(ratio, values, "median")
    assert agg["center"] == statistics.median(values) and agg["within"] == 4
    assert agg["result"] == "PASS"
    agg = aggregate(ratio, values, "median", first_judged=True)
    assert agg["first"] == "MISS" and agg["result"] == "MISS"
    assert aggregate(ratio, values[1:], "median", first_judged=True)["result"] == "PASS"


def test_norms_are_judged_each_within_a_factor_of_two_not_by_rank():
    norms = RECIPES["nielsen-ch5-gradients"].variants[0].targets[0]
    assert (norms.check, norms.tolerance, norms.published) == ("factor", 2.0, (0.07, 0.31))
    assert judge(norms, (0.0613, 0.335))  # docs' seed 0
    assert judge(norms, (0.036, 0.61)) and not judge(norms, (0.034, 0.31))
    assert not judge(norms, (0.07, 0.63))
    # increasing, so the old ranking check passed it; each value is far off
    assert not judge(norms, (0.001, 5.0))
    assert not judge(norms, (0.07,))  # a layer missing
    # elementwise medians over the initialisations
    runs = [(0.06, 0.30), (0.08, 0.40), (0.20, 0.35)]
    agg = aggregate(norms, runs, "median", first_judged=True)
    assert agg["center"] == (0.08, 0.35)
    assert agg["min"] == (0.06, 0.30) and agg["max"] == (0.20, 0.40)
    assert agg["within"] == 2 and agg["first"] == "PASS" and agg["result"] == "PASS"
    for r in RECIPES["nielsen-ch5-gradients"].variants:
        ratio = r.targets[1]
        assert ratio.published == pytest.approx(r.targets[0].published[0] /
                                                r.targets[0].published[-1])


def test_stuck_share_counts_runs_whose_peak_stays_below_the_line():
    st = stuck_share([0.8685, 0.7758, 0.9668, 0.8999, 0.90], 0.90)
    assert (st["stuck"], st["n"], st["share"]) == (3, 5, pytest.approx(0.6))
    assert stuck_share([], 0.9)["share"] is None
    r = RECIPES["nielsen-ch1-100"]
    assert r.stuck_below == 0.90 and r.seeds == 5


def test_each_recipe_has_its_seeds_and_statistic():
    for name in ("nielsen-ch1", "nielsen-ch1-100", "nielsen-ch3", "nielsen-ch5"):
        assert (RECIPES[name].seeds, RECIPES[name].statistic) == (5, "mean")
    g = RECIPES["nielsen-ch5-gradients"]
    assert (g.seeds, g.statistic, g.first_seed_judged) == (20, "median", True)
    for name in ("cat-2layer", "cat-4layer"):  # the course's one draw: one run
        assert RECIPES[name].seeds == 1 and RECIPES[name].dtype == "float64"


# ---------------------------------------------------------------------------- end to end
def _fake_mnist(root: Path, n_train: int = 30, n_test: int = 9, classes: int = 3) -> Path:
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            c = i % classes
            save(root / split / str(c) / f"{i:05d}.png", gray(60 * c + (i % 5), (4, 4)))
    return root


def test_run_seeds_equals_the_single_seed_runs_it_aggregates(tmp_path):
    work = tmp_path / "work"
    _fake_mnist(work / "mnist")
    kw = dict(data_dir=tmp_path / "nodata", work_dir=work, device="cpu", n_train=24)
    rep = run_seeds(RECIPES["nielsen-ch1-100"], seeds=[3, 4, 5], epochs=2, **kw)
    assert rep["seeds"] == [3, 4, 5] and [r["seed"] for r in rep["runs"]] == [3, 4, 5]
    singles = [run_recipe(RECIPES["nielsen-ch1-100"], seed=s, epochs=2, **kw)["networks"][0]
               ["measured"]["peak_accuracy"] for s in (3, 4, 5)]
    f = rep["networks"][0]["figures"][0]
    assert f["values"] == singles
    assert f["center"] == pytest.approx(np.mean(singles), abs=1e-15)
    assert f["result"] == ("PASS" if abs(np.mean(singles) - 0.9659) <= 0.005 else "MISS")
    assert rep["pass"] is (f["result"] == "PASS")
    st = rep["networks"][0]["stuck"]
    assert st["stuck"] == sum(v < 0.9 for v in singles) and st["n"] == 3
    text = format_seeds_report(rep)
    assert "seeds 3..5" in text and "stuck (peak below 90 %)" in text and "of 3" in text

    grads = run_seeds(RECIPES["nielsen-ch5-gradients"], seeds=[0, 1, 2],
                      gradient_examples=10, **kw)
    assert [len(r["figures"][0]["center"]) for r in grads["networks"]] == [2, 3, 4]
    g = grads["networks"][0]["figures"]
    per_seed = [r["networks"][0]["measured"]["norms"] for r in grads["runs"]]
    assert g[0]["center"] == pytest.approx(tuple(np.median(per_seed, axis=0)))
    assert g[0]["first"] in ("PASS", "MISS") and "stuck" not in grads["networks"][0]
    assert "seed 0 PASS" in format_seeds_report(grads) or "seed 0 MISS" in \
        format_seeds_report(grads)


def test_cli_seeds_runs_n_seeds_from_seed(tmp_path, capsys):
    work = tmp_path / "work"
    _fake_mnist(work / "mnist")
    argv = ["reproduce", "nielsen-ch1", "--data-dir", str(tmp_path / "nodata"), "--work",
            str(work), "--epochs", "1", "--device", "cpu", "--quiet", "--seed", "7"]
    rc = main([*argv, "--seeds", "2", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == [7, 8] and len(out["runs"]) == 2 and rc == (0 if out["pass"] else 1)
    main([*argv, "--seeds", "2"])
    text = capsys.readouterr().out
    assert "mean" in text and "within" in text and "seeds 7..8" in text
    # --seeds 1: one run, the single-seed report
    main([*argv, "--seeds", "1", "--json"])
    assert json.loads(capsys.readouterr().out)["seed"] == 7


@pytest.mark.parametrize("value", ["0", "101", "-1", "1.5", "x"])
def test_bad_seeds_are_refused_naming_the_option_before_loading(tmp_path, capsys,
                                                                monkeypatch, value):
    import desktop_nn.reproduce.report as report

    def never(*args, **kwargs):
        raise AssertionError("loaded before checking the arguments")

    monkeypatch.setattr(report, "run_seeds", never)
    monkeypatch.setattr(report, "run_recipe", never)
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", "nielsen-ch1", "--data-dir", str(tmp_path), f"--seeds={value}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "argument --seeds" in err.splitlines()[-1]


def test_seeds_past_the_largest_seed_are_refused_before_loading(tmp_path, capsys,
                                                                monkeypatch):
    import desktop_nn.reproduce.report as report

    monkeypatch.setattr(report, "run_seeds", lambda *a, **k: pytest.fail("loaded"))
    rc = main(["reproduce", "nielsen-ch1", "--data-dir", str(tmp_path), "--quiet",
               "--seed", str(2**31 - 1), "--seeds", "2"])
    assert rc == 2 and "largest seed" in capsys.readouterr().err
