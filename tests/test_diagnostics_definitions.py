"""Every diagnostic a report carries equals its definition in docs/diagnostics.md, computed
independently: from the weights saved before and after each step, and from a second forward
pass (plain NumPy, float64) over the window's examples with the weights each batch met.

The trainer runs as it always does; the test only records, through a wrapper around
``Network.forward``, each training batch X and host copies of W and b as that batch met them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_nn.nn.diagnostics import (
    SATURATION_THRESHOLD,
    WINDOW_EXAMPLES,
    LayerStats,
    unit_measure,
)
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.history import History, StepReport
from desktop_nn.train.trainer import TrainConfig, Trainer

REL = 1e-6
ACT = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
       "relu": lambda z: np.maximum(z, 0), "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
       "linear": lambda z: z,
       "softmax": lambda z: np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0)}
DERIV_OVER_MAX = {"sigmoid": lambda a: 4 * a * (1 - a), "tanh": lambda a: 1 - a * a}


class Recorder:
    """Wraps net.forward: keeps (X, W, b) of every training batch, host float64 copies."""

    def __init__(self, net: Network) -> None:
        self.batches: list[tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]] = []
        self.final: tuple[list[np.ndarray], list[np.ndarray]] | None = None
        forward = net.forward

        def recording(X):
            W, b = net.get_parameters()
            self.batches.append((np.array(X, dtype=np.float64), W, b))
            return forward(X)

        net.forward = recording
        backward = net.backward
        self.targets: list[np.ndarray] = []

        def recording_backward(caches, Y, *args, **kwargs):
            self.targets.append(np.array(Y, dtype=np.float64))
            return backward(caches, Y, *args, **kwargs)

        net.backward = recording_backward
        self.net = net

    def weights_after(self, k: int) -> list[np.ndarray]:
        """W after step k (0-based): what batch k + 1 met, or the network's now."""
        if k + 1 < len(self.batches):
            return self.batches[k + 1][1]
        return self.net.get_parameters()[0]


def forward_by_hand(activations: list[str], X, W, b) -> list[np.ndarray]:
    a, out = X, []
    for w, bb, name in zip(W, b, activations, strict=True):
        a = ACT[name](w @ a + bb)
        out.append(a)
    return out


def train(spec: NetworkSpec, optimizer: str = "sgd", l2: float = 0.0, report_every: int = 1,
          epochs: int = 3, batch: int = 50, m: int = 500, seed: int = 0, lr: float = 0.05,
          setup=None) -> tuple[Trainer, Recorder, list[StepReport]]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((spec.input_size, m))
    Y = np.eye(spec.output_size)[:, rng.integers(0, spec.output_size, m)]
    if spec.output_size == 1:
        Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    net = Network(spec, dtype="float64", seed=seed)
    if setup:
        setup(net)
    reports: list[StepReport] = []
    trainer = Trainer(net, X, Y, TrainConfig(lr=lr, epochs=epochs, batch_size=batch,
                                             optimizer=optimizer, l2=l2,
                                             report_every=report_every, evaluate=False),
                      on_step=reports.append)
    recorder = Recorder(net)
    trainer.run()
    return trainer, recorder, reports


# ------------------------------------------------------------------ update ratio

@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("l2", [0.0, 5.0])
def test_update_ratio_is_the_step_the_weights_really_took(optimizer, l2):
    spec = NetworkSpec(8, [12, 6], ["sigmoid", "relu"], 3, "softmax", "cross-entropy")
    trainer, rec, reports = train(spec, optimizer, l2, report_every=3)
    assert len(reports) == 10 and len(rec.batches) == 30
    for r in reports:
        k = r.step - 1
        before, after = rec.batches[k][1], rec.weights_after(k)
        for s, w0, w1 in zip(r.layers, before, after, strict=True):
            expected = np.linalg.norm(w1 - w0) / np.linalg.norm(w0)
            assert s.update_ratio == pytest.approx(expected, rel=REL)


