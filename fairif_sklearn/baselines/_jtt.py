"""Just Train Twice (JTT): a short ERM run finds the rows it gets wrong; a second run up-weights them."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from .._estimators._predict import _NetPredictMixin
from .._skorch import check_outputs, fit_net, is_frozen, seeded, unfrozen
from ..metrics import worst_group_accuracy
from ._common import check_annotated_fit, draw_seed

# the default grid: 2 x 4 second-stage fits (see the class docstring)
JTT_FIRST_EPOCHS = (0.1, 0.3)
JTT_LAMBDA_UP = (5.0, 20.0, 50.0, 100.0)


def _grid(values, name: str, *, high: float | None) -> np.ndarray:
    grid = np.atleast_1d(np.asarray(values, dtype=float))
    ok = grid.ndim == 1 and len(grid) > 0 and np.all(np.isfinite(grid) & (grid > 0))
    if ok and high is not None:
        ok = bool(np.all(grid <= high))
    if not ok:
        where = "in (0, 1]" if high is not None else "positive and finite"
        raise ValueError(f"{name} must be one number or a sequence of numbers {where}, got {values!r}.")
    return grid


def first_stage_epochs(fractions, max_epochs: int) -> list[int]:
    """The distinct stage-1 epoch counts T: each fraction of ``max_epochs``, rounded half up, at least one."""
    return sorted({max(1, int(np.floor(f * max_epochs + 0.5))) for f in fractions})


def error_set(net, X, y_codes: np.ndarray) -> np.ndarray:
    """The rows a fitted net misclassifies (class codes)."""
    return np.asarray(net.predict(X)).astype(np.int64) != y_codes


def jtt_weights(errors: np.ndarray, lambda_up: float) -> np.ndarray:
    """JTT's weights: ``lambda_up`` on the error set, one elsewhere."""
    return np.where(errors, float(lambda_up), 1.0)


