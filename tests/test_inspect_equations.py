"""The Math tab's equations: actual shapes per layer, the output delta per cost and output
activation, derivatives named per activation, the L2 term, text and HTML renderings."""

from __future__ import annotations

import pytest

from desktop_nn.inspect.equations import (
    BACKWARD,
    COST,
    FORWARD,
    NOTATION,
    UPDATE,
    equations,
    output_delta,
    to_html,
    to_text,
)
from desktop_nn.nn.network import NetworkSpec


def _spec(hidden=(20, 7, 5), acts=("relu",), n_out=1, out="sigmoid", cost="cross-entropy",
          n_x=12288) -> NetworkSpec:
    return NetworkSpec(n_x, list(hidden), list(acts), n_out, out, cost)


def _lines(sections, stage=None, layer=None):
    return [e for s in sections if (stage is None or s.stage == stage)
            and (layer is None or s.layer == layer) for e in s.equations]


def _find(sections, prefix, stage=None, layer=None):
    hits = [e for e in _lines(sections, stage, layer) if e.text.startswith(prefix)]
    assert hits, f"no equation starting with {prefix!r}"
    return hits[0]


def test_sections_in_order_forward_then_backward():
    secs = equations(_spec())
    stages = [(s.stage, s.layer) for s in secs]
    assert stages == [(NOTATION, None), (FORWARD, 1), (FORWARD, 2), (FORWARD, 3), (FORWARD, 4),
                      (COST, None), (BACKWARD, 4), (BACKWARD, 3), (BACKWARD, 2), (BACKWARD, 1),
                      (UPDATE, None)]


def test_forward_shapes_for_an_image_network():
    secs = equations(_spec())
    z1 = _find(secs, "Z[1]", FORWARD, 1)
    assert z1.text == "Z[1] = W[1] X + b[1]"
    assert "(20, m) = (20, 12288)(12288, m) + (20, 1)" in z1.shapes
    a1 = _find(secs, "A[1]", FORWARD, 1)
    assert a1.text == "A[1] = relu(Z[1])" and a1.shapes == "(20, m)"
    z2 = _find(secs, "Z[2]", FORWARD, 2)
    assert z2.text == "Z[2] = W[2] A[1] + b[2]"
    assert z2.shapes == "(7, m) = (7, 20)(20, m) + (7, 1)"
    assert _find(secs, "Z[4]", FORWARD, 4).shapes == "(1, m) = (1, 5)(5, m) + (1, 1)"
    assert _find(secs, "A[4]", FORWARD, 4).text == "A[4] = sigmoid(Z[4])"


def test_backward_shapes():
    secs = equations(_spec())
    dw1 = _find(secs, "dW[1]", BACKWARD, 1)
    assert dw1.text == "dW[1] = (1/m) dZ[1] X^T"
    assert dw1.shapes == "(20, 12288) = (20, m)(m, 12288)"
    dw3 = _find(secs, "dW[3]", BACKWARD, 3)
    assert dw3.text == "dW[3] = (1/m) dZ[3] A[2]^T" and dw3.shapes.startswith("(5, 7) =")
    assert _find(secs, "db[3]", BACKWARD, 3).shapes == "(5, 1)"
    da = _find(secs, "dA[2]", BACKWARD, 3)
    assert da.text == "dA[2] = W[3]^T dZ[3]" and da.shapes == "(7, m) = (7, 5)(5, m)"
    dz = _find(secs, "dZ[2]", BACKWARD, 3)
    assert dz.text == "dZ[2] = dA[2] * relu'(Z[2])" and dz.shapes.startswith("(7, m)")
    # no gradient for the input
    assert not [e for e in _lines(secs, BACKWARD, 1) if e.text.startswith("dA[0] =")]


def test_a_batch_size_replaces_m_in_the_shapes():
    secs = equations(_spec(), batch=64)
    assert "(20, 64) = (20, 12288)(12288, 64) + (20, 1)" in _find(secs, "Z[1]").shapes


