import math
import threading

import numpy as np
import pytest

from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.history import History
from desktop_nn.train.trainer import TrainConfig, Trainer


def test_learns_xor_to_100_percent(xor):
    X, Y = xor
    net = Network(NetworkSpec(2, [2], ["tanh"], 1, "sigmoid", "cross-entropy", "xavier"), seed=0)
    trainer = Trainer(net, X, Y, TrainConfig(lr=0.5, epochs=3000, batch_size=0, report_every=500))
    result = trainer.run()
    assert result.stopped == "completed"
    np.testing.assert_array_equal(net.predict(X), Y[0])
    assert trainer.history.epochs[-1].train_accuracy == 1.0
    assert result.final_cost < 0.01


def test_learns_separable_blobs_to_100_percent(blobs):
    X, Y = blobs
    net = Network(NetworkSpec(2, [4], ["relu"], 1, "sigmoid", "cross-entropy", "he"), seed=1)
    trainer = Trainer(net, X[:, :150], Y[:, :150], TrainConfig(lr=0.1, epochs=20, batch_size=16),
                      X_val=X[:, 150:], Y_val=Y[:, 150:])
    trainer.run()
    last = trainer.history.epochs[-1]
    assert last.train_accuracy == 1.0 and last.val_accuracy == 1.0
    costs = [e.train_cost for e in trainer.history.epochs]
    assert costs[-1] < costs[0] / 5


def test_softmax_multiclass_and_cost_falls():
    rng = np.random.default_rng(3)
    C, m = 3, 300
    labels = rng.integers(0, C, m)
    centres = rng.normal(scale=4, size=(C, 5))
    X = (centres[labels] + rng.normal(size=(m, 5))).T
    Y = np.eye(C)[:, labels]
    for opt, lr in (("sgd", 0.1), ("momentum", 0.1), ("adam", 0.01)):
        net = Network(NetworkSpec(5, [8], ["tanh"], C, "softmax", "cross-entropy"), seed=0)
        tr = Trainer(net, X, Y, TrainConfig(lr=lr, epochs=15, batch_size=32, optimizer=opt))
        tr.run()
        assert tr.history.epochs[-1].train_accuracy > 0.95, opt
        assert tr.history.epochs[-1].train_cost < tr.history.epochs[0].train_cost


def test_same_seed_same_run_different_seed_different(blobs):
    X, Y = blobs

    def run(seed):
        net = Network(NetworkSpec(2, [3], ["tanh"], 1), seed=seed)
        Trainer(net, X, Y, TrainConfig(lr=0.1, epochs=2, batch_size=10, seed=seed)).run()
        return net.get_parameters()[0][0]

    np.testing.assert_array_equal(run(4), run(4))
    assert not np.array_equal(run(4), run(5))


def test_full_batch_is_plain_gradient_descent(blobs):
    """One full-batch step equals W - lr * dW computed directly."""
    X, Y = blobs
    spec = NetworkSpec(2, [3], ["sigmoid"], 1, "sigmoid", "cross-entropy", "xavier")
    net = Network(spec, dtype="float64", seed=2)
    ref = net.copy()
    _, caches = ref.forward(X)
    grads = ref.backward(caches, Y, l2=0.5, n=X.shape[1])
    Trainer(net, X, Y, TrainConfig(lr=0.3, epochs=1, batch_size=0, l2=0.5)).run()
    for W, W0, dW in zip(net.W, ref.W, grads.dW, strict=True):
        np.testing.assert_allclose(W, W0 - 0.3 * dW, rtol=1e-12, atol=1e-14)


def test_nan_guard_stops_and_keeps_last_good_weights(xor):
    X, Y = xor
    spec = NetworkSpec(2, [8], ["relu"], 1, "linear", "quadratic", "normal")
    net = Network(spec, seed=0)
    snapshots = []
    trainer = Trainer(net, X, Y, TrainConfig(lr=10.0, epochs=200, batch_size=0, report_every=1),
                      on_step=lambda r: snapshots.append([w.copy() for w in net.W]))
    result = trainer.run()
    assert result.stopped == "nan"
    assert result.nan_step == trainer.step_count + 1
    assert "step" in result.message and "learning rate" in result.message
    assert all(np.isfinite(w).all() for w in net.W)
    # the kept weights are exactly those after the last good step
    for w, w_good in zip(net.W, snapshots[-1], strict=True):
        np.testing.assert_array_equal(w, w_good)


def test_nan_guard_names_the_layer():
    X = np.ones((2, 4))
    Y = np.zeros((1, 4))
    net = Network(NetworkSpec(2, [3], ["relu"], 1, "linear", "quadratic"), dtype="float32")
    net.W[1][:] = np.float32(3e38)  # the output layer overflows in the forward pass
    trainer = Trainer(net, X, Y, TrainConfig(lr=0.1, epochs=1, batch_size=0))
    net.W[0][:] = 1.0
    result = trainer.run()
    assert result.stopped == "nan" and result.nan_layer == 2
    assert "layer 2" in result.message