def test_update_ratio_is_not_lr_times_gradient_for_adam():
    """The old formula lr ||dW|| / ||W|| is far from Adam's real step (the issue's case)."""
    spec = NetworkSpec(8, [12, 6], ["sigmoid", "sigmoid"], 3, "softmax", "cross-entropy")
    _, rec, reports = train(spec, "adam", lr=0.001, epochs=1)
    first = reports[0]
    w0 = rec.batches[0][1]
    for s, w in zip(first.layers, w0, strict=True):
        old = 0.001 * s.grad_norm_W / np.linalg.norm(w)
        assert s.update_ratio > 3 * old or s.update_ratio < old / 3


# ------------------------------------------------------------------ norms

def test_gradient_norms_equal_a_second_backward_pass():
    spec = NetworkSpec(8, [12], ["tanh"], 1, "sigmoid", "cross-entropy")
    trainer, rec, reports = train(spec, "momentum", l2=1.0, epochs=1)
    for r in reports:
        X, W, b = rec.batches[r.step - 1]
        net = Network(spec, dtype="float64", seed=None)
        net.set_parameters(W, b)
        _, caches = net.forward(X)
        grads = net.backward(caches, rec.targets[r.step - 1], l2=1.0, n=500)
        for s, dW, db in zip(r.layers, grads.dW, grads.db, strict=True):
            assert s.grad_norm_W == pytest.approx(np.linalg.norm(dW), rel=REL)
            assert s.grad_norm_b == pytest.approx(np.linalg.norm(db), rel=REL)


# ------------------------------------------------------------------ units over a window

def windows(reports: list[StepReport], rec: Recorder) -> list[list[int]]:
    """The steps (1-based) of each closed window: reported batches until >= WINDOW_EXAMPLES."""
    out, current, seen = [], [], 0
    for r in reports:
        current.append(r.step)
        seen += rec.batches[r.step - 1][0].shape[1]
        if seen >= WINDOW_EXAMPLES:
            out.append(current)
            current, seen = [], 0
    return out


def unit_shares_by_hand(spec: NetworkSpec, rec: Recorder, steps: list[int]
                        ) -> tuple[list[float], list[float]]:
    """(saturated, dead) per layer over the window of ``steps``, from a second forward pass
    with the weights each batch met."""
    acts = spec.activations
    per_layer: list[list[np.ndarray]] = [[] for _ in acts]
    for step in steps:
        X, W, b = rec.batches[step - 1]
        for l, a in enumerate(forward_by_hand(acts, X, W, b)):
            per_layer[l].append(a)
    saturated, dead = [], []
    for l, name in enumerate(acts):
        A = np.concatenate(per_layer[l], axis=1)  # (n_l, examples of the window)
        kind = unit_measure(name, l == len(acts) - 1, spec.cost)[0]
        sat = d = math.nan
        if kind == "saturation":
            sat = float(np.mean(DERIV_OVER_MAX[name](A).mean(axis=1) < SATURATION_THRESHOLD))
        elif kind == "dead":
            d = float(np.mean(np.all(A == 0, axis=1)))
        saturated.append(sat)
        dead.append(d)
    return saturated, dead