@pytest.mark.parametrize("out,cost,n_out,text,phrase", [
    ("sigmoid", "cross-entropy", 1, "dZ[2] = A[2] - Y", "the sigmoid's derivative cancels"),
    ("softmax", "cross-entropy", 3, "dZ[2] = A[2] - Y", "softmax Jacobian cancels"),
    ("sigmoid", "quadratic", 1, "dZ[2] = (A[2] - Y) * sigmoid'(Z[2])", "slows learning"),
    ("tanh", "quadratic", 1, "dZ[2] = (A[2] - Y) * tanh'(Z[2])", "slows learning"),
    ("softmax", "quadratic", 3, "dZ[2] = A[2] * (dA[2]", "slows learning"),
    ("linear", "quadratic", 1, "dZ[2] = (A[2] - Y) * linear'(Z[2]) = A[2] - Y", "saturates"),
])
def test_output_delta_per_cost_and_output(out, cost, n_out, text, phrase):
    secs = equations(_spec(hidden=[4], acts=["tanh"], n_out=n_out, out=out, cost=cost, n_x=3))
    delta = _lines(secs, BACKWARD, 2)[0]
    assert delta.text.startswith(text)
    assert delta.shapes.startswith(f"({n_out}, m)")
    assert phrase in delta.note
    if cost == "quadratic" and out == "sigmoid":
        assert "σ(z)(1 - σ(z))" in delta.note and "saturate" in delta.note
    if cost == "cross-entropy":
        assert "slows" not in delta.note
    assert output_delta(2, n_out, out, cost) == delta


@pytest.mark.parametrize("act,derivative", [
    ("sigmoid", "σ(z)(1 - σ(z))"),
    ("tanh", "1 - tanh²(z)"),
    ("relu", "1[z > 0]"),
    ("leaky_relu", "1 if z > 0 else 0.01"),
    ("linear", "linear'(z) = 1"),
])
def test_hidden_derivative_named_per_activation(act, derivative):
    secs = equations(_spec(hidden=[6, 4], acts=[act], n_x=5))
    for l in (1, 2):  # dZ[l] is written in layer l + 1's backward section
        dz = _find(secs, f"dZ[{l}] = dA[{l}] * {act}'(Z[{l}])", BACKWARD, l + 1)
        assert derivative in dz.note


def test_mixed_activations_use_each_layers_own_derivative():
    secs = equations(_spec(hidden=[6, 4], acts=["tanh", "relu"], n_x=5))
    assert "tanh'" in _find(secs, "dZ[1]", BACKWARD, 2).text
    assert "relu'" in _find(secs, "dZ[2]", BACKWARD, 3).text
    assert _find(secs, "A[1]", FORWARD, 1).text == "A[1] = tanh(Z[1])"


def test_l2_term_only_with_l2():
    plain = to_text(equations(_spec()))
    assert "λ" not in plain and "(λ/n)" not in plain
    secs = equations(_spec(), l2=0.5)
    for l in range(1, 5):
        dw = _find(secs, f"dW[{l}]", BACKWARD, l)
        assert dw.text.endswith(f"+ (λ/n) W[{l}]")
        assert "λ = 0.5" in dw.note
        assert "λ" not in _find(secs, f"db[{l}]", BACKWARD, l).text  # biases are not decayed
    assert any("λ" in e.text for e in _lines(secs, COST))
    assert any("(1 - αλ/n)" in e.text for e in _lines(secs, UPDATE))
    with pytest.raises(ValueError):
        equations(_spec(), l2=-1)


def test_update_rule():
    update = _lines(equations(_spec()), UPDATE)
    assert [e.text for e in update] == ["W[l] := W[l] - α dW[l]", "b[l] := b[l] - α db[l]"]


def test_text_and_html_contain_every_layer():
    spec = _spec()
    secs = equations(spec)
    text, page = to_text(secs), to_html(secs)
    for l in range(1, spec.n_layers + 1):
        for doc in (text, page):
            assert f"Layer {l} forward" in doc and f"Layer {l} backward" in doc
        assert f"Z[{l}] = W[{l}]" in text and f"Z[{l}] = W[{l}]" in page
        assert f"dW[{l}] = (1/m) dZ[{l}]" in text and f"dW[{l}] = (1/m) dZ[{l}]" in page
    assert "(20, m) = (20, 12288)(12288, m) + (20, 1)" in text
    assert "(20, m) = (20, 12288)(12288, m) + (20, 1)" in page
    assert page.count("<h3>") == len(secs)
    assert "monospace" in page
    assert "A[1]^T" in page and "dA[3] = W[4]^T dZ[4]" in page


def test_html_escapes_text():
    page = to_html(equations(_spec(hidden=[3], acts=["relu"], n_x=2), batch="<b>"))
    assert "<b>" not in page.replace("<body>", "") and "&lt;b&gt;" in page
