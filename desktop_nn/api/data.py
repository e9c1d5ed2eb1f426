"""Data for the API: :func:`load_data` (any source ``desktop-nn train`` reads) and
:func:`design` (a network that fits them)."""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass

from desktop_nn.api.checks import MAX_SEED, choice, flag, named, number, whole
from desktop_nn.data.dataset import NORMALISATIONS, Dataset, PreparedData
from desktop_nn.data.image_folder import COLORS, RESIZE_MODES, LoadOptions, parse_image_size
from desktop_nn.data.sources import LoadedData, load_training_data
from desktop_nn.nn.activations import OUTPUT_ACTIVATIONS, get_activation
from desktop_nn.nn.costs import normalise_cost_name
from desktop_nn.nn.init import BIAS_INITS, INITS
from desktop_nn.nn.network import NetworkSpec

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Data:
    """Loaded data, split and normalised: ``train``, ``val`` and ``test`` are
    :class:`~desktop_nn.data.dataset.Dataset` s (``.X`` (n_x, m), ``.Y`` (n_y, m), ``.m``,
    ``.labels()`` (m,)), ``val`` and ``test`` None when there are none. ``loaded``: what
    :func:`~desktop_nn.data.sources.load_training_data` gave (its ``prepared`` data, the image
    folder, notes)."""

    loaded: LoadedData

    @property
    def prepared(self) -> PreparedData:
        return self.loaded.prepared

    @property
    def train(self) -> Dataset:
        return self.prepared.train

    @property
    def val(self) -> Dataset | None:
        return self.prepared.val

    @property
    def test(self) -> Dataset | None:
        return self.prepared.test

    @property
    def class_names(self) -> list[str]:
        return list(self.prepared.class_names)

    @property
    def n_inputs(self) -> int:
        """n_x, the rows of X."""
        return self.train.n_x

    @property
    def n_outputs(self) -> int:
        """n_y, the rows of Y: 1 for two classes (0/1), else the number of classes."""
        return int(self.train.Y.shape[0])

    @property
    def input_shape(self) -> tuple[int, int, int] | None:
        """(H, W, C) of the images, None for arrays."""
        return self.prepared.input_shape

    @property
    def notes(self) -> list[str]:
        """What the loader noticed (files skipped, mixed sizes, ...)."""
        return list(self.loaded.notes)

    def split(self, name: str) -> Dataset:
        """The ``"train"``, ``"val"`` or ``"test"`` set; ValueError when there is none."""
        choice("split", name, SPLITS)
        ds = getattr(self, name)
        if ds is None:
            raise ValueError(f"split {name!r}: these data have no {name} set")
        return ds

    def __repr__(self) -> str:
        sets = ", ".join(f"{name} X {ds.X.shape} Y {ds.Y.shape}" for name in SPLITS
                         if (ds := getattr(self, name)) is not None)
        return f"Data({self.loaded.source!r}: {sets}; {len(self.class_names)} classes)"


