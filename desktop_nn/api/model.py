"""A trained model for the API: predict, save, export (:class:`Model`), and
:func:`load_model`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from desktop_nn.io.model_file import ModelFile, save_model
from desktop_nn.io.model_file import load_model as load_model_file
from desktop_nn.io.onnx_export import export_onnx
from desktop_nn.nn.network import Network, NetworkSpec, labels_from_outputs


class Model:
    """A trained network with what using it needs (classes, input scaling, preprocessing): a
    :class:`~desktop_nn.io.model_file.ModelFile` (``file``), on the CPU."""

    def __init__(self, file: ModelFile) -> None:
        self.file = file

    @property
    def network(self) -> Network:
        """The network: W[l] (n_l, n_{l-1}) and b[l] (n_l, 1) in ``network.W``, ``.b``."""
        return self.file.network

    @property
    def spec(self) -> NetworkSpec:
        return self.network.spec

    @property
    def class_names(self) -> list[str]:
        """One name per class, in the order of :meth:`predict`'s rows."""
        n = self.spec.output_size
        return list(self.file.class_names or [str(i) for i in range(max(n, 2))])

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """A[L] (n_L, k) float64 for X (n_x, k): the network's outputs as they are."""
        n_x = self.spec.input_size
        if np.ndim(X) != 2 or np.shape(X)[0] != n_x:
            raise ValueError(f"X must have shape ({n_x}, k), one example per column, got "
                             f"{np.shape(X)}")
        net = self.network
        with np.errstate(over="ignore", invalid="ignore"):
            return net.backend.to_host(net.predict_proba(np.asarray(X))).astype(np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (K, k) for X (n_x, k) in the network's input space (as
        ``Data`` gives X: normalised): K = the number of classes, one column per example;
        one sigmoid unit a gives the two rows [1 - a, a] (as ``desktop-nn predict`` and the
        ONNX export do)."""
        A = self.outputs(X)
        return np.vstack([1.0 - A, A]) if A.shape[0] == 1 else A

    def predict_classes(self, X: np.ndarray) -> np.ndarray:
        """(k,) int64 class indices for X (n_x, k): argmax of :meth:`predict` (a > 0.5 for one
        sigmoid unit), indices into :attr:`class_names`."""
        return labels_from_outputs(self.outputs(X))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model file (``.npz``, no pickle) atomically; returns its Path. ``desktop-nn
        predict``, the window and :func:`load_model` read it."""
        return save_model(path, self.file)

    def export_onnx(self, path: str | os.PathLike) -> Path:
        """Write the model as ONNX, from a raw input to class probabilities (docs/onnx.md);
        needs the ``onnx`` package (OnnxUnavailableError, an ImportError, says so)."""
        return export_onnx(self.file, path)


def load_model(path: str | os.PathLike) -> Model:
    """Read a model file written by :meth:`Model.save`, ``desktop-nn train --save`` or the
    window (never unpickles; ModelFileError, a ValueError, names the file and the problem)."""
    return Model(load_model_file(path))
