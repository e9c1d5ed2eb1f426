"""The forward and backward equations of a network, layer by layer, with its actual shapes.

For the design [12288, 20, 1] (relu, sigmoid output, cross-entropy) the first lines read
    Z[1] = W[1] X + b[1]        (20, m) = (20, 12288)(12288, m) + (20, 1)
    A[1] = relu(Z[1])           (20, m)
and the backward pass starts from the output delta the cost gives,
    dZ[2] = A[2] - Y            (1, m)      (the sigmoid's derivative cancels)
then, per layer, dW, db, dA of the layer below and its dZ through g'. The notation is the
course notes' and the code's (desktop_nn/nn/network.py): columns are examples, dZ is per
example and the 1/m is applied once, in dW and db.

``equations`` returns plain data (sections of equations); ``to_text`` and ``to_html`` render it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from desktop_nn.nn.activations import LEAKY_SLOPE
from desktop_nn.nn.network import NetworkSpec

# stage of a Section
NOTATION, FORWARD, COST, BACKWARD, UPDATE = "notation", "forward", "cost", "backward", "update"

# g(z), by activation name (desktop_nn.nn.activations)
FORMULAS = {
    "sigmoid": "σ(z) = 1 / (1 + e^-z)",
    "tanh": "tanh(z) = (e^z - e^-z) / (e^z + e^-z)",
    "relu": "relu(z) = max(0, z)",
    "leaky_relu": f"leaky_relu(z) = z if z > 0 else {LEAKY_SLOPE:g} z",
    "linear": "linear(z) = z",
    "softmax": "softmax(z)_k = e^z_k / Σ_j e^z_j, over the units of each column",
}

# g'(z), by activation name
DERIVATIVES = {
    "sigmoid": "sigmoid'(z) = σ(z)(1 - σ(z)) = A(1 - A)",
    "tanh": "tanh'(z) = 1 - tanh²(z) = 1 - A²",
    "relu": "relu'(z) = 1[z > 0]",
    "leaky_relu": f"leaky_relu'(z) = 1 if z > 0 else {LEAKY_SLOPE:g}",
    "linear": "linear'(z) = 1",
    "softmax": "softmax: Jacobian diag(a) - a a^T per column, not elementwise",
}


@dataclass(frozen=True)
class Equation:
    """One line: the formula, the shapes of its terms (same layout), and an optional remark."""

    text: str
    shapes: str = ""
    note: str = ""


@dataclass(frozen=True)
class Section:
    """A group of equations: the notation, one layer's forward or backward step, the cost or
    the update. ``layer`` is l (1..L) for forward and backward sections, else None."""

    title: str
    stage: str
    layer: int | None
    equations: tuple[Equation, ...]


def _shape(rows: int | str, cols: int | str) -> str:
    return f"({rows}, {cols})"


def _a(l: int) -> str:
    """A[l], written X for the input."""
    return "X" if l == 0 else f"A[{l}]"


def equations(spec: NetworkSpec, batch: str | int = "m", l2: float = 0.0) -> list[Section]:
    """The notation, forward sections for l = 1..L, the cost, backward sections for l = L..1
    and the update rule, with ``batch`` (the symbol m, or a number) as the column count.

    With ``l2`` > 0 the cost, dW[l] and the update carry the L2 (weight decay) term
    lambda / n W[l], n being the training-set size, as the Trainer applies it."""
    if l2 < 0:
        raise ValueError(f"L2 strength must be >= 0, got {l2}")
    m = str(batch)
    n = spec.sizes
    acts = spec.activations
    L = spec.n_layers
    out, cost = spec.output_activation, spec.cost
    sections = [_notation(spec, m, l2)]
    for l in range(1, L + 1):
        sections.append(_forward(l, n, acts[l - 1], m, is_output=l == L))
    sections.append(_cost(L, n[L], out, cost, m, l2))
    for l in range(L, 0, -1):
        sections.append(_backward(l, n, acts, out, cost, m, l2, is_output=l == L))
    sections.append(_update(L, l2))
    return sections


def _notation(spec: NetworkSpec, m: str, l2: float) -> Section:
    sizes = ", ".join(str(s) for s in spec.sizes)
    eqs = [
        Equation("X = A[0]", _shape(spec.input_size, m), "one example per column"),
        Equation("Y", _shape(spec.output_size, m),
                 f"the targets, in the same layout as A[{spec.n_layers}]"),
        Equation(f"sizes n = [{sizes}]", f"L = {spec.n_layers} layers with weights",
                 f"W[l] is (n_l, n_(l-1)), b[l] is (n_l, 1), Z[l] and A[l] are (n_l, {m})"),
    ]
    if m != "m":
        eqs.append(Equation(f"m = {m}", "", "examples per batch"))
    if l2:
        eqs.append(Equation(f"λ = {l2:g}", "", "L2 strength; n is the training-set size"))
    return Section("Notation", NOTATION, None, tuple(eqs))


def _forward(l: int, n: list[int], act: str, m: str, is_output: bool) -> Section:
    z = Equation(
        f"Z[{l}] = W[{l}] {_a(l - 1)} + b[{l}]",
        f"{_shape(n[l], m)} = {_shape(n[l], n[l - 1])}{_shape(n[l - 1], m)} + {_shape(n[l], 1)}",
        "b is added to every column (broadcast)" if l == 1 else "",
    )
    a_note = FORMULAS[act]
    if is_output:
        a_note += f"; A[{l}] is the output Ŷ"
    a = Equation(f"A[{l}] = {act}(Z[{l}])", _shape(n[l], m), a_note)
    kind = "output layer" if is_output else "hidden layer"
    title = f"Layer {l} forward: {kind}, {n[l]} {act} unit{'s' if n[l] != 1 else ''}"
    return Section(title, FORWARD, l, (z, a))


def _cost(L: int, n_out: int, out: str, cost: str, m: str, l2: float) -> Section:
    if cost == "cross-entropy" and out == "softmax":
        eqs = [Equation(f"J = -(1/m) Σ Y log A[{L}]", "scalar",
                        f"summed over the {n_out} units and the m columns; Y one-hot")]
    elif cost == "cross-entropy":
        eqs = [Equation(f"J = -(1/m) Σ [Y log A[{L}] + (1 - Y) log(1 - A[{L}])]", "scalar",
                        f"summed over the {n_out} output unit{'s' if n_out != 1 else ''} "
                        "and the m columns")]
    else:
        eqs = [Equation(f"J = (1/2m) Σ (A[{L}] - Y)²", "scalar",
                        "summed over the output units and the m columns")]
    if l2:
        eqs.append(Equation("  + (λ/2n) Σ_l ||W[l]||²", "scalar",
                            f"L2 with λ = {l2:g}: the squared Frobenius norms of the weights; "
                            "biases are not penalised"))
    return Section(f"Cost: {cost} with a {out} output", COST, None, tuple(eqs))


def output_delta(L: int, n_out: int, out: str, cost: str, m: str = "m") -> Equation:
    """dZ[L], the error at the output that starts the backward pass, for this cost and output."""
    shape = _shape(n_out, m)
    if cost == "cross-entropy":
        why = ("the sigmoid's derivative cancels" if out == "sigmoid"
               else "the softmax Jacobian cancels (Y one-hot)")
        return Equation(f"dZ[{L}] = A[{L}] - Y", shape,
                        f"cross-entropy with {out}: {why}, so a saturated wrong output "
                        "still learns fast")
    # quadratic: dA[L] = A[L] - Y, then through g'
    if out == "linear":
        return Equation(f"dZ[{L}] = (A[{L}] - Y) * linear'(Z[{L}]) = A[{L}] - Y", shape,
                        "quadratic cost with a linear output: linear'(z) = 1, "
                        "nothing saturates")
    if out == "softmax":
        return Equation(
            f"dZ[{L}] = A[{L}] * (dA[{L}] - Σ_k A[{L}]_k dA[{L}]_k),  dA[{L}] = A[{L}] - Y",
            shape,
            f"quadratic cost through the {DERIVATIVES['softmax']}; it slows learning when "
            "the output saturates (A near 0 or 1 although it is far from Y)")
    saturates = "near 0 and 1" if out == "sigmoid" else "near -1 and 1"
    return Equation(
        f"dZ[{L}] = (A[{L}] - Y) * {out}'(Z[{L}])", f"{shape} = {shape} * {shape}",
        f"{DERIVATIVES[out]}; the quadratic cost keeps this derivative, which slows learning "
        f"when the output saturates ({out}' ≈ 0 {saturates}, however wrong A is)")


def _backward(l: int, n: list[int], acts: list[str], out: str, cost: str, m: str, l2: float,
              is_output: bool) -> Section:
    eqs = []
    if is_output:
        eqs.append(output_delta(l, n[l], out, cost, m))
    dw = f"dW[{l}] = (1/m) dZ[{l}] {_a(l - 1)}^T"
    dw_shapes = f"{_shape(n[l], n[l - 1])} = {_shape(n[l], m)}{_shape(m, n[l - 1])}"
    dw_note = "dZ is per example: the 1/m of the mean is applied here and in db"
    if l2:
        dw += f" + (λ/n) W[{l}]"
        dw_shapes += f" + {_shape(n[l], n[l - 1])}"
        dw_note = f"L2 term (λ/n) W[{l}], λ = {l2:g}, n = training-set size"
    eqs.append(Equation(dw, dw_shapes, dw_note))
    eqs.append(Equation(f"db[{l}] = (1/m) Σ_examples dZ[{l}]", _shape(n[l], 1),
                        "sum over the m columns (axis=1, keepdims)"))
    if l > 1:
        eqs.append(Equation(f"dA[{l - 1}] = W[{l}]^T dZ[{l}]",
                            f"{_shape(n[l - 1], m)} = {_shape(n[l - 1], n[l])}{_shape(n[l], m)}",
                            "the error sent back to the layer below"))
        g = acts[l - 2]
        s = _shape(n[l - 1], m)
        eqs.append(Equation(f"dZ[{l - 1}] = dA[{l - 1}] * {g}'(Z[{l - 1}])",
                            f"{s} = {s} * {s}", f"{DERIVATIVES[g]}; * is elementwise"))
    else:
        eqs.append(Equation("(no dA[0]: the input X is not learned)", "", ""))
    title = f"Layer {l} backward" + (": starts from the output delta" if is_output else "")
    return Section(title, BACKWARD, l, tuple(eqs))


def _update(L: int, l2: float) -> Section:
    layers = "l = 1" if L == 1 else f"l = 1..{L}"
    eqs = [
        Equation("W[l] := W[l] - α dW[l]", layers,
                 "gradient descent with learning rate α; momentum and Adam step along "
                 "running averages of dW and db instead"),
        Equation("b[l] := b[l] - α db[l]", layers, ""),
    ]
    if l2:
        eqs.append(Equation("W[l] := (1 - αλ/n) W[l] - α (1/m) dZ[l] A[l-1]^T", layers,
                            "the same step, read as weight decay: L2 shrinks W by the factor "
                            "(1 - αλ/n) before each step"))
    return Section("Update", UPDATE, None, tuple(eqs))


# ---------------------------------------------------------------------------- rendering
def to_text(sections: Sequence[Section]) -> str:
    """Plain text: a heading per section, equations with their shapes in a second column and
    remarks indented below."""
    lines: list[str] = []
    for sec in sections:
        if lines:
            lines.append("")
        lines.append(sec.title)
        lines.append("-" * len(sec.title))
        width = min(max((len(e.text) for e in sec.equations if e.shapes), default=0), 56)
        for e in sec.equations:
            if e.shapes:
                lines.append(f"  {e.text:<{width}}   {e.shapes}".rstrip())
            else:
                lines.append(f"  {e.text}")
            if e.note:
                lines.append(f"      {e.note}")
    return "\n".join(lines) + "\n"


_MONO = "font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; white-space: pre;"


def to_html(sections: Sequence[Section]) -> str:
    """HTML for a QTextBrowser (Qt's rich-text subset): a heading per section, a table of
    equations and shapes in monospace, remarks in italics."""
    esc = html.escape
    parts = ["<html><body>"]
    for sec in sections:
        parts.append(f"<h3>{esc(sec.title)}</h3>")
        parts.append('<table width="100%" cellspacing="0" cellpadding="2">')
        for e in sec.equations:
            parts.append(
                f'<tr><td nowrap style="{_MONO}">{esc(e.text)}</td>'
                f'<td nowrap width="100%" style="{_MONO} padding-left: 16px;">'
                f"{esc(e.shapes)}</td></tr>")
            if e.note:
                parts.append(f'<tr><td colspan="2" style="padding-left: 16px;">'
                             f"<i>{esc(e.note)}</i></td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