def saturating_setup(net: Network) -> None:
    """Big weights and biases in the first layers (partly saturated sigmoid and tanh units),
    ReLU units
    with a very negative bias (dead)."""
    W, b = net.get_parameters()
    rng = np.random.default_rng(3)
    W[0] = 4.0 * rng.standard_normal(W[0].shape)
    W[1] = 3.0 * rng.standard_normal(W[1].shape)
    b[0][[0, 1, 2]] = 40.0  # sigmoid units at 1 for every example
    b[1][[0, 1]] = -30.0  # tanh units at -1
    b[2][[0, 1]] = -1000.0
    net.set_parameters(W, b)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_saturated_and_dead_shares_equal_a_second_forward_pass(optimizer):
    spec = NetworkSpec(6, [10, 8, 8], ["sigmoid", "tanh", "relu"], 2, "sigmoid", "quadratic")
    _, rec, reports = train(spec, optimizer, report_every=2, epochs=16, batch=40, lr=0.01,
                            setup=saturating_setup)
    closed = windows(reports, rec)
    assert len(closed) >= 3
    by_step = {r.step: r for r in reports}
    nan_before = [r for r in reports if r.step < closed[0][-1]]
    assert nan_before and all(math.isnan(s.saturated_share) and math.isnan(s.dead_share)
                              for r in nan_before for s in r.layers)
    exercised = set()
    for i, steps in enumerate(closed):
        saturated, dead = unit_shares_by_hand(spec, rec, steps)
        # the value is reported from the step that closes the window until the next closes
        until = closed[i + 1][-1] if i + 1 < len(closed) else reports[-1].step + 1
        for step in [s for s in by_step if steps[-1] <= s < until]:
            for s, sat, d in zip(by_step[step].layers, saturated, dead, strict=True):
                for got, want in ((s.saturated_share, sat), (s.dead_share, d)):
                    if math.isnan(want):
                        assert math.isnan(got)
                    else:
                        assert got == pytest.approx(want, rel=REL, abs=1e-12)
                        if 0 < want < 1:
                            exercised.add(s.layer)
    assert {1, 2} <= exercised  # partly saturated sigmoid and tanh layers
    assert by_step[closed[0][-1]].layers[2].dead_share == pytest.approx(2 / 8)
    # the output (sigmoid under the quadratic cost) is measured: it slows learning there
    assert not math.isnan(reports[-1].layers[3].saturated_share)


def test_a_unit_zero_on_some_batches_is_not_dead_over_the_window():
    """Per mini-batch the rarely active unit would count as dead; over the window it does not."""
    spec = NetworkSpec(6, [8], ["relu"], 2, "softmax", "cross-entropy")

    def setup(net: Network) -> None:
        W, b = net.get_parameters()
        W[0][0] = 0.0
        W[0][0, 0] = 1.0
        b[0][0] = -2.5  # active where x_0 > 2.5: about 0.6 % of the examples
        b[0][1] = -1000.0  # dead
        net.set_parameters(W, b)

    _, rec, reports = train(spec, "sgd", epochs=4, batch=20, lr=1e-6, setup=setup)
    per_batch_dead = []
    for X, W, b in rec.batches:
        A = forward_by_hand(spec.activations, X, W, b)[0]
        per_batch_dead.append(bool(np.all(A[0] == 0)))
    assert sum(per_batch_dead) > len(per_batch_dead) / 2  # dead on most single batches
    closed = windows(reports, rec)
    for steps in closed:
        _, dead = unit_shares_by_hand(spec, rec, steps)
        assert dead[0] == pytest.approx(1 / 8)  # only the unit with bias -1000
    assert reports[-1].layers[0].dead_share == pytest.approx(1 / 8)


@pytest.mark.parametrize("hidden, output, cost", [
    ("leaky_relu", "softmax", "cross-entropy"), ("linear", "sigmoid", "cross-entropy"),
    ("relu", "softmax", "quadratic"), ("sigmoid", "linear", "quadratic")])
def test_layers_where_the_measures_do_not_apply_report_nan(hidden, output, cost):
    spec = NetworkSpec(6, [8], [hidden], 2, output, cost)
    _, _, reports = train(spec, epochs=3, batch=100)
    last = reports[-1].layers
    for s, name, is_out in ((last[0], hidden, False), (last[1], output, True)):
        kind, why = unit_measure(name, is_out, cost)
        assert why
        if kind != "saturation":
            assert math.isnan(s.saturated_share)
        else:
            assert not math.isnan(s.saturated_share)
        if kind != "dead":
            assert math.isnan(s.dead_share)
        else:
            assert not math.isnan(s.dead_share)


