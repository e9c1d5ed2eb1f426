"""Optimisers against hand-written references, and the weight initialisation schemes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_nn.nn.init import init_parameters
from desktop_nn.nn.network import Gradients, Network, NetworkSpec
from desktop_nn.nn.optimizers import make_optimizer

SPEC = NetworkSpec(3, [2], ["tanh"], 2, "softmax", "cross-entropy")
W0 = [np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.6]]), np.array([[1.0, -1.5], [0.25, 0.4]])]
B0 = [np.array([[0.1], [-0.3]]), np.array([[0.0], [0.2]])]


def _grads(step: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Fixed, different gradients for steps 0, 1, 2 (some entries change sign, one is 0)."""
    k = step + 1
    dW = [np.array([[0.3, -0.1 * k, 0.0], [2.0 / k, 0.05, -0.7]]) * (-1) ** step,
          np.array([[0.01 * k, 1.0], [-0.4, 0.2 * k]])]
    db = [np.array([[0.6], [-0.05 * k]]), np.array([[1e-3 * k], [-2.0]]) * (-1) ** step]
    return dW, db


def _net() -> Network:
    net = Network(SPEC, dtype="float64", seed=None)
    net.set_parameters([w.copy() for w in W0], [b.copy() for b in B0])
    return net


def _run(name: str, lr: float, **kw):
    net = _net()
    opt = make_optimizer(name, lr, **kw)
    ids = [id(p) for p in net.W + net.b]
    for t in range(3):
        dW, db = _grads(t)
        opt.step(net, Gradients(dW=dW, db=db))
    assert [id(p) for p in net.W + net.b] == ids  # updated in place
    assert opt.t == 3
    return net.W + net.b


def _params0():
    return [p.copy() for p in W0 + B0]


def _grad_list(t):
    dW, db = _grads(t)
    return dW + db


def test_sgd_three_steps():
    ref = _params0()
    for t in range(3):
        ref = [p - 0.1 * g for p, g in zip(ref, _grad_list(t), strict=True)]
    for got, exp in zip(_run("sgd", 0.1), ref, strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-14, atol=1e-15)


def test_sgd_one_entry_by_hand():
    got = _run("sgd", 0.5)
    # W[1][0, 0] after three steps: 0.5 - 0.5 * (0.3 - 0.3 + 0.3)
    assert got[0][0, 0] == pytest.approx(0.5 - 0.5 * 0.3, abs=1e-15)


@pytest.mark.parametrize("beta", [0.9, 0.5])
def test_momentum_three_steps(beta):
    lr = 0.05
    ref = _params0()
    v = [np.zeros_like(p) for p in ref]
    for t in range(3):
        g = _grad_list(t)
        v = [beta * vi + (1 - beta) * gi for vi, gi in zip(v, g, strict=True)]
        ref = [p - lr * vi for p, vi in zip(ref, v, strict=True)]
    kw = {} if beta == 0.9 else {"beta": beta}
    for got, exp in zip(_run("momentum", lr, **kw), ref, strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-13, atol=1e-15)


