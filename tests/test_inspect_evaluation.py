"""Evaluation of a network's outputs, checked against small examples worked out by hand."""

import numpy as np
import pytest

from desktop_nn.data.dataset import Normalisation
from desktop_nn.data.image_folder import flatten_planes, unflatten_planes
from desktop_nn.inspect.evaluation import evaluate, images_from_columns

NAMES3 = ["cat", "dog", "fox"]
# 7 examples of 3 classes, softmax columns; predicted = argmax:
#   0: true 0, pred 0        1: true 0, pred 1 (p .8)   2: true 1, pred 1
#   3: true 1, pred 0 (.5)   4: true 2, pred 1 (.9)     5: true 2, pred 2
#   6: true 0, pred 1 (.6)
P3 = np.array([[0.7, 0.1, 0.2, 0.5, 0.05, 0.3, 0.1],
               [0.2, 0.8, 0.6, 0.3, 0.90, 0.3, 0.6],
               [0.1, 0.1, 0.2, 0.2, 0.05, 0.4, 0.3]])
L3 = np.array([0, 0, 1, 1, 2, 2, 0])
CONFUSION3 = np.array([[1, 2, 0],
                       [1, 1, 0],
                       [0, 1, 1]])


def test_confusion_three_classes_by_hand():
    ev = evaluate(P3, L3, NAMES3)
    assert ev.confusion.dtype == np.int64
    np.testing.assert_array_equal(ev.confusion, CONFUSION3)
    assert ev.confusion.sum() == ev.m == 7
    np.testing.assert_array_equal(ev.predicted, [0, 1, 1, 0, 1, 2, 1])
    np.testing.assert_allclose(ev.confidence, [0.7, 0.8, 0.6, 0.5, 0.9, 0.4, 0.6])
    np.testing.assert_allclose(ev.true_probability, [0.7, 0.1, 0.6, 0.3, 0.05, 0.4, 0.1])
    assert ev.accuracy == pytest.approx(3 / 7)
    assert ev.n_mistakes == 4
    np.testing.assert_array_equal(ev.support(), [3, 2, 2])
    assert ev.class_names == NAMES3


def test_row_normalised_rows_sum_to_one():
    ev = evaluate(P3, L3, NAMES3)
    R = ev.row_normalised()
    np.testing.assert_allclose(R, [[1 / 3, 2 / 3, 0], [0.5, 0.5, 0], [0, 0.5, 0.5]])
    np.testing.assert_allclose(R.sum(axis=1), 1.0)


def test_precision_and_recall_by_hand():
    ev = evaluate(P3, L3, NAMES3)
    # predicted as cat: 2 (1 right), as dog: 4 (1 right), as fox: 1 (1 right)
    np.testing.assert_allclose(ev.precision(), [1 / 2, 1 / 4, 1])
    # cats: 3 (1 found), dogs: 2 (1 found), foxes: 2 (1 found)
    np.testing.assert_allclose(ev.recall(), [1 / 3, 1 / 2, 1 / 2])


def test_undefined_precision_and_recall_are_nan_and_empty_rows_stay_zero():
    # fox never predicted, but present: precision NaN, recall 0
    P = np.array([[0.9, 0.1, 0.2], [0.05, 0.8, 0.7], [0.05, 0.1, 0.1]])
    ev = evaluate(P, np.array([0, 1, 2]), NAMES3)
    assert np.isnan(ev.precision()[2]) and ev.recall()[2] == 0.0
    # fox neither predicted nor present: both NaN, its normalised row zeros (not NaN)
    ev = evaluate(P, np.array([0, 1, 1]), NAMES3)
    assert np.isnan(ev.precision()[2]) and np.isnan(ev.recall()[2])
    R = ev.row_normalised()
    assert not np.isnan(R).any()
    np.testing.assert_array_equal(R[2], [0, 0, 0])
    np.testing.assert_allclose(ev.precision()[:2], [1, 1])