def test_unit_measure_says_why():
    assert unit_measure("sigmoid", True, "cross-entropy")[0] == "n/a"
    assert "cancels" in unit_measure("sigmoid", True, "cross-entropy")[1]
    assert unit_measure("sigmoid", True, "quadratic")[0] == "saturation"
    assert unit_measure("tanh", False, "cross-entropy")[0] == "saturation"
    assert unit_measure("relu", False, "quadratic")[0] == "dead"
    for name in ("softmax", "linear", "leaky_relu"):
        kind, why = unit_measure(name, name == "softmax", "quadratic")
        assert kind == "n/a" and name.split("_")[0] in why.lower()


# ------------------------------------------------------------------ histograms

def test_activation_histograms_equal_numpy_histograms_of_the_batch():
    spec = NetworkSpec(6, [10, 8], ["sigmoid", "relu"], 3, "softmax", "cross-entropy")
    _, rec, reports = train(spec, "adam", report_every=4, epochs=2)
    for r in reports:
        h = r.histograms
        assert h is not None and h.shares.shape[0] == 3
        X, W, b = rec.batches[r.step - 1]
        for l, a in enumerate(forward_by_hand(spec.activations, X, W, b)):
            lo, hi = h.ranges[l]
            bins = h.shares.shape[1]
            counts, _ = np.histogram(np.clip(a, lo, hi), bins=bins, range=(lo, hi))
            np.testing.assert_allclose(h.shares[l], counts / a.size, rtol=REL, atol=1e-12)
    assert reports[0].histograms.ranges[0] == (0.0, 1.0)
    lo, hi = reports[0].histograms.ranges[1]
    assert lo == 0.0 and hi > 0  # relu: from 0 to a round number above the first maximum
    assert reports[-1].histograms.ranges == reports[0].histograms.ranges  # fixed for the run


def test_history_keeps_reports_without_histograms():
    spec = NetworkSpec(6, [8], ["sigmoid"], 2, "softmax", "cross-entropy")
    trainer, _, reports = train(spec, epochs=1)
    assert reports[-1].histograms is not None
    assert all(r.histograms is None for r in trainer.history.steps)
    assert "histograms" not in reports[-1].to_dict()


# ------------------------------------------------------------------ saved histories

def test_step_records_of_older_versions_still_load():
    """Before issue 22 a layer row had "saturation" (per mini-batch, another definition):
    it is dropped, the shares read NaN; unknown keys are ignored; null is NaN."""
    old = {"epoch": 1, "step": 10, "batch_cost": 0.5, "examples_seen": 100, "elapsed_s": 0.1,
           "examples_per_s": 1000.0, "total_steps": 50, "type": "step",
           "layers": [{"layer": 1, "grad_norm_W": 2.0, "grad_norm_b": 0.5,
                       "update_ratio": 1e-3, "saturation": 0.25},
                      {"layer": 2, "grad_norm_W": None, "grad_norm_b": 0.1,
                       "update_ratio": 2e-3, "saturation": 0.0, "future_field": 7}]}
    r = StepReport.from_dict(old)
    assert (r.epoch, r.step, r.total_steps) == (1, 10, 50)
    assert r.layers[0] == LayerStats(1, 2.0, 0.5, 1e-3)
    assert math.isnan(r.layers[0].saturated_share) and math.isnan(r.layers[0].dead_share)
    assert math.isnan(r.layers[1].grad_norm_W) and r.layers[1].update_ratio == 2e-3


def test_step_records_round_trip_through_json_lines():
    import json

    spec = NetworkSpec(6, [8], ["relu"], 2, "softmax", "cross-entropy")
    trainer, _, _ = train(spec, epochs=3, batch=100)
    history: History = trainer.history
    lines = [json.loads(x) for x in history.to_jsonl().splitlines()]
    steps = [StepReport.from_dict(d) for d in lines if d["type"] == "step"]
    assert len(steps) == len(history.steps)
    for a, b in zip(steps, history.steps, strict=True):
        assert a.step == b.step
        for x, y in zip(a.layers, b.layers, strict=True):
            for f in ("grad_norm_W", "update_ratio", "dead_share", "saturated_share"):
                u, v = getattr(x, f), getattr(y, f)
                assert (math.isnan(u) and math.isnan(v)) or u == v