def test_momentum_first_step_is_scaled_gradient():
    """v1 = (1 - beta) g, so the first step moves by lr (1 - beta) g (the course notes' form)."""
    net = _net()
    opt = make_optimizer("momentum", 1.0, beta=0.9)
    dW, db = _grads(0)
    opt.step(net, Gradients(dW=dW, db=db))
    np.testing.assert_allclose(net.W[0], W0[0] - 0.1 * dW[0], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kw", [{}, {"beta1": 0.8, "beta2": 0.99}])
def test_adam_three_steps(kw):
    lr, b1, b2, eps = 0.01, kw.get("beta1", 0.9), kw.get("beta2", 0.999), 1e-8
    ref = _params0()
    v = [np.zeros_like(p) for p in ref]
    s = [np.zeros_like(p) for p in ref]
    for t in range(1, 4):
        g = _grad_list(t - 1)
        v = [b1 * vi + (1 - b1) * gi for vi, gi in zip(v, g, strict=True)]
        s = [b2 * si + (1 - b2) * gi * gi for si, gi in zip(s, g, strict=True)]
        v_hat = [vi / (1 - b1**t) for vi in v]
        s_hat = [si / (1 - b2**t) for si in s]
        ref = [p - lr * vh / (np.sqrt(sh) + eps)
               for p, vh, sh in zip(ref, v_hat, s_hat, strict=True)]
    for got, exp in zip(_run("adam", lr, **kw), ref, strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    """With bias correction, step 1 is lr * g / (|g| + eps): lr * sign(g) for |g| >> eps."""
    net = _net()
    opt = make_optimizer("adam", 0.01)
    dW, db = _grads(0)
    opt.step(net, Gradients(dW=dW, db=db))
    g = dW[0]
    expected = W0[0] - 0.01 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(net.W[0], expected, rtol=1e-12, atol=1e-15)
    assert net.W[0][0, 2] == W0[0][0, 2]  # zero gradient: no move
    assert net.W[0][0, 0] == pytest.approx(0.5 - 0.01, abs=1e-9)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_big_parameters_updated_block_by_block_equal_whole_array_updates(name, monkeypatch):
    """W of 2.6 blocks (a partial last block) goes through the CPU's blocked update; the same
    steps with blocking off (BLOCK above W's size) must give the same bits, and the blocked
    optimiser must keep no W-sized scratch array."""
    from desktop_nn.nn.ops import numpy_ops

    spec = NetworkSpec(301, [141], ["relu"], 3, "softmax", "cross-entropy")
    block = 16384
    assert 2 * block < 141 * 301 < 3 * block

    def run(block: int) -> tuple[list[np.ndarray], object]:
        monkeypatch.setattr(numpy_ops, "BLOCK", block)
        net = Network(spec, dtype="float32", seed=3)
        opt = make_optimizer(name, 0.01)
        opt.allocate(net)
        rng = np.random.default_rng(7)
        for _ in range(3):
            dW = [rng.standard_normal(w.shape, dtype=np.float32) for w in net.W]
            db = [rng.standard_normal(b.shape, dtype=np.float32) for b in net.b]
            opt.step(net, Gradients(dW=dW, db=db))
        return [p.copy() for p in net.W + net.b], opt

    blocked, opt = run(block)
    whole, _ = run(10**9)
    for got, exp in zip(blocked, whole, strict=True):
        assert got.dtype == np.float32 and np.array_equal(got, exp)
    assert opt.scratch[("W", 0)].shape == (block,)  # one block, not a copy of the big W
    assert opt.scratch[("W", 1)].shape == (3, 141)
    assert not np.array_equal(blocked[0], Network(spec, dtype="float32", seed=3).W[0])


def test_blocked_update_falls_back_for_a_non_contiguous_gradient(monkeypatch):
    from desktop_nn.nn.ops import numpy_ops

    monkeypatch.setattr(numpy_ops, "BLOCK", 16384)
    net = Network(NetworkSpec(300, [100], ["relu"], 2, "softmax", "cross-entropy"),
                  dtype="float64", seed=1)
    W = net.W[0].copy()
    g = np.asfortranarray(np.random.default_rng(0).standard_normal(W.shape))
    assert not g.flags.c_contiguous and W.size > numpy_ops.BLOCK
    opt = make_optimizer("sgd", 0.5)
    opt.step(net, Gradients(dW=[g, np.zeros_like(net.W[1])],
                            db=[np.zeros_like(b) for b in net.b]))
    np.testing.assert_array_equal(net.W[0], W - 0.5 * g)


def test_adam_eps_matters_for_tiny_gradients():
    """g = 1e-8 with eps = 1e-8: first step is lr * 1e-8 / (1e-8 + 1e-8) = lr / 2."""
    net = Network(NetworkSpec(1, [], [], 1, "linear", "quadratic"), dtype="float64", seed=None)
    net.set_parameters([np.array([[1.0]])], [np.array([[0.0]])])
    opt = make_optimizer("adam", 0.1)
    opt.step(net, Gradients(dW=[np.array([[1e-8]])], db=[np.array([[0.0]])]))
    assert net.W[0][0, 0] == pytest.approx(1.0 - 0.05, rel=1e-9)


def test_optimizer_rejects_bad_input():
    with pytest.raises(ValueError):
        make_optimizer("sgd", 0.0)
    with pytest.raises(ValueError):
        make_optimizer("rmsprop", 0.1)


# ------------------------------------------------------------------ initialisation

N_IN, N_OUT = 300, 400
# The brief asks for 5%; the sampling error of a std over 120000 draws is ~0.2%, so 2% is a
# safe and sharper bound (it tells sqrt(2/300) from, say, sqrt(2/330)).
STD_TOL = 0.02
EXPECTED_STD = {
    "he": math.sqrt(2 / N_IN),
    "xavier": math.sqrt(2 / (N_IN + N_OUT)),
    "small": 0.01,
    "normal": 1.0,
    "scaled": 1 / math.sqrt(N_IN),
}


@pytest.mark.parametrize("scheme", sorted(EXPECTED_STD))
def test_init_std_matches_formula(scheme):
    W, b = init_parameters([N_IN, N_OUT], scheme, "zeros", np.random.default_rng(0))
    w = W[0]
    assert w.shape == (N_OUT, N_IN) and b[0].shape == (N_OUT, 1)
    std = EXPECTED_STD[scheme]
    assert abs(w.std() / std - 1) < STD_TOL
    assert abs(w.mean()) < 0.02 * std
    np.testing.assert_array_equal(b[0], 0.0)


@pytest.mark.parametrize("scheme", sorted(EXPECTED_STD))
def test_network_init_std_matches_formula(scheme):
    spec = NetworkSpec(N_IN, [], [], N_OUT, "linear", "quadratic", init=scheme)
    net = Network(spec, dtype="float64", seed=7)
    assert abs(net.W[0].std() / EXPECTED_STD[scheme] - 1) < STD_TOL


def test_init_scales_per_layer():
    """Each layer uses its own n_in: he on [100, 400, 50] -> sqrt(2/100) then sqrt(2/400)."""
    W, _ = init_parameters([100, 400, 50], "he", "zeros", np.random.default_rng(1))
    assert abs(W[0].std() / math.sqrt(2 / 100) - 1) < STD_TOL
    assert abs(W[1].std() / math.sqrt(2 / 400) - 1) < STD_TOL


def test_normal_bias_init_std_one():
    _, b = init_parameters([2, 20000], "he", "normal", np.random.default_rng(2))
    assert abs(b[0].std() - 1) < STD_TOL
    assert abs(b[0].mean()) < 0.05


def test_same_seed_same_parameters_different_seed_differs():
    spec = NetworkSpec(5, [4, 3], ["relu"], 2, "softmax", "cross-entropy", bias_init="normal")
    a = Network(spec, dtype="float64", seed=42).get_parameters()
    b = Network(spec, dtype="float64", seed=42).get_parameters()
    c = Network(spec, dtype="float64", seed=43).get_parameters()
    for x, y in zip(a[0] + a[1], b[0] + b[1], strict=True):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(a[0] + a[1], c[0] + c[1], strict=True):
        assert not np.array_equal(x, y)
    # float32 network from the same seed is the float64 one rounded
    d = Network(spec, dtype="float32", seed=42).get_parameters()
    for x, y in zip(a[0] + a[1], d[0] + d[1], strict=True):
        np.testing.assert_array_equal(x.astype(np.float32), y)


def test_reset_redraws_from_seed():
    spec = NetworkSpec(3, [4], ["tanh"], 1, "sigmoid", "cross-entropy")
    net = Network(spec, dtype="float64", seed=3)
    first = [w.copy() for w in net.W]
    net.reset(9)
    assert not np.array_equal(net.W[0], first[0])
    net.reset(3)
    for x, y in zip(net.W, first, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_optimizer_state_survives_set_parameters(name):
    """Reloading the same values (as a model load / copy does) must not change the trajectory."""
    X = np.random.default_rng(0).standard_normal((3, 5))
    Y = np.eye(2)[:, [0, 1, 0, 1, 0]]
    results = []
    for reload in (False, True):
        net = _net()
        opt = make_optimizer(name, 0.1)
        for t in range(2):
            if reload and t == 1:
                net.set_parameters(*net.get_parameters())
            _, caches = net.forward(X)
            opt.step(net, net.backward(caches, Y))
        results.append(net.get_parameters())
    for a, b in zip(results[0][0] + results[0][1], results[1][0] + results[1][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_two_networks_training_in_two_threads_share_no_scratch(name, monkeypatch):
    """The window's run and an example may train at once on the CPU: each network's ops and
    each optimiser's scratch are their own, so two runs in two threads give the bits of the
    same runs one after the other (big layers, so that the blocked updates run)."""
    import threading

    from desktop_nn.nn.ops import numpy_ops
    from desktop_nn.train.trainer import TrainConfig, Trainer

    monkeypatch.setattr(numpy_ops, "BLOCK", 4096)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 256)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[:, rng.integers(0, 3, 256)]
    spec = NetworkSpec(600, [80], ["relu"], 3, "softmax", "cross-entropy")  # W: 12 blocks

    optimizers = []

    def train(seed: int, out: dict) -> None:
        net = Network(spec, dtype="float32", seed=seed)
        trainer = Trainer(net, X, Y, TrainConfig(lr=0.01, epochs=3, batch_size=16,
                                                 optimizer=name, l2=0.1))
        trainer.run()
        out[seed] = net.get_parameters()[0]
        optimizers.append(trainer.optimizer)

    alone: dict = {}
    for seed in (1, 2):
        train(seed, alone)
    together: dict = {}
    threads = [threading.Thread(target=train, args=(seed, together)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (1, 2):
        for a, b in zip(alone[seed], together[seed], strict=True):
            np.testing.assert_array_equal(a, b)
    first, second = optimizers[-2:]
    assert first.scratch[("W", 0)].shape == (4096,)  # W went block by block
    assert not any(np.shares_memory(a, b) for a in first.scratch.values()
                   for b in second.scratch.values())
