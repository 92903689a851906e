"""Deep Feature Reweighting (DFR): the ERM net's last layer retrained on group-balanced annotated rows."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.fixes import parse_version
from sklearn.utils.validation import check_is_fitted

from .._estimators._predict import _LogProbaMixin
from .._skorch import fit_net, is_frozen, seeded, unfrozen
from .._validation import check_predict_X
from ..metrics import worst_group_accuracy
from ._common import cells_of, check_annotated_fit, draw_seed

# the paper's grid of inverse L1 strengths (Kirichenko et al. 2022, appendix; their code's C_OPTIONS)
DFR_CS = (1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01)
# scikit-learn 1.8 deprecated ``penalty``: the L1 penalty is ``l1_ratio=1`` there
_L1 = {"l1_ratio": 1.0} if parse_version(sklearn.__version__) >= parse_version("1.8") else {"penalty": "l1"}


def last_linear(module: torch.nn.Module) -> torch.nn.Linear | None:
    """The last :class:`torch.nn.Linear` of ``module`` in registration order (its head), or None."""
    layers = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    return layers[-1] if layers else None


def _module_of(estimator) -> torch.nn.Module:
    """The torch module of a net, built on the CPU (torch's generator untouched) when not fitted."""
    net = unfrozen(estimator)
    if getattr(net, "initialized_", False):
        return net.module_
    probe = clone(net)
    with seeded(0, "cpu"):  # built as skorch's initialize_module builds it, on a clone, not kept
        return probe.initialized_instance(probe.module, probe.get_params_for("module"))


def check_has_linear(estimator) -> None:
    """Raise a ValueError unless the net's module has a :class:`torch.nn.Linear` layer to retrain."""
    module = _module_of(estimator)
    if last_linear(module) is None:
        raise ValueError(
            f"DFRClassifier retrains the net's last torch.nn.Linear layer, but the module "
            f"{type(module).__name__} has none. DFR needs a module whose output is a linear layer on "
            "features (the penultimate representation)."
        )


def penultimate_features(net, X) -> np.ndarray:
    """The inputs of the fitted net's last :class:`torch.nn.Linear` layer on ``X``, one row each.

    Read with a forward pre-hook on that layer while the net runs its usual
    inference (``forward_iter``: evaluation mode, no gradient, the net's batch
    size); the hook is removed afterwards. Float64, shape (n_rows, n_features).
    """
    layer = last_linear(net.module_)
    if layer is None:
        raise ValueError(f"The module {type(net.module_).__name__} has no torch.nn.Linear layer.")
    batches: list[torch.Tensor] = []

    def keep(_module, inputs):
        batches.append(inputs[0].detach().reshape(len(inputs[0]), -1).cpu())

    handle = layer.register_forward_pre_hook(keep)
    try:
        with torch.no_grad():
            for _ in net.forward_iter(X, training=False):
                pass
    finally:
        handle.remove()
    features = torch.cat(batches).double().numpy() if batches else np.empty((0, layer.in_features))
    if len(features) != len(X):
        raise ValueError(
            f"The last linear layer of {type(net.module_).__name__} saw {len(features)} rows for {len(X)} "
            "inputs (it is called more than once per forward pass); DFR needs it called once, as a head."
        )
    return features


def balanced_subsample(cells: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Sorted row indices: each cell's rows subsampled, without replacement, to the smallest cell's size."""
    members = [np.flatnonzero(cells == c) for c in np.unique(cells)]
    size = min(len(m) for m in members)
    return np.sort(np.concatenate([rng.permutation(m)[:size] for m in members]))


def fit_logistic(
    Z: np.ndarray, y: np.ndarray, C: float, n_classes: int, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """L1-penalised logistic regression (liblinear): ``coef`` (1 or n_classes, n_features), ``intercept``.

    With more than two classes, one class against the rest for each class, as
    liblinear does (and scikit-learn did before 1.8).
    """

    def logistic():
        return LogisticRegression(C=C, solver="liblinear", random_state=0, **_L1)

    if n_classes == 2:
        model = logistic().fit(Z, y, sample_weight=sample_weight)
        return model.coef_.copy(), model.intercept_.copy()
    models = [logistic().fit(Z, (y == k).astype(int), sample_weight=sample_weight) for k in range(n_classes)]
    return np.vstack([m.coef_ for m in models]), np.concatenate([m.intercept_ for m in models])


def fit_head(
    Z: np.ndarray,
    y: np.ndarray,
    cells: np.ndarray,
    C: float,
    n_draws: int,
    n_classes: int,
    rng,
    sample_weight: np.ndarray | None = None,
) -> tuple[StandardScaler, np.ndarray, np.ndarray, list[np.ndarray]]:
    """DFR's last layer on features ``Z``: standardised (scaler fitted on all of ``Z``), then the mean of
    ``n_draws`` logistic regressions, each on a cell-balanced subsample; and those subsamples.

    With ``sample_weight``, the scaler and each regression weigh the rows by it, each cell's rows
    of a subsample scaled to mean one (the cells balanced in weight as in number)."""
    scaler = StandardScaler().fit(Z, sample_weight=sample_weight)
    Zs = scaler.transform(Z)
    coefs, intercepts, subsamples = [], [], []
    for _ in range(n_draws):
        rows = balanced_subsample(cells, rng)
        weight = None if sample_weight is None else _per_cell_mean_one(sample_weight[rows], cells[rows])
        coef, intercept = fit_logistic(Zs[rows], y[rows], C, n_classes, weight)
        coefs.append(coef)
        intercepts.append(intercept)
        subsamples.append(rows)
    return scaler, np.mean(coefs, axis=0), np.mean(intercepts, axis=0), subsamples


def _per_cell_mean_one(weight: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``weight`` divided, cell by cell, by the cell's mean weight."""
    _, index = np.unique(cells, return_inverse=True)
    return weight / (np.bincount(index, weight) / np.bincount(index))[index]


def linear_proba(decision: np.ndarray) -> np.ndarray:
    """Class probabilities of a logistic head: the sigmoid with two classes; with more, each class's
    one-vs-rest sigmoid normalised to sum to one (as liblinear's one-vs-rest in scikit-learn)."""
    p = 1 / (1 + np.exp(-decision))
    if p.shape[1] == 1:
        return np.hstack([1 - p, p])
    return p / p.sum(axis=1, keepdims=True)


def split_halves(cells: np.ndarray, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Annotated rows split in two, each cell in half (the larger half to the first): fit, then score."""
    first, second = [], []
    for c in np.unique(cells):
        rows = rng.permutation(np.flatnonzero(cells == c))
        n_second = len(rows) // 2
        first.append(rows[n_second:])
        second.append(rows[:n_second])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


class DFRClassifier(_LogProbaMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Deep Feature Reweighting: a net's last layer retrained on group-balanced annotated rows.

    The method of Kirichenko, Izmailov and Wilson (2022), "Last Layer
    Re-Training is Sufficient for Robustness to Spurious Correlations"
    (DFR on the validation set), given exactly what :class:`~fairif_sklearn.FairIFClassifier`
    is given: group labels on an annotated set, which is held out of training.

    1. The net is trained by ERM on the rows without a group label.
    2. Its penultimate features (the input of its last :class:`torch.nn.Linear`
       layer, read by a forward hook) are computed on the annotated rows and
       standardised (:class:`~sklearn.preprocessing.StandardScaler` fitted on
       them).
    3. The last layer is replaced by an L1-penalised logistic regression
       (liblinear) fitted on a subsample of the annotated rows balanced over the
       (class, group) cells: each cell drawn without replacement down to the
       smallest cell's size. This is repeated ``n_draws`` times and the
       coefficients are averaged.
    4. The inverse regularisation strength ``C`` is chosen from ``Cs``: steps 2
       and 3 on one half of the annotated rows (each cell split in two), the
       worst (class, group) accuracy on the other half; then the head is fitted
       again with that ``C`` on all the annotated rows.

    Deviations from the authors' code, each to fit a small annotated set: the
    halves are split within each cell (so both hold every cell), and the
    tuning uses the same average over ``n_draws`` subsamples as the final head
    (theirs fits one subsample per ``C``). With more than two classes each
    class gets a one-vs-rest L1 logistic regression, as liblinear did in their
    code.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier or skorch.NeuralNetBinaryClassifier
        The net, cloned and never modified; its module must end in a
        :class:`torch.nn.Linear` layer (the last one in registration order is
        retrained). A fitted net wrapped in :class:`~sklearn.frozen.FrozenEstimator`
        is used as the ERM model without training (it should not have seen the
        annotated rows); only its features are read.
    Cs : float or sequence of float, default=(1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01)
        Candidate inverse L1 strengths (the paper's grid). A single value is
        used as it is, without the half split.
    n_draws : int, default=10
        Balanced subsamples whose logistic regressions are averaged (the paper: 10).
    random_state : int, RandomState or None, default=None
        Seeds the ERM fit (the same seed as a ``FairIFClassifier`` with this
        ``random_state``, so the two start from the same ERM net), the half
        split and the subsamples.

    Attributes
    ----------
    erm_estimator_ : skorch net
        The net trained by ERM, whose features the head reads.
    C_ : float
        The chosen inverse regularisation strength.
    cv_results_ : dict of ndarray
        ``"C"`` and ``"worst_group_accuracy"`` (on the scoring half) of each
        candidate; absent when ``Cs`` is a single value.
    scaler_ : sklearn.preprocessing.StandardScaler
        Standardises the features, fitted on the annotated rows.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The averaged coefficients of the head (one row with two classes).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The averaged intercepts.
    subsamples_ : list of ndarray
        The rows (indices among the annotated rows, in the order of ``X``;
        among those of positive weight when ``fit`` was given ``sample_weight``)
        of each balanced subsample of the final head.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    groups_ : ndarray
        The groups of the annotated rows.
    train_mask_ : ndarray of bool of shape (n_samples,)
        The rows of ``X`` the net was trained on (those without a group label).
    n_features_in_ : int
        Number of features (the second dimension of ``X``).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    JTTClassifier : Just Train Twice, the other same-budget method.
    fairif_sklearn.FairIFClassifier : The method these are compared with.

    Examples
    --------
    >>> import numpy as np
    >>> from fairif_sklearn.baselines import DFRClassifier
    >>> from fairif_sklearn.datasets import make_biased_classification
    >>> from fairif_sklearn.nets import make_mlp_classifier
    >>> X, y, s = make_biased_classification(n_samples=2000, random_state=0)
    >>> groups = s.astype(float)
    >>> groups[500:] = np.nan  # group labels for 500 rows only
    >>> net = make_mlp_classifier(X.shape[1], hidden=(8,), max_epochs=5)
    >>> clf = DFRClassifier(net, random_state=0).fit(X, y, sensitive_features=groups)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> float(clf.C_) in clf.Cs
    True
    """

    _parameter_constraints = {
        "estimator": [object],  # check_net says what is supported
        "Cs": ["array-like", Interval(Real, 0, None, closed="neither")],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, *, Cs=DFR_CS, n_draws: int = 10, random_state=None):
        self.estimator = estimator
        self.Cs = Cs
        self.n_draws = n_draws
        self.random_state = random_state

    def _candidates(self) -> np.ndarray:
        Cs = np.atleast_1d(np.asarray(self.Cs, dtype=float))
        if Cs.ndim != 1 or len(Cs) == 0 or not np.all(np.isfinite(Cs) & (Cs > 0)):
            raise ValueError(f"Cs must be positive finite numbers, got {self.Cs!r}.")
        return Cs

    @_fit_context(prefer_skip_nested_validation=False)  # the net is cloned and checked in fit
    def fit(self, X, y, *, sensitive_features=None, sample_weight=None) -> DFRClassifier:
        """Train the net by ERM on the rows without a group label, then retrain its last layer on the
        annotated ones.

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
            group) cell needs an annotated row (two when ``C`` is tuned).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows of ``X`` (survey or importance
            weights), as :meth:`FairIFClassifier.fit
            <fairif_sklearn.FairIFClassifier.fit>` reads them: the ERM fit
            weighs its loss by them, the head's scaler and regressions weigh
            the annotated rows by them (each cell of a balanced subsample
            scaled to mean one, so the cells stay balanced), the choice of
            ``C`` weighs the accuracies by them, and a row of weight zero is
            left out (not drawn).

        Returns
        -------
        self : DFRClassifier

        Raises
        ------
        ValueError
            On an unsupported input: no annotated row, a (class, group) cell
            without annotated rows, missing values in ``X``, a module without
            a :class:`torch.nn.Linear` layer.
        TypeError
            When ``estimator`` is not a skorch classifier.
        """
        Cs = self._candidates()
        data = check_annotated_fit(
            self, X, y, sensitive_features, min_rows=2 if len(Cs) > 1 else 1, sample_weight=sample_weight
        )
        check_has_linear(self.estimator)
        rng = check_random_state(self.random_state)
        seed = draw_seed(rng)
        if is_frozen(self.estimator):
            net = unfrozen(self.estimator)
        else:
            net = clone(self.estimator)
            with seeded(seed, net.device):
                fit_net(net, data.X_train, data.y_train, data.w_train)
        Z = penultimate_features(net, data.X_val)
        y_val, g_val, w_val, n_classes = data.y_val, data.g_val, data.w_val, len(data.classes)
        cells = cells_of(y_val, g_val, data.groups.n_groups)
        if len(Cs) > 1:
            fit_rows, score_rows = split_halves(cells, rng)
            tune_seed = draw_seed(rng)
            scores = []
            for C in Cs:  # every C sees the same subsamples
                scaler, coef, intercept, _ = fit_head(
                    Z[fit_rows], y_val[fit_rows], cells[fit_rows], C, self.n_draws, n_classes,
                    np.random.RandomState(tune_seed), _rows_of(w_val, fit_rows),
                )  # fmt: skip
                pred = _predict_codes(scaler.transform(Z[score_rows]) @ coef.T + intercept)
                scores.append(
                    worst_group_accuracy(
                        y_val[score_rows],
                        pred,
                        sensitive_features=g_val[score_rows],
                        sample_weight=_rows_of(w_val, score_rows),
                    )
                )
            self.cv_results_ = {"C": Cs.copy(), "worst_group_accuracy": np.array(scores)}
            self.C_ = float(Cs[int(np.argmax(scores))])  # the first best, as the authors' argmax
        else:
            self.__dict__.pop("cv_results_", None)  # from an earlier fit that tuned C
            self.C_ = float(Cs[0])
        self.scaler_, self.coef_, self.intercept_, self.subsamples_ = fit_head(
            Z, y_val, cells, self.C_, self.n_draws, n_classes, rng, w_val
        )
        self.erm_estimator_ = net
        self.classes_ = data.classes
        self.groups_ = np.array(data.groups.labels + [None], dtype=object)[:-1]
        self.train_mask_ = data.train_mask
        return self

    def decision_function(self, X) -> np.ndarray:
        """The head's logits: shape (n_samples,) with two classes, (n_samples, n_classes) with more."""
        check_is_fitted(self, "coef_")
        X = check_predict_X(self, X)
        decision = self.scaler_.transform(penultimate_features(self.erm_estimator_, X)) @ self.coef_.T
        decision = decision + self.intercept_
        return decision.ravel() if decision.shape[1] == 1 else decision

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the retrained head, columns in the order of ``classes_``."""
        decision = self.decision_function(X)
        return linear_proba(decision.reshape(len(decision), -1))

    def predict(self, X) -> np.ndarray:
        """Predicted class labels of the retrained head."""
        decision = self.decision_function(X)
        return self.classes_[_predict_codes(decision.reshape(len(decision), -1))]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _rows_of(weight: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if weight is None else weight[rows]


def _predict_codes(decision: np.ndarray) -> np.ndarray:
    """Class codes of a head's logits (one column with two classes)."""
    if decision.shape[1] == 1:
        return (decision[:, 0] > 0).astype(np.int64)
    return np.argmax(decision, axis=1)
