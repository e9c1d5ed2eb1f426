"""``desktop-nn inspect-data toy:NAME...``: what a built-in 2-D data set holds."""

from __future__ import annotations

import numpy as np

from desktop_nn.cli.checks import UsageError
from desktop_nn.cli.output import json_text


def inspect_toy(text: str, as_json: bool) -> int:
    """Report the points of the spec ``text``: the set, its settings, the classes and how
    many points each has, the input (n_x = 2: the point's x1, x2) and the range of each."""
    from desktop_nn.data.toy2d import TOY_SETS, ToySpecError, make_toy, parse_spec

    try:
        toy = make_toy(parse_spec(text))
    except ToySpecError as exc:
        raise UsageError(str(exc)) from None
    spec = toy.spec
    counts = np.bincount(toy.labels, minlength=len(toy.class_names)).tolist()
    ranges = [[float(row.min()), float(row.max())] for row in toy.X]
    report = {
        "data": spec.text(), "name": spec.name, "n": spec.n, "noise": spec.noise,
        "seed": spec.seed, "classes": toy.class_names,
        "counts": dict(zip(toy.class_names, counts, strict=True)), "n_x": 2,
        "input_shape": None, "range": ranges,
    }
    if as_json:
        print(json_text(report))
        return 0
    print(f"data: {spec.text()} (built in: {TOY_SETS[spec.name].about})")
    print(f"points: {spec.n}, noise {spec.noise:g}, seed {spec.seed}")
    print(f"classes ({len(toy.class_names)}):")
    width = max(len(name) for name in toy.class_names)
    for name, count in zip(toy.class_names, counts, strict=True):
        print(f"  {name:<{width}}  {count}")
    (a, b), (c, d) = ranges
    print(f"input: the point (x1, x2) -> n_x = 2; x1 in [{a:.3f}, {b:.3f}], "
          f"x2 in [{c:.3f}, {d:.3f}] (used as they are, not scaled)")
    print("training holds out a stratified validation share of the points (--val-split)")
    return 0
