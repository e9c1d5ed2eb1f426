"""Bounded plot series: memory fixed whatever the run's length, values where they belong."""

import math

import numpy as np
import pytest

from desktop_nn.nn.diagnostics import LayerStats
from desktop_nn.train.history import EpochReport, StepReport
from desktop_nn.train.series import EpochSeries, StepSeries, ema, finite_or_nan, smooth


def report(step: int, n_layers: int = 2) -> StepReport:
    layers = [LayerStats(l, grad_norm_W=step + l / 10, grad_norm_b=2.0 * l,
                         update_ratio=1e-3 * l, saturated_share=0.1 * l)
              for l in range(1, n_layers + 1)]
    return StepReport(epoch=1, step=step, batch_cost=1.0 / step, layers=layers,
                      examples_seen=step, elapsed_s=1.0, examples_per_s=1.0, total_steps=0)


def test_values_land_per_layer():
    s = StepSeries(capacity=8)
    for k in (1, 2, 3):
        s.add(report(k))
    np.testing.assert_array_equal(s.step, [1, 2, 3])
    np.testing.assert_allclose(s.cost, [1, 0.5, 1 / 3])
    np.testing.assert_allclose(s.layer_values("grad_norm_W"), [[1.1, 2.1, 3.1], [1.2, 2.2, 3.2]])
    np.testing.assert_allclose(s.layer_values("saturated_share")[:, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="unknown field"):
        s.layer_values("nope")


def test_a_long_run_stays_within_capacity_and_covers_the_run():
    s = StepSeries(capacity=64)
    r = report(1)
    for k in range(1, 100_001):
        r.step = k  # one report object reused: the series copies the numbers
        s.add(r)
    assert 32 <= s.n <= 64 and s._step.size == 64
    assert s.step[0] == 1 and s.step[-1] > 95_000
    assert np.all(np.diff(s.step) == s.stride)  # evenly spread over the whole run


def test_decimation_keeps_every_other_point_and_then_every_stride():
    s = StepSeries(capacity=4)
    for k in range(1, 11):
        s.add(report(k))
    # 1..4 fill it; 5 halves it to [1, 3] with stride 2, then 5, 7 fill it; 9 halves to [1, 5]
    # with stride 4, then 9 is kept (k = 10 is not a multiple of the stride)
    np.testing.assert_array_equal(s.step, [1, 5, 9])
    assert s.stride == 4
    assert s._step.size == 4  # never grew


def test_histograms_are_thinned_as_the_step_values_are():
    """The heat map's series keeps the same reports as the curves' (one shared rule)."""
    from dataclasses import replace

    from desktop_nn.nn.histograms import ActivationHistograms
    from desktop_nn.train.series import HistogramSeries

    h = HistogramSeries(capacity=4)
    steps = StepSeries(capacity=4)
    for k in range(1, 11):
        shares = np.full((2, 3), k, dtype=float)  # each report's own values
        r = replace(report(k), histograms=ActivationHistograms([(0, 1), (0, 1)], shares))
        h.add(r)
        steps.add(r)
    np.testing.assert_array_equal(h.step, [1, 5, 9])
    np.testing.assert_array_equal(h.step, steps.step)
    assert h.stride == steps.stride == 4
    np.testing.assert_array_equal(h.shares(2)[:, 0], [1, 5, 9])  # the kept reports' shares
    assert h._shares.shape == (2, 4, 3)  # never grew


def test_epoch_series_and_finite():
    e = EpochSeries()
    e.add(EpochReport(1, 10, 0.5, 0.8))
    e.add(EpochReport(2, 20, 0.4, 0.9, val_cost=0.45, val_accuracy=0.85))
    np.testing.assert_array_equal(e.column("step"), [10, 20])
    assert np.isnan(e.column("val_cost")[0])
    np.testing.assert_array_equal(finite_or_nan(np.array([1.0, np.inf, -np.inf])),
                                  [1.0, np.nan, np.nan])


# ---------------------------------------------------------------------------- smoothing
def _ema_loop(x, w):
    """The definition, one point at a time (TensorBoard's debiased EMA, skipping NaN)."""
    out, s, n = [], 0.0, 0
    for v in x:
        if not math.isfinite(v):
            out.append(math.nan)
            continue
        s = w * s + (1 - w) * v
        n += 1
        out.append(s / (1 - w ** n))
    return out


@pytest.mark.parametrize("w", [0.0, 0.5, 0.9, 0.95, 0.999])
def test_ema_equals_the_loop_over_many_blocks(w):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 1000)) * 10 ** rng.uniform(-5, 3, size=(3, 1))
    x[0, [0, 5, 500]] = np.nan
    x[1, 7] = np.inf
    got = ema(x, w)
    for row, got_row in zip(x, got, strict=True):
        np.testing.assert_allclose(got_row, _ema_loop(row, w), rtol=1e-9, atol=0)
    np.testing.assert_allclose(ema(x[2], w), got[2], rtol=0, atol=0)  # (n,) as a row of (L, n)


def test_ema_starts_at_the_first_value_and_follows_a_constant():
    assert ema(np.array([3.0]))[0] == pytest.approx(3.0)
    np.testing.assert_allclose(ema(np.full(50, 2.5)), 2.5, rtol=1e-12)
    assert ema(np.zeros((2, 0))).shape == (2, 0)
    with pytest.raises(ValueError):
        ema(np.ones(3), 1.0)


def test_smooth_on_a_log_axis_is_geometric():
    x = np.array([1e-4, 1e-2, -1.0, 0.0, 1e-3])
    got = smooth(x, log=True, weight=0.5)
    logs = [-4.0, -2.0, math.nan, math.nan, -3.0]
    np.testing.assert_allclose(got, [10 ** v for v in _ema_loop(logs, 0.5)], rtol=1e-12)
    np.testing.assert_allclose(smooth(x, log=False, weight=0.5), _ema_loop(x, 0.5))
