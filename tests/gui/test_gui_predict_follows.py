"""The Predict tab follows the model: after more training, a new run, an import or a reset,
the predictions shown are those of the model in hand (computed again), or cleared with a
note; never an earlier model's."""

from __future__ import annotations

import numpy as np
from test_gui_inspect import show_tab, train

from desktop_nn.data.sources import sample_path
from desktop_nn.predict import Predictor, predict_files


def images() -> list[str]:
    out = [str(sample_path() / "test" / "3" / "00018.png")]
    for digit in ("1", "7"):
        out.append(str(sorted((sample_path() / "test" / digit).iterdir())[0]))
    return out


def shown(view) -> np.ndarray:
    return np.array([r.probabilities for r in view.results])


def expected(window, paths) -> np.ndarray:
    """The current model's probabilities, computed here, apart from the tab."""
    results = predict_files(Predictor(window.workbench.current_model()), paths)
    return np.array([r.probabilities for r in results])


def settled(qtbot, view) -> None:
    qtbot.waitUntil(lambda: view.job is None and not view.stale, timeout=20_000)


def predict(qtbot, window, paths) -> np.ndarray:
    view = window.predict_view
    show_tab(window, view)
    with qtbot.waitSignal(view.predicted, timeout=20_000):
        assert view.predict(paths)
    settled(qtbot, view)
    return shown(view)


def test_predictions_follow_more_training_and_a_new_run(qtbot, window):
    train(qtbot, window, epochs=1, lr=0.5)
    paths = images()
    first = predict(qtbot, window, paths)
    np.testing.assert_allclose(first, expected(window, paths), rtol=1e-6, atol=1e-9)
    view = window.predict_view
    train(qtbot, window, epochs=1, lr=0.5)  # the same run trains on, the tab shown
    settled(qtbot, view)
    after = shown(view)
    assert np.abs(after - first).max() > 1e-3  # it did change ...
    np.testing.assert_allclose(after, expected(window, paths), rtol=1e-6, atol=1e-9)
    assert len(view.results) == len(paths) == view.list.count()  # replaced, not added
    assert "epoch 2" in view.status.text()
    # a new run, trained while another tab is shown: updated when the tab is shown again
    show_tab(window, window.training_tab)
    train(qtbot, window, epochs=1, lr=2.0, seed=5)
    assert view.stale
    show_tab(window, view)
    settled(qtbot, view)
    np.testing.assert_allclose(shown(view), expected(window, paths), rtol=1e-6, atol=1e-9)
    assert "epoch 1" in view.status.text()


def test_predictions_follow_an_imported_model(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1, lr=0.5, seed=1)
    model = tmp_path / "a.npz"
    assert window.model_files.export_model(str(model))
    train(qtbot, window, epochs=1, lr=2.0, seed=2)
    paths = images()
    before = predict(qtbot, window, paths)
    assert window.model_files.import_model(str(model))
    settled(qtbot, window.predict_view)
    after = shown(window.predict_view)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, expected(window, paths), rtol=1e-6, atol=1e-9)


def test_predictions_are_cleared_with_a_note_when_the_model_is_gone(qtbot, window):
    train(qtbot, window, epochs=1)
    predict(qtbot, window, images())
    window.reset_weights()  # no model in hand any more
    view = window.predict_view
    qtbot.waitUntil(lambda: view.results == [], timeout=5000)
    assert view.list.count() == 0 and view.paths == []
    assert "cleared" in view.status.text() and "earlier model" in view.status.text()
