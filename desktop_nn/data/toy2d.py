"""Built-in 2-D data sets, as TensorFlow Playground makes them: circle, xor, gauss, spiral.

Each generator draws ``n`` points of two classes from a seeded NumPy ``Generator`` (PCG64),
so one seed gives the same points bit for bit, and returns X (2, n) float32 with one point
per column and labels (n,) int64 in {0, 1}. Playground draws in a square of side 12 around
the origin; here every length is divided by 5 (Playground's radius), so the points lie
within about [-1.2, 1.2]^2 (only the gauss blobs at high noise reach about 2), inputs of
order 1 that the default learning rates suit. Class 0 is Playground's positive (blue)
class, class 1 its negative (orange) one. ``noise`` is Playground's noise slider as a
fraction, 0 to 0.5 (its 0 to 50 %).

A data spec names one in a string, wherever a data folder or file is named (the command
line's DATA, the Data panel): ``toy:NAME[,n=N][,noise=F][,seed=S]``, e.g. ``toy:spiral`` or
``toy:circle,n=400,noise=0.2``. :func:`parse_spec` reads it, refusing a bad one with a
:class:`ToySpecError` of one line naming the spec and the problem. docs/toy-data.md shows
the sets and their defaults.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from desktop_nn.data.dataset import (
    Dataset,
    Normalisation,
    PreparedData,
    stratified_split,
    targets_from_labels,
)

TOY_PREFIX = "toy:"
DEFAULT_N = 400
DEFAULT_NOISE = 0.0
DEFAULT_SEED = 0
N_RANGE = (4, 100_000)
NOISE_RANGE = (0.0, 0.5)
MAX_SEED = 2**63 - 1
SCALE = 5.0  # Playground's radius: its lengths are divided by it here


class ToySpecError(ValueError):
    """A toy data spec that cannot be used; the one-line message names the spec."""


Generated = tuple[np.ndarray, np.ndarray]  # X (2, n) float64, labels (n,) int64


def circle(n: int, noise: float, rng: np.random.Generator) -> Generated:
    """A disc inside a ring. Class 0 ("inside", the first ceil(n/2) points): radius
    r ~ U(0, 0.5); class 1 ("outside"): r ~ U(0.7, 1); angle a ~ U(0, 2 pi);
    x = (r sin a, r cos a). As in Playground, noise moves the point only for its label: the
    label is 0 when |x + e| < 0.5 with e ~ U(-1, 1)^2 * noise, else 1 (so near the gap a
    point can carry the other class's label); the point stored is x itself."""
    n0 = (n + 1) // 2
    r = np.concatenate([rng.uniform(0.0, 0.5, n0), rng.uniform(0.7, 1.0, n - n0)])
    a = rng.uniform(0.0, 2 * math.pi, n)
    X = np.stack([r * np.sin(a), r * np.cos(a)])
    e = rng.uniform(-1.0, 1.0, (2, n)) * noise
    labels = np.where(np.hypot(*(X + e)) < 0.5, 0, 1)
    return X, labels


def xor(n: int, noise: float, rng: np.random.Generator) -> Generated:
    """The four quadrants. x ~ U(-1, 1)^2, each coordinate then pushed 0.06 away from 0
    (Playground's padding 0.3, divided by 5); class 0 ("same sign") when
    (x1 + e1)(x2 + e2) >= 0 with e ~ U(-1, 1)^2 * noise, class 1 ("opposite signs")
    otherwise; the point stored is x (noise only flips labels near the axes)."""
    X = rng.uniform(-1.0, 1.0, (2, n))
    X += np.where(X > 0, 0.06, -0.06)
    e = rng.uniform(-1.0, 1.0, (2, n)) * noise
    labels = np.where((X[0] + e[0]) * (X[1] + e[1]) >= 0, 0, 1)
    return X, labels


def gauss(n: int, noise: float, rng: np.random.Generator) -> Generated:
    """Two Gaussian blobs. Class 0 ("upper right", the first ceil(n/2) points) centred at
    (0.4, 0.4), class 1 ("lower left") at (-0.4, -0.4); each coordinate normal with
    variance v / 25, v = 0.5 + 7 noise (Playground's 0.5 at no noise to 4 at 0.5)."""
    n0 = (n + 1) // 2
    std = math.sqrt(0.5 + 7.0 * noise) / SCALE
    centres = np.concatenate([np.full(n0, 0.4), np.full(n - n0, -0.4)])
    X = centres + rng.normal(0.0, std, (2, n))
    labels = np.concatenate([np.zeros(n0, np.int64), np.ones(n - n0, np.int64)])
    return X, labels


def spiral(n: int, noise: float, rng: np.random.Generator) -> Generated:
    """Two interleaved arms of 1.75 turns. Arm k (class k, "arm 1" then "arm 2", n_0 =
    ceil(n/2) and n_1 = n - n_0 points), point i = 0 .. n_k - 1: r = i / n_k,
    t = 1.75 * 2 pi * i / n_k + k pi, x = (r sin t, r cos t) + e with
    e ~ U(-1, 1)^2 * noise / 5 (Playground's noise in its own units)."""
    n0 = (n + 1) // 2
    parts = []
    for k, count in enumerate((n0, n - n0)):
        frac = np.arange(count) / count
        t = 1.75 * 2 * math.pi * frac + k * math.pi
        parts.append(np.stack([frac * np.sin(t), frac * np.cos(t)]))
    X = np.concatenate(parts, axis=1) + rng.uniform(-1.0, 1.0, (2, n)) * (noise / SCALE)
    labels = np.concatenate([np.zeros(n0, np.int64), np.ones(n - n0, np.int64)])
    return X, labels


@dataclass(frozen=True)
class ToySet:
    """One built-in data set: its generator and its two class names (class 0, class 1)."""

    make: Callable[[int, float, np.random.Generator], Generated]
    class_names: tuple[str, str]
    about: str


TOY_SETS: dict[str, ToySet] = {
    "circle": ToySet(circle, ("inside", "outside"), "a disc inside a ring"),
    "xor": ToySet(xor, ("same sign", "opposite signs"), "the four quadrants"),
    "gauss": ToySet(gauss, ("upper right", "lower left"), "two Gaussian blobs"),
    "spiral": ToySet(spiral, ("arm 1", "arm 2"), "two interleaved spiral arms"),
}


@dataclass(frozen=True)
class ToySpec:
    """A built-in data set and its settings: the points it makes are fixed by these."""

    name: str = "spiral"
    n: int = DEFAULT_N
    noise: float = DEFAULT_NOISE
    seed: int = DEFAULT_SEED

    def text(self) -> str:
        """The spec as :func:`parse_spec` reads it, every setting written out."""
        noise = f"{self.noise:g}"
        if float(noise) != self.noise:  # %g keeps 6 digits: the exact value instead
            noise = repr(self.noise)
        return f"{TOY_PREFIX}{self.name},n={self.n},noise={noise},seed={self.seed}"

    def record(self) -> dict:
        """A JSON-able record (a model file's ``preprocessing``: what it was trained on)."""
        return {"toy": {"name": self.name, "n": self.n, "noise": self.noise,
                        "seed": self.seed}}


@dataclass
class ToyData:
    """X (2, n) float32, one point per column; labels (n,) int64 in {0, 1}."""

    spec: ToySpec
    X: np.ndarray
    labels: np.ndarray
    class_names: list[str]


def is_toy_spec(data: object) -> bool:
    """Whether ``data`` (a DATA argument, the Data panel's text) names a built-in data set:
    a str starting ``toy:``. Such a name is always a spec, never a file: a file or folder
    really named so is opened as ``./toy:...``."""
    return isinstance(data, str) and data.startswith(TOY_PREFIX)


def make_toy(spec: ToySpec) -> ToyData:
    """The points of ``spec``: the same spec gives the same points, bit for bit."""
    spec = check_spec(spec)
    rng = np.random.default_rng(spec.seed)
    toy = TOY_SETS[spec.name]
    X, labels = toy.make(spec.n, spec.noise, rng)
    order = rng.permutation(spec.n)  # the classes mixed, as Playground shuffles its points
    return ToyData(spec, np.ascontiguousarray(X[:, order], dtype=np.float32),
                   labels[order].astype(np.int64), list(toy.class_names))


def prepare_toy(spec: ToySpec, val_split: float = 0.1, seed: int = 0) -> PreparedData:
    """``spec``'s points as training data: a stratified ``val_split`` held out for
    validation (seeded by ``seed``, as for every data set), inputs used as they are
    (normalisation none), and ``preprocessing`` recording the spec (:meth:`ToySpec.record`)."""
    toy = make_toy(spec)
    data = Dataset(toy.X, targets_from_labels(toy.labels, 2), list(toy.class_names))
    train, val = data, None
    if val_split > 0:
        keep, held = stratified_split(toy.labels, val_split, seed)
        train, val = data.subset(keep), data.subset(held)
    return PreparedData(train=train, val=val if val is not None and val.m else None,
                        test=None, normalisation=Normalisation("none"),
                        class_names=list(toy.class_names), input_shape=None,
                        preprocessing=toy.spec.record())


def _fail(text: str, problem: str) -> ToySpecError:
    return ToySpecError(f"{text}: {problem}")


def check_spec(spec: ToySpec, text: str | None = None) -> ToySpec:
    """``spec`` when every setting is in range, else a :class:`ToySpecError` naming it."""
    text = text if text is not None else f"{TOY_PREFIX}{spec.name}"
    if spec.name not in TOY_SETS:
        raise _fail(text, f"unknown data set {spec.name!r}; the built-in ones are "
                          f"{', '.join(TOY_SETS)}")
    lo, hi = N_RANGE
    if isinstance(spec.n, bool) or not isinstance(spec.n, int) or not lo <= spec.n <= hi:
        raise _fail(text, f"n must be a whole number from {lo} to {hi:,}, got {spec.n!r}")
    lo_f, hi_f = NOISE_RANGE
    if isinstance(spec.noise, bool) or not isinstance(spec.noise, int | float) or \
            not math.isfinite(spec.noise) or not lo_f <= spec.noise <= hi_f:
        raise _fail(text, f"noise must be a number from {lo_f:g} to {hi_f:g}, "
                          f"got {spec.noise!r}")
    if isinstance(spec.seed, bool) or not isinstance(spec.seed, int) or \
            not 0 <= spec.seed <= MAX_SEED:
        raise _fail(text, f"seed must be a whole number from 0 to {MAX_SEED}, "
                          f"got {spec.seed!r}")
    # 0, 0.0 and -0.0: one spec, one record, one text ("noise=0", never "noise=-0")
    return replace(spec, noise=float(spec.noise) + 0.0)


def parse_spec(text: str) -> ToySpec:
    """``toy:NAME[,n=N][,noise=F][,seed=S]`` -> its :class:`ToySpec` (unset: the defaults).
    Raises :class:`ToySpecError`, one line naming ``text`` and what is wrong."""
    if not is_toy_spec(text):
        raise _fail(text, f"a built-in data set is named {TOY_PREFIX}NAME")
    name, *settings = [part.strip() for part in text[len(TOY_PREFIX):].split(",")]
    values: dict[str, int | float] = {}
    for setting in settings:
        key, eq, value = (s.strip() for s in setting.partition("="))
        if key not in ("n", "noise", "seed") or not eq:
            what = f"unknown setting {key!r}" if eq else f"{setting!r} is not KEY=VALUE"
            raise _fail(text, f"{what}; the settings are n=N, noise=F and seed=S")
        if key in values:
            raise _fail(text, f"{key} is given twice")
        values[key] = _number(text, key, value)
    spec = ToySpec(name.lower(), **values)  # type: ignore[arg-type]
    return check_spec(spec, text)


def _number(text: str, key: str, value: str) -> int | float:
    if key == "noise":
        try:
            return float(value)
        except ValueError:
            raise _fail(text, f"noise must be a number, got {value!r}") from None
    try:
        return int(value)
    except ValueError:
        raise _fail(text, f"{key} must be a whole number, got {value!r}") from None


def spec_from_record(record: object) -> ToySpec:
    """The spec a model file's ``preprocessing`` records (:meth:`ToySpec.record`);
    ToySpecError when it is not one."""
    toy = record.get("toy") if isinstance(record, dict) else None
    if not isinstance(toy, dict) or set(toy) != {"name", "n", "noise", "seed"}:
        raise ToySpecError(f"preprocessing.toy must be {{name, n, noise, seed}}, got "
                           f"{toy!r:.80}")
    name = toy["name"]
    if not isinstance(name, str):
        raise ToySpecError(f"preprocessing.toy.name must be a name, got {name!r:.80}")
    return check_spec(ToySpec(name, toy["n"], toy["noise"], toy["seed"]),
                      f"preprocessing.toy {toy!r:.120}")


__all__ = ["TOY_PREFIX", "TOY_SETS", "ToyData", "ToySpec", "ToySpecError", "is_toy_spec",
           "make_toy", "parse_spec", "prepare_toy", "spec_from_record"]