def test_one_sigmoid_row_means_two_classes():
    a = np.array([[0.9, 0.2, 0.6, 0.4, 0.5]])
    labels = np.array([1, 0, 0, 1, 1])
    ev = evaluate(a, labels, ["neg", "pos"])
    np.testing.assert_array_equal(ev.predicted, [1, 0, 1, 0, 0])  # 0.5 is not > 0.5
    np.testing.assert_allclose(ev.confidence, [0.9, 0.8, 0.6, 0.6, 0.5])
    np.testing.assert_allclose(ev.true_probability, [0.9, 0.8, 0.4, 0.4, 0.5])
    np.testing.assert_array_equal(ev.confusion, [[1, 1], [2, 1]])
    assert ev.confusion.sum() == 5 and ev.accuracy == pytest.approx(2 / 5)
    np.testing.assert_allclose(ev.precision(), [1 / 3, 1 / 2])
    np.testing.assert_allclose(ev.recall(), [1 / 2, 1 / 3])
    np.testing.assert_array_equal(ev.mistakes(), [2, 3, 4])  # tie at .6 kept in index order


def test_mistakes_most_confident_first_and_by_cell():
    ev = evaluate(P3, L3, NAMES3)
    np.testing.assert_array_equal(ev.mistakes(), [4, 1, 6, 3])
    np.testing.assert_array_equal(ev.mistakes(0, 1), [1, 6])
    np.testing.assert_array_equal(ev.mistakes(1, 0), [3])
    np.testing.assert_array_equal(ev.mistakes(2, 1), [4])
    assert ev.mistakes(0, 0).size == 0 and ev.mistakes(0, 2).size == 0
    np.testing.assert_array_equal(ev.mistakes(true_class=0), [1, 6])
    np.testing.assert_array_equal(ev.mistakes(predicted_class=1), [4, 1, 6])
    for t in range(3):
        for p in range(3):
            if t != p:
                assert ev.mistakes(t, p).size == ev.confusion[t, p]


def test_bad_inputs_are_refused_and_names_default():
    with pytest.raises(ValueError, match="labels"):
        evaluate(P3, L3[:5], NAMES3)
    with pytest.raises(ValueError, match="class names"):
        evaluate(P3, L3, ["a", "b"])
    with pytest.raises(ValueError, match="0..2"):
        evaluate(P3, L3 + 1, NAMES3)
    assert evaluate(P3, L3, []).class_names == ["0", "1", "2"]
    empty = evaluate(np.zeros((3, 0)), np.zeros(0, int), NAMES3)
    assert empty.m == 0 and empty.confusion.sum() == 0 and np.isnan(empty.accuracy)


# ---------------------------------------------------------------------------- images
@pytest.fixture
def rgb_images():
    """Three 2x2 RGB images (k, H, W, C) uint8 and their pixel rows in channel planes."""
    images = np.random.default_rng(1).integers(0, 256, (3, 2, 2, 3), dtype=np.uint8)
    images[0, 0, 0] = [0, 255, 128]  # the extremes survive the round trip
    rows = np.stack([flatten_planes(im) for im in images])
    return images, rows


def test_invert_undoes_apply(rgb_images):
    _, rows = rgb_images
    for norm in (Normalisation("scale"), Normalisation.fit("standardise", rows)):
        back = norm.invert(norm.apply(rows))
        assert back.dtype == np.uint8 and back.shape == rows.shape
        np.testing.assert_array_equal(back, rows)


@pytest.mark.parametrize("kind", ["scale", "standardise"])
def test_images_from_columns_round_trip(rgb_images, kind):
    images, rows = rgb_images
    norm = Normalisation.fit(kind, rows)
    X = norm.apply(rows)  # (12, 3) columns
    out = images_from_columns(X, (2, 2, 3), norm)
    assert out.dtype == np.uint8 and out.shape == (3, 2, 2, 3)
    np.testing.assert_array_equal(out, images)
    np.testing.assert_array_equal(out[1], unflatten_planes(rows[1], (2, 2, 3)))


def test_images_from_columns_clips_and_handles_gray():
    norm = Normalisation("scale")
    X = np.array([[-0.5], [0.5], [1.5], [np.nan]], dtype=np.float32)  # one 2x2 gray image
    out = images_from_columns(X, (2, 2, 1), norm)
    np.testing.assert_array_equal(out[0, :, :, 0], [[0, 128], [255, 0]])
    with pytest.raises(ValueError, match="features"):
        images_from_columns(X, (2, 2, 3), norm)


def test_invert_without_normalisation_reads_unit_range_as_scaled():
    none = Normalisation("none")
    np.testing.assert_array_equal(none.invert(np.array([[0.0], [1.0]])), [[0, 255]])
    np.testing.assert_array_equal(none.invert(np.array([[3.0], [300.0]])), [[3, 255]])
