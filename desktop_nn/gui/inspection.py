"""The inspection tabs follow the model in hand: Weights (tiles and histograms), Evaluation
(confusion matrix, metrics, mistakes, computed in a worker), Predict (a snapshot of the model)
and the Math tab's gradient check. The workbench says which model that is; this object only
shows it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QTabWidget

from desktop_nn.backend import cpu_backend
from desktop_nn.data.dataset import PreparedData, labels_of
from desktop_nn.gui.evaluation_view import EvaluationView
from desktop_nn.gui.math_view import CheckProblem, MathView
from desktop_nn.gui.predict_view import PredictView
from desktop_nn.gui.weights_view import WeightsView
from desktop_nn.gui.worker import Job
from desktop_nn.inspect.evaluation import images_from_columns
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.predict import PredictError, Predictor, preparation_mismatch
from desktop_nn.workbench import Workbench

GRADCHECK_EXAMPLES = 64  # columns handed to the gradient check (it uses up to 16 of them)


class Inspection(QObject):
    """Feeds the inspection tabs from ``workbench``'s model in hand. ``loaded_data`` gives the
    data panel's data (used when the model was not trained here), ``fresh_design`` the design,
    seed and L2 to check when there is no model yet (ValueError: no valid design), and
    ``say(text, ms)`` shows a passing message."""

    def __init__(self, workbench: Workbench, tabs: QTabWidget, weights_view: WeightsView,
                 evaluation_view: EvaluationView, predict_view: PredictView,
                 math_view: MathView, loaded_data: Callable[[], PreparedData | None],
                 fresh_design: Callable[[PreparedData], tuple[NetworkSpec, int, float]],
                 say: Callable[[str, int], None]) -> None:
        super().__init__(tabs)
        self.setObjectName("inspection")
        self.workbench, self.tabs = workbench, tabs
        self.weights_view, self.evaluation_view = weights_view, evaluation_view
        self.predict_view, self.math_view = predict_view, math_view
        self.loaded_data, self.fresh_design, self.say = loaded_data, fresh_design, say
        self.evaluation_job: Job | None = None
        self.stale = True  # the Evaluation tab shows another model than the one in hand
        self.closing = False
        self._classes: list[str] = []
        predict_view.set_model_source(self.predictor)
        math_view.set_check_source(self.gradcheck_problem)

    # ------------------------------------------------------------------ what is shown
    def data(self) -> PreparedData | None:
        """The data the model in hand was trained on, else the loaded data."""
        return self.workbench.trained_on() or self.loaded_data()

    def model_changed(self) -> None:
        """The model in hand changed or trained on: the Evaluation tab is out of date, and
        the Predict tab's predictions are made again (or cleared)."""
        self.stale = True
        self.predict_view.model_changed()

    def follow_training(self) -> None:
        """A training run's timer tick: the Weights and Predict tabs, when shown, follow
        the weights as they change."""
        self.refresh_weights()
        if self.tabs.currentWidget() is self.predict_view:
            self.predict_view.model_changed()

    def clear(self) -> None:
        self.stale = True
        self.evaluation_view.clear()

    def refresh_visible_tab(self) -> None:
        if self.closing:
            return
        current = self.tabs.currentWidget()
        if current is self.weights_view:
            self.refresh_weights()
        elif current is self.evaluation_view and self.stale:
            self.refresh_evaluation()

    def refresh_weights(self) -> None:
        """Weight tiles and histograms; during training only while the tab is shown."""
        if self.tabs.currentWidget() is not self.weights_view:
            return
        held = self.workbench.in_hand()
        if held is None:
            self.weights_view.clear()
        else:
            # the training thread may be mid-update: a view, never used to compute anything
            self.weights_view.set_parameters(*held.network.get_parameters(), held.input_shape)

    def refresh_evaluation(self) -> bool:
        """Confusion matrix, metrics and mistakes of the model in hand on the validation,
        test and training sets, computed in the background. False when there is nothing."""
        if self.evaluation_job is not None:
            return False
        data = self.data()
        try:
            model = self.workbench.current_model()
        except ValueError:
            self.evaluation_view.clear()
            return False
        problem = "no data loaded" if data is None else preparation_mismatch(model, data)
        if problem:
            self.evaluation_view.clear()
            self.say(f"Cannot evaluate the model on these data: {problem}", 10000)
            return False
        sets = {name: ds for name, ds in (("validation", data.val), ("test", data.test),
                                          ("train", data.train)) if ds is not None}
        shape, norm = data.input_shape, data.normalisation
        net = model.network

        def evaluate(job: Job) -> dict:
            out = {}
            for name, ds in sets.items():
                probabilities = net.backend.to_host(net.predict_proba(ds.X))
                images = _ColumnImages(ds.X, shape, norm) if shape is not None else None
                out[name] = (probabilities, labels_of(ds.Y), images)
            return out

        job = Job(evaluate, "evaluationJob")
        job.succeeded.connect(self._evaluation_succeeded)  # bound methods: GUI thread
        job.failed.connect(self._evaluation_failed)
        job.done.connect(self._evaluation_done)
        self.evaluation_job = job
        self._classes = list(data.class_names)
        self.stale = False
        job.start()
        return True

    def _evaluation_succeeded(self, sets: dict) -> None:
        self.evaluation_view.set_sets(sets, self._classes)

    def _evaluation_failed(self, message: str) -> None:
        self.say(f"Evaluation failed: {message}", 8000)

    def _evaluation_done(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.wait(5000)
        if self.evaluation_job is job:
            self.evaluation_job = None
        if self.stale and not self.closing:
            self.refresh_visible_tab()  # the model changed while it was being evaluated

    def predictor(self) -> Predictor:
        try:
            return Predictor(self.workbench.current_model())
        except PredictError as exc:
            raise ValueError(str(exc)) from None

    def gradcheck_problem(self) -> CheckProblem | None:
        """What "Check gradients" checks: the model in hand (else a fresh network of the
        current design) on the first training examples, with its L2."""
        data = self.data()
        if data is None:
            return None
        train = data.train
        held = self.workbench.in_hand()
        net, l2 = None, None
        if held is not None and (held.data is not None or (
                held.network.spec.input_size == train.n_x
                and held.network.spec.output_size == train.Y.shape[0])):
            net, l2 = held.network, held.l2
        if net is None or l2 is None:
            spec, seed, design_l2 = self.fresh_design(data)  # ValueError: the tab shows it
            l2 = design_l2 if l2 is None else l2
            if net is None:
                net = Network(spec, cpu_backend("gradient check"), dtype="float64", seed=seed)
        k = GRADCHECK_EXAMPLES
        return CheckProblem(net, train.X[:, :k], train.Y[:, :k], l2, n=train.m)

    def shutdown(self) -> None:
        self.closing = True
        if self.evaluation_job is not None:
            self.evaluation_job.wait(30_000)


class _ColumnImages:
    """The pictures of a set's columns, made one at a time when the gallery asks for them
    (it shows at most a few hundred of possibly tens of thousands)."""

    def __init__(self, X, shape: tuple[int, int, int], normalisation) -> None:
        self.X, self.shape, self.normalisation = X, shape, normalisation

    def __getitem__(self, i: int):
        return images_from_columns(self.X[:, i:i + 1], self.shape, self.normalisation)[0]

    def __len__(self) -> int:
        return int(self.X.shape[1])