class JTTClassifier(_NetPredictMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Just Train Twice: retrain a net with the rows a short ERM run misclassifies up-weighted.

    The method of Liu et al. (2021), "Just Train Twice: Improving Group
    Robustness without Training Group Information", given exactly what
    :class:`~fairif_sklearn.FairIFClassifier` is given: group labels on an
    annotated set, which is held out of training and only used to choose the
    two knobs.

    1. Stage 1: a clone of the net is trained by ERM for ``T`` epochs (a
       shortened run of the same schedule) on the rows without a group label.
       Its error set is the training rows it misclassifies.
    2. Stage 2: a fresh clone (the same architecture, from scratch, the full
       ``max_epochs``) is trained on the same rows with the error set's rows
       up-weighted by ``lambda_up`` (per-sample loss weights, as
       :class:`~fairif_sklearn.WeightedNetClassifier` trains; the paper
       up-samples them, which weights them the same in expectation).
    3. ``T`` (from ``first_epochs``, fractions of the net's ``max_epochs``) and
       ``lambda_up`` are chosen by the worst (class, group) accuracy of the
       stage-2 net on the annotated rows, the paper's selection rule; ties go
       to the first candidate in grid order.

    The default grid is small so that the benchmark stays affordable: ``T``
    at 10% and 30% of the schedule (the paper's chosen ``T`` are small parts
    of its schedules, such as 60 of 300 epochs on Waterbirds) and
    ``lambda_up`` in {5, 20, 50, 100} (the paper's chosen values lie between 6
    and 100): eight stage-2 fits and two short ones. All fits share one torch
    seed, so that the weights are the only difference.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier or skorch.NeuralNetBinaryClassifier
        The net, cloned and never modified.
    first_epochs : float or sequence of float, default=(0.1, 0.3)
        Candidate lengths of stage 1, as fractions in (0, 1] of the net's
        ``max_epochs`` (rounded to whole epochs, at least one).
    lambda_up : float or sequence of float, default=(5.0, 20.0, 50.0, 100.0)
        Candidate weights of the error set.
    random_state : int, RandomState or None, default=None
        Seeds the fits (initialisation, shuffling); stage 1 with the longest
        ``T`` equal to ``max_epochs`` is the ERM net of a ``FairIFClassifier``
        with this ``random_state``.

    Attributes
    ----------
    estimator_ : skorch net
        The chosen stage-2 net, which predicts.
    erm_estimator_ : skorch net
        The stage-1 net (trained ``first_epochs_`` epochs) that found the error set.
    first_epochs_ : int
        The chosen ``T``, in epochs.
    lambda_up_ : float
        The chosen weight of the error set.
    error_set_ : ndarray of bool of shape (n_samples,)
        The rows of ``X`` in the chosen error set (never an annotated row).
    sample_weight_ : ndarray of shape (n_samples,)
        The weights stage 2 trained with: ``lambda_up_`` on the error set, one
        on the other training rows, zero on the annotated rows (not trained on);
        times the training rows' ``sample_weight`` (scaled to mean one) when
        ``fit`` was given one.
    cv_results_ : dict of ndarray
        Per candidate: ``"first_epochs"``, ``"lambda_up"``, ``"error_set_size"``,
        and on the annotated rows ``"worst_group_accuracy"`` and ``"accuracy"``.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    groups_ : ndarray
        The groups of the annotated rows.
    train_mask_ : ndarray of bool of shape (n_samples,)
        The rows of ``X`` the nets were trained on (those without a group label).
    n_features_in_ : int
        Number of features (the second dimension of ``X``).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    DFRClassifier : Deep Feature Reweighting, the other same-budget method.
    fairif_sklearn.FairIFClassifier : The method these are compared with.

    Examples
    --------
    >>> import numpy as np
    >>> from fairif_sklearn.baselines import JTTClassifier
    >>> from fairif_sklearn.datasets import make_biased_classification
    >>> from fairif_sklearn.nets import make_mlp_classifier
    >>> X, y, s = make_biased_classification(n_samples=1000, random_state=0)
    >>> groups = s.astype(float)
    >>> groups[300:] = np.nan  # group labels for 300 rows only
    >>> net = make_mlp_classifier(X.shape[1], hidden=(8,), max_epochs=4)
    >>> clf = JTTClassifier(net, first_epochs=0.25, lambda_up=(5, 20), random_state=0)
    >>> clf.fit(X, y, sensitive_features=groups).predict(X[:3]).shape
    (3,)
    >>> clf.first_epochs_, clf.lambda_up_ in (5, 20)
    (1, True)
    """

    _parameter_constraints = {
        "estimator": [object],  # check_net says what is supported
        "first_epochs": ["array-like", Interval(Real, 0, 1, closed="right")],
        "lambda_up": ["array-like", Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, estimator, *, first_epochs=JTT_FIRST_EPOCHS, lambda_up=JTT_LAMBDA_UP, random_state=None
    ):
        self.estimator = estimator
        self.first_epochs = first_epochs
        self.lambda_up = lambda_up
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)  # the net is cloned and checked in fit
    def fit(self, X, y, *, sensitive_features=None, sample_weight=None) -> JTTClassifier:
        """Run both stages for every candidate and keep the stage-2 net with the best worst-group
        accuracy on the annotated rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            All rows: the training rows and the annotated ones.
        y : array-like of shape (n_samples,)
            Class labels (two or more classes).
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
            The group of each annotated row, and a missing value (NaN, None,
            -1) for every other row, as :meth:`FairIFClassifier.fit
            <fairif_sklearn.FairIFClassifier.fit>` takes it. Every (class,
            group) cell needs an annotated row.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows of ``X`` (survey or importance
            weights), as :meth:`FairIFClassifier.fit
            <fairif_sklearn.FairIFClassifier.fit>` reads them: both stages
            weigh their loss by them (stage 2 by them times the error set's
            up-weighting), the choice weighs the annotated rows' accuracies by
            them, and a row of weight zero is left out.

        Returns
        -------
        self : JTTClassifier

        Raises
        ------
        ValueError
            On an unsupported input: no annotated row, a (class, group) cell
            without annotated rows, missing values in ``X``, a grid value out
            of range.
        TypeError
            When ``estimator`` is not a skorch classifier (or a FrozenEstimator, which JTT cannot train).
        """
        if is_frozen(self.estimator):
            raise TypeError("JTTClassifier trains its net twice; a FrozenEstimator cannot be trained.")
        fractions = _grid(self.first_epochs, "first_epochs", high=1.0)
        lambdas = _grid(self.lambda_up, "lambda_up", high=None)
        data = check_annotated_fit(self, X, y, sensitive_features, sample_weight=sample_weight)
        base = np.ones(len(data.y_train)) if data.w_train is None else data.w_train
        seed = draw_seed(check_random_state(self.random_state))
        max_epochs = int(unfrozen(self.estimator).max_epochs)
        results: dict[str, list] = {k: [] for k in ("first_epochs", "lambda_up", "error_set_size")}
        results.update(worst_group_accuracy=[], accuracy=[])
        best, best_score, fitted = None, -np.inf, {}
        for T in first_stage_epochs(fractions, max_epochs):
            stage1 = self._fit(data.X_train, data.y_train, seed, max_epochs=T, sample_weight=data.w_train)
            check_outputs(stage1, data.X_train, data.y_train, len(data.classes))
            errors = error_set(stage1, data.X_train, data.y_train)
            for lam in lambdas:
                weights = jtt_weights(errors, lam) * base
                key = weights.tobytes()  # the same weights (e.g. an empty error set) train the same net
                if key not in fitted:
                    net = self._fit(data.X_train, data.y_train, seed, sample_weight=weights)
                    pred = np.asarray(net.predict(data.X_val)).astype(np.int64)
                    score = worst_group_accuracy(
                        data.y_val, pred, sensitive_features=data.g_val, sample_weight=data.w_val
                    )
                    fitted[key] = (score, float(np.average(pred == data.y_val, weights=data.w_val)))
                    if score > best_score:
                        best, best_score = (net, stage1, T, float(lam), errors, weights), score
                    del net
                score, accuracy = fitted[key]
                row = (T, float(lam), int(errors.sum()), score, accuracy)
                for name, value in zip(results, row, strict=True):
                    results[name].append(value)
        net, stage1, T, lam, errors, weights = best
        self.estimator_, self.erm_estimator_ = net, stage1
        self.first_epochs_, self.lambda_up_ = T, lam
        self.error_set_ = np.zeros(len(data.train_mask), dtype=bool)
        self.error_set_[data.train_mask] = errors
        self.sample_weight_ = np.zeros(len(data.train_mask))
        self.sample_weight_[data.train_mask] = weights
        self.cv_results_ = {name: np.asarray(values) for name, values in results.items()}
        self.classes_ = data.classes
        self.groups_ = np.array(data.groups.labels + [None], dtype=object)[:-1]
        self.train_mask_ = data.train_mask
        return self

    def _fit(self, X, y_codes, seed: int, *, max_epochs: int | None = None, sample_weight=None):
        """A fresh clone of the net trained from scratch (``max_epochs`` epochs if given)."""
        net = clone(self.estimator)
        if max_epochs is not None:
            net.set_params(max_epochs=max_epochs)
        with seeded(seed, net.device):
            fit_net(net, X, y_codes, sample_weight)
        return net
