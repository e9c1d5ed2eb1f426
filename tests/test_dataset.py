import numpy as np
import pytest

from desktop_nn.data.dataset import (
    Normalisation,
    prepare_image_data,
    stratified_split,
    targets_from_labels,
)
from desktop_nn.data.image_folder import ImageFolderData, LoadOptions


def _folder_data(pixels, labels, splits, n_classes=3):
    m, n_x = pixels.shape
    return ImageFolderData(
        root="x", layout="classes", class_names=[f"c{i}" for i in range(n_classes)],
        input_shape=(1, n_x, 1), options=LoadOptions(), pixels=pixels,
        labels=np.asarray(labels), splits=np.asarray(splits, dtype="U5"),
        paths=[f"p{i}" for i in range(m)], skipped=[], warnings=[], sizes_seen={},
        modes_seen={})


def test_targets_two_classes_row_and_one_hot():
    np.testing.assert_array_equal(targets_from_labels(np.array([0, 1, 1]), 2), [[0, 1, 1]])
    Y = targets_from_labels(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(Y, [[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="labels must lie"):
        targets_from_labels(np.array([3]), 3)


def test_scale_gives_columns_in_unit_range():
    px = np.array([[0, 255, 51], [102, 204, 0]], dtype=np.uint8)  # 2 images, n_x = 3
    X = Normalisation("scale").apply(px)
    assert X.shape == (3, 2) and X.dtype == np.float32
    np.testing.assert_allclose(X, px.T / 255.0, rtol=1e-6)
    assert X.T.flags.c_contiguous  # the trainer's example-major copy is free


def test_standardise_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (30, 4)).astype(np.uint8)
    px[:, 3] = 7  # a constant feature gets std 1, not a division by zero
    labels = np.repeat([0, 1, 2], 10)
    splits = np.array(["train"] * 20 + ["test"] * 10)
    splits[[0, 10]] = "val"
    prep = prepare_image_data(_folder_data(px, labels, splits), normalisation="standardise")
    train_rows = px[splits == "train"] / 255.0
    np.testing.assert_allclose(prep.normalisation.mean[:, 0], train_rows.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(prep.normalisation.std[:3, 0], train_rows.std(axis=0)[:3],
                               rtol=1e-5)
    assert prep.normalisation.std[3, 0] == 1.0
    np.testing.assert_allclose(prep.train.X.mean(axis=1)[:3], 0, atol=1e-5)
    assert prep.val.m == 2 and prep.test.m == 10 and prep.train.m == 18


def test_prepare_splits_off_stratified_validation_when_no_val_folder():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    px = np.zeros((100, 2), np.uint8)
    prep = prepare_image_data(_folder_data(px, labels, ["train"] * 100), val_split=0.1, seed=3)
    assert prep.val.m == 10 and prep.train.m == 90
    np.testing.assert_array_equal(prep.val.Y.sum(axis=1), [5, 3, 2])
    assert prep.test is None


def test_stratified_split_seeded():
    labels = np.repeat([0, 1], [40, 9])
    a = stratified_split(labels, 0.25, seed=1)
    b = stratified_split(labels, 0.25, seed=1)
    c = stratified_split(labels, 0.25, seed=2)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert np.bincount(labels[a[1]]).tolist() == [10, 2]
    assert len(np.intersect1d(a[0], a[1])) == 0 and len(a[0]) + len(a[1]) == 49