def test_pause_step_resume_stop_from_another_thread(blobs):
    X, Y = blobs
    net = Network(NetworkSpec(2, [4], ["tanh"], 1), seed=0)
    steps = []
    trainer = Trainer(net, X, Y, TrainConfig(lr=0.05, epochs=10_000, batch_size=8,
                                             report_every=1_000_000),
                      on_step=lambda r: steps.append(r.step))
    done = threading.Event()
    out = {}

    def work():
        out["result"] = trainer.run(start_paused=True)
        done.set()

    th = threading.Thread(target=work, daemon=True)
    th.start()
    assert not done.wait(0.2)
    assert trainer.step_count == 0  # paused before the first step
    for _ in range(3):
        trainer.step()
    deadline = threading.Event()
    for _ in range(100):
        if trainer.step_count == 3:
            break
        deadline.wait(0.02)
    assert trainer.step_count == 3
    assert steps == [1, 2, 3]  # single steps always report
    deadline.wait(0.1)
    assert trainer.step_count == 3  # and it stays paused after them
    trainer.resume()
    for _ in range(200):
        if trainer.step_count > 50:
            break
        deadline.wait(0.01)
    assert trainer.step_count > 50
    trainer.stop()
    assert done.wait(5)
    assert out["result"].stopped == "stopped"
    assert not trainer.is_running


def test_early_stopping_restores_best_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 40))
    Y = rng.integers(0, 2, (1, 40)).astype(float)  # noise: validation cost soon rises
    Xv = rng.normal(size=(10, 40))
    Yv = rng.integers(0, 2, (1, 40)).astype(float)
    net = Network(NetworkSpec(10, [50], ["relu"], 1), dtype="float64", seed=0)
    snapshots = {}
    tr = Trainer(net, X, Y, TrainConfig(lr=0.5, epochs=500, batch_size=0, patience=5),
                 X_val=Xv, Y_val=Yv,
                 on_epoch=lambda r: snapshots.__setitem__(r.epoch, net.get_parameters()))
    result = tr.run()
    assert result.stopped == "early_stopping"
    best_epoch = min(tr.history.epochs, key=lambda e: e.val_cost).epoch
    assert f"epoch {best_epoch}" in result.message
    np.testing.assert_array_equal(net.get_parameters()[0][0], snapshots[best_epoch][0][0])


def test_step_reports_carry_layer_diagnostics(blobs):
    X, Y = blobs
    reports = []
    net = Network(NetworkSpec(2, [5, 4], ["sigmoid", "relu"], 1), seed=0)
    Trainer(net, X, Y, TrainConfig(epochs=1, batch_size=20, report_every=5),
            on_step=reports.append).run()
    assert [r.step for r in reports] == [5, 10]
    for r in reports:
        assert len(r.layers) == 3
        assert all(isinstance(s.grad_norm_W, float) and s.grad_norm_W >= 0 for s in r.layers)
        assert math.isfinite(r.batch_cost)


def test_history_is_bounded_and_exports(tmp_path, blobs):
    X, Y = blobs
    hist = History(max_step_points=50)
    net = Network(NetworkSpec(2, [3], ["tanh"], 1), seed=0)
    Trainer(net, X, Y, TrainConfig(epochs=40, batch_size=4, report_every=1),
            history=hist).run()
    assert 25 <= len(hist.steps) <= 50
    steps = [r.step for r in hist.steps]
    assert steps == sorted(steps) and steps[-1] > 1500  # spread over the whole run
    csv_path = hist.save_csv(tmp_path / "steps.csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("epoch,step,batch_cost") and "grad_norm_W_2" in lines[0]
    assert len(lines) == len(hist.steps) + 1
    import json

    rows = [json.loads(line) for line in hist.save_jsonl(tmp_path / "h.jsonl").read_text()
            .splitlines()]
    assert sum(r["type"] == "epoch" for r in rows) == 40
    assert sum(r["type"] == "step" for r in rows) == len(hist.steps)


def test_bad_shapes_are_refused(blobs):
    X, Y = blobs
    net = Network(NetworkSpec(2, [3], ["tanh"], 1), seed=0)
    with pytest.raises(ValueError, match="X must have shape"):
        Trainer(net, X.T, Y)
    with pytest.raises(ValueError, match="Y has shape"):
        Trainer(net, X, np.vstack([Y, Y]))
    with pytest.raises(ValueError, match="learning rate"):
        Trainer(net, X, Y, TrainConfig(lr=-1))


def test_pause_and_stop_asked_before_the_run_begins_are_honoured(xor):
    from desktop_nn.nn.network import Network, NetworkSpec
    from desktop_nn.train.trainer import TrainConfig, Trainer

    X, Y = xor
    net = Network(NetworkSpec(2, [2], ["tanh"], 1, "sigmoid"), dtype="float64")
    trainer = Trainer(net, X, Y, TrainConfig(epochs=5, batch_size=0))
    trainer.pause()
    trainer.step()
    trainer.stop()
    result = trainer.run()
    assert result.stopped == "stopped" and trainer.step_count == 0
    assert trainer.run().stopped == "completed"  # flags cleared when the run ended
    assert trainer.step_count == 5


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_float32_stays_float32_after_init_and_steps(blobs, optimizer):
    """A float32 array divided by a NumPy float64 scalar becomes float64 under NumPy 2 (and
    halves matmul speed): parameters, gradients and optimiser state must stay float32."""
    X, Y = blobs
    net = Network(NetworkSpec(2, [4, 3], ["relu", "tanh"], 1, "sigmoid"), dtype="float32")
    assert all(a.dtype == np.float32 for a in net.W + net.b)
    t = Trainer(net, X, Y, TrainConfig(lr=np.float64(0.05), epochs=2, batch_size=16,
                                       optimizer=optimizer, l2=np.float64(0.1)))
    t.run()
    assert all(a.dtype == np.float32 for a in net.W + net.b)
    assert all(a.dtype == np.float32 for a in t._grads.dW + t._grads.db)
    assert all(a.dtype == np.float32 for a in t.optimizer.state_arrays().values())