def load_data(source: str | os.PathLike, *, val_split: float = 0.1, seed: int = 0,
              normalisation: str | None = None,
              image_size: int | tuple[int, int] | str | None = None,
              color: str | None = None, resize: str = "stretch",
              test_dir: str | os.PathLike | None = None, use_cache: bool = True,
              **more: object) -> Data:
    """Load ``source``: ``"sample"`` (the bundled digits), an image folder (one subfolder per
    class, or train/ test/ [val/] folders), an ``.npz`` of arrays (X, Y or X_train, ...) or
    a built-in 2-D data set (``"toy:spiral,n=400,noise=0.1,seed=0"``, docs/toy-data.md),
    exactly as ``desktop-nn train`` loads it.

    val_split: the share of each class held out for validation (seeded by ``seed``) when the
    data have no validation set of their own. normalisation (images): "scale" (x = p / 255,
    the default), "standardise" (per feature, training-set statistics) or "none"; other data
    bring their own (2-D points: "none"), and any other than theirs is refused, not ignored
    (None: the data's own). Images only: ``image_size`` (height, width), a side, or "WxH"
    (default: the most common size), ``color`` "gray" / "rgb" (default: gray when every
    image is), ``resize`` "stretch" / "fit", ``test_dir`` a separate test folder,
    ``use_cache``. Further keyword options go to ``load_training_data`` as they are. Raises
    ValueError naming the argument or the file.
    """
    if isinstance(source, bool) or not isinstance(source, (str, os.PathLike)):
        raise ValueError(f"source must be 'sample', a folder or a file name, got {source!r}")
    number("val_split", val_split, 0.0, high=1.0)
    whole("seed", seed, 0, MAX_SEED)
    if normalisation is not None:
        choice("normalisation", normalisation, NORMALISATIONS)
    size = None
    if image_size is not None:
        if isinstance(image_size, str):
            size = named("image_size", lambda: parse_image_size(image_size))
        elif isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
            size = (whole("image_size", image_size, 1),) * 2
        elif isinstance(image_size, tuple) and len(image_size) == 2:
            size = (whole("image_size[0]", image_size[0], 1),
                    whole("image_size[1]", image_size[1], 1))
        else:
            raise ValueError(f"image_size must be (height, width), a side or 'WxH', "
                             f"got {image_size!r}")
    if color is not None:
        choice("color", color, COLORS)
    options = LoadOptions(image_size=size, resize=choice("resize", resize, RESIZE_MODES),
                          color=color, use_cache=flag("use_cache", use_cache))
    loaded = load_training_data(source, options, val_split, seed, normalisation or "scale",
                                test_dir, **more)
    done = loaded.prepared.normalisation.kind
    if normalisation is not None and done != normalisation:  # not silently ignored
        raise ValueError(f"normalisation {normalisation!r} does not apply to "
                         f"{loaded.source}: its inputs are used as {_DONE.get(done, done)} "
                         f"(normalisation {done!r}; leave it None)")
    return Data(loaded)


_DONE = {"none": "given", "scale": "pixels / 255", "standardise": "standardised"}


def design(data: Data, hidden: Sequence[int] = (30,), activation: str | Sequence[str] = "relu",
           *, output: str | None = None, cost: str = "cross-entropy", init: str = "he",
           bias_init: str = "zeros") -> NetworkSpec:
    """A network for ``data``: n_x inputs and n_y outputs from the data, ``hidden`` layer
    sizes [n_1, ..., n_{L-1}], one ``activation`` for them all or one per layer (sigmoid,
    tanh, relu, leaky_relu, linear); ``output`` default sigmoid for two classes (one unit),
    softmax for more; ``cost`` "cross-entropy" or "quadratic"; ``init`` he, xavier, small,
    normal or scaled; ``bias_init`` zeros or normal. The defaults are ``desktop-nn train``'s.
    Raises ValueError naming the argument."""
    if not isinstance(data, Data):
        raise ValueError(f"data must be what load_data gives, got {type(data).__name__}")
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise ValueError(f"hidden must be a list of layer sizes, got {hidden!r}")
    sizes = [whole(f"hidden[{i}]", n, 1) for i, n in enumerate(hidden)]
    if isinstance(activation, str):
        names = [activation]
    elif isinstance(activation, Sequence) and all(isinstance(a, str) for a in activation):
        names = list(activation)
    else:
        raise ValueError(f"activation must be a name or a list of names, one per hidden "
                         f"layer, got {activation!r}")
    if len(names) != 1 and len(names) != len(sizes):
        raise ValueError(f"activation names {len(names)} activations for {len(sizes)} hidden "
                         f"layers: give one, or one per layer")
    names = [named("activation", lambda a=a: get_activation(a).name) for a in names]
    if output is None:
        output = "sigmoid" if data.n_outputs == 1 else "softmax"
    output = choice("output", named("output", lambda: get_activation(output).name),
                     OUTPUT_ACTIVATIONS)
    cost = named("cost", lambda: normalise_cost_name(cost))
    choice("init", init, INITS)
    choice("bias_init", bias_init, BIAS_INITS)
    activations = names * len(sizes) if len(names) == 1 else names
    return named("design", lambda: NetworkSpec(data.n_inputs, sizes, activations,
                                                data.n_outputs, output, cost, init, bias_init))
