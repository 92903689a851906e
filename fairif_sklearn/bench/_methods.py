"""The methods the benchmark compares, and which group labels each one uses."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient
from sklearn.base import BaseEstimator, ClassifierMixin

from .. import FairIFClassifier, FairIFClassifierCV, WeightedNetClassifier
from ..baselines import DFRClassifier, JTTClassifier
from ..metrics import (
    accuracy_difference,
    average_odds_difference,
    equal_opportunity_difference,
    worst_group_accuracy,
)
from ..metrics._fairness import group_rates
from ._datasets import BenchData

GROUPS_NONE = "none"
GROUPS_VALID = "annotated valid"
GROUPS_TRAIN = "train (oracle)"
GROUPS_TRAIN_TEST = "train + test (oracle)"
GROUPS_VALID_TEST = "annotated valid + test"

ERM = "ERM"
ERM_OTHER_INIT = "ERM, another initialisation (noise)"
FAIRIF = "FairIF"
# labelled non-default variants, each with the parameters that make it one
VARIANTS = {
    "FairIF [levelling='any']": {"levelling": "any"},
    "FairIF [retrain='scratch', the paper's stage 2]": {"retrain": "scratch"},
    "FairIF [max_rounds=1]": {"max_rounds": 1},
    "FairIF [later_temperature='same']": {"later_temperature": "same"},  # the earlier default
}
FAIRIF_CV = "FairIFClassifierCV"
# the trade-off path chosen within a budget the user states: two accuracy points
CV_BUDGET = 0.02
FAIRIF_CV_BUDGET = f"FairIFClassifierCV [max_accuracy_drop={CV_BUDGET}]"
PREFIT_ERM = "ERM, a net trained once (prefit)"
PREFIT = "FairIF [FrozenEstimator(that net)]"
# the same-budget peers: group labels on the annotated valid set only, held out of training
DFR = "DFR (last layer retrained on valid)"
JTT = "JTT (error set up-weighted)"


@dataclass
class Result:
    """One fitted model's scores on the test set (and on the annotated valid set), and each test
    group's rates."""

    method: str
    groups: str
    test: dict
    valid: dict
    extra: dict = field(default_factory=dict)
    rates: dict = field(default_factory=dict)


def scores(y, pred, s) -> dict:
    """Accuracy, worst-group accuracy (over the (class, group) cells) and the paper's three fairness
    differences (EOD needs a positive class: NaN beyond two)."""
    two_classes = len(np.unique(np.concatenate([y, pred]))) <= 2
    return {
        "acc": float(np.mean(y == pred)),
        "WGA": worst_group_accuracy(y, pred, sensitive_features=s),
        "AD": accuracy_difference(y, pred, sensitive_features=s),
        "AOD": average_odds_difference(y, pred, sensitive_features=s),
        "EOD": equal_opportunity_difference(y, pred, sensitive_features=s) if two_classes else float("nan"),
    }


def _evaluate(method, groups, data: BenchData, predict, **extra) -> Result:
    pred_test = predict(data.X_test, data.s_test)
    return Result(
        method,
        groups,
        scores(data.y_test, pred_test, data.s_test),
        scores(data.y_valid, predict(data.X_valid, data.s_valid), data.s_valid),
        extra,
        group_rates(data.y_test, pred_test, sensitive_features=data.s_test),
    )


def _fairif_extra(clf: FairIFClassifier, seconds: float) -> dict:
    """What a FairIF fit reports on the annotated set, for the runs CSV."""
    return {
        "fit_seconds": seconds,
        "reweighted": bool(clf.reweighted_),
        "n_rounds": len(clf.rounds_),
        "damping": clf.damping_,
        "temperature": clf.temperature_,
        "gaps": clf.gaps_.tolist(),
        "gaps_stderr": clf.gaps_stderr_.tolist(),
        "predicted_gaps": clf.predicted_gaps_.tolist(),
        "final_gaps": clf.final_gaps_.tolist(),
        "materialization": clf.materialization_.tolist(),
        "rate_names": clf.rate_names_,
        "group_rates": clf.group_rates_.tolist(),
        "predicted_group_rates": clf.predicted_group_rates_.tolist(),
        "final_group_rates": clf.final_group_rates_.tolist(),
        "steps": [r["step"] for r in clf.rounds_],
        "round_temperatures": [r["temperature"] for r in clf.rounds_],
        "weight_std": float(np.std(clf.sample_weight_[clf.train_mask_])),
    }


def _fairif_classifier(data: BenchData, seed: int, memory, estimator=None, **params) -> FairIFClassifier:
    return FairIFClassifier(
        data.make_net() if estimator is None else estimator,
        X_val=data.X_valid,
        y_val=data.y_valid,
        sensitive_val=data.s_valid,
        random_state=seed,
        memory=memory,
        **params,
    )


def fairif(data: BenchData, seed: int, memory, label: str = FAIRIF, **params):
    """FairIF (the defaults, or a variant with ``params``), the ERM model it started from, and that
    ERM net (for ThresholdOptimizer).

    ``memory`` caches the ERM fit and stage 1, so that variants and the
    annotated-set-size study share them.
    """
    clf = _fairif_classifier(data, seed, memory, **params)
    start = time.perf_counter()
    clf.fit(data.X_train, data.y_train)
    seconds = time.perf_counter() - start
    erm = clf.erm_estimator_
    erm_result = _evaluate(ERM, GROUPS_NONE, data, lambda X, s: clf.classes_[erm.predict(X).astype(int)])
    result = _evaluate(label, GROUPS_VALID, data, lambda X, s: clf.predict(X), **_fairif_extra(clf, seconds))
    return erm_result, result, erm


def fairif_cv(data: BenchData, seed: int, memory, label: str = FAIRIF_CV, **params) -> tuple[Result, dict]:
    """FairIFClassifierCV around the default FairIFClassifier (``params``: the CV's own, for a labelled
    variant), and its path: ``cv_results_`` without the parameters, and the chosen index."""
    cv = FairIFClassifierCV(_fairif_classifier(data, seed, memory), **params)
    start = time.perf_counter()
    cv.fit(data.X_train, data.y_train)
    extra = {
        **_fairif_extra(cv.best_estimator_, time.perf_counter() - start),
        "n_rounds_chosen": cv.n_rounds_,
        "closure_chosen": cv.cv_results_["closure"][cv.best_index_],
    }
    path = {k: v for k, v in cv.cv_results_.items() if k != "params"} | {"chosen": cv.best_index_}
    return _evaluate(label, GROUPS_VALID, data, lambda X, s: cv.predict(X), **extra), path


def prefit(data: BenchData, seed: int) -> tuple[Result, Result]:
    """A net trained once by the user (another seed than FairIF's own ERM fit), and FairIF
    debiasing it through ``FrozenEstimator``: no ERM fit, stage 2 fine-tunes a copy."""
    from sklearn.frozen import FrozenEstimator

    user = WeightedNetClassifier(data.make_net(), random_state=seed + 20_000).fit(data.X_train, data.y_train)
    erm = _evaluate(PREFIT_ERM, GROUPS_NONE, data, lambda X, s: user.predict(X))
    clf = _fairif_classifier(data, seed, None, estimator=FrozenEstimator(user.estimator_))
    start = time.perf_counter()
    clf.fit(data.X_train, data.y_train)
    extra = _fairif_extra(clf, time.perf_counter() - start)
    return erm, _evaluate(PREFIT, GROUPS_VALID, data, lambda X, s: clf.predict(X), **extra)


def erm_other_init(data: BenchData, seed: int) -> Result:
    """ERM on the same data with another initialisation and batch order: the size of the noise."""
    model = WeightedNetClassifier(data.make_net(), random_state=seed + 10_000).fit(data.X_train, data.y_train)
    return _evaluate(ERM_OTHER_INIT, GROUPS_NONE, data, lambda X, s: model.predict(X))


def exponentiated_gradient(data: BenchData, seed: int, *, oracle: bool, max_iter: int) -> Result:
    """fairlearn's ExponentiatedGradient(EqualizedOdds) around the same net.

    Without the oracle it can only learn from the rows whose group it knows: the
    annotated valid set.
    """
    X, y, s = (
        (data.X_train, data.y_train, data.s_train) if oracle else (data.X_valid, data.y_valid, data.s_valid)
    )
    mitigator = ExponentiatedGradient(
        WeightedNetClassifier(data.make_net(), random_state=seed), EqualizedOdds(), max_iter=max_iter
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="fairlearn")  # its pandas deprecation notices
        mitigator.fit(X, y, sensitive_features=s)
    return _evaluate(
        "ExponentiatedGradient(EqualizedOdds)",
        GROUPS_TRAIN if oracle else GROUPS_VALID,
        data,
        lambda X, s: mitigator.predict(X, random_state=seed),
    )


class _FittedNet(ClassifierMixin, BaseEstimator):
    """A fitted skorch net as a fitted scikit-learn classifier (float64 probabilities), for fairlearn."""

    def __init__(self, net=None):
        self.net = net

    def fit(self, X, y):
        """Nothing to fit: the net is fitted already (as ``sklearn.frozen.FrozenEstimator``)."""
        return self

    def __sklearn_is_fitted__(self):
        return True

    def predict_proba(self, X):
        return self.net.predict_proba(X).astype(np.float64)


def threshold_optimizer(data: BenchData, seed: int, erm_net, *, oracle: bool) -> Result:
    """fairlearn's ThresholdOptimizer(equalized_odds) on the ERM net's probabilities.

    It needs every test row's group at prediction time.
    """
    X, y, s = (
        (data.X_train, data.y_train, data.s_train) if oracle else (data.X_valid, data.y_valid, data.s_valid)
    )
    post = ThresholdOptimizer(
        estimator=_FittedNet(erm_net),
        constraints="equalized_odds",
        prefit=True,
        predict_method="predict_proba",
    )
    post.fit(X, y, sensitive_features=s)
    return _evaluate(
        "ThresholdOptimizer(equalized_odds)",
        GROUPS_TRAIN_TEST if oracle else GROUPS_VALID_TEST,
        data,
        lambda X, s: post.predict(X, sensitive_features=s, random_state=seed),
    )


def reweighing(data: BenchData, seed: int) -> Result:
    """Kamiran and Calders' reweighing with the training groups: w(s, y) = P(s) P(y) / P(s, y)."""
    s, y = data.s_train, data.y_train
    weight = np.empty(len(y))
    for g in np.unique(s):
        for c in np.unique(y):
            cell = (s == g) & (y == c)
            if cell.any():
                weight[cell] = np.mean(s == g) * np.mean(y == c) / np.mean(cell)
    model = WeightedNetClassifier(data.make_net(), random_state=seed)
    model.fit(data.X_train, y, sample_weight=weight)
    return _evaluate("Reweighing (Kamiran-Calders)", GROUPS_TRAIN, data, lambda X, s: model.predict(X))


def _annotated_fit_data(data: BenchData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training rows and the annotated valid rows as one ``fit(X, y, sensitive_features=...)``: the
    group labels of the valid rows, None for the training rows (FairIF's information, in its form)."""
    X = np.concatenate([data.X_train, data.X_valid])
    y = np.concatenate([data.y_train, data.y_valid])
    groups = np.empty(len(y), dtype=object)
    groups[len(data.y_train) :] = list(data.s_valid)
    return X, y, groups


def dfr(data: BenchData, seed: int) -> Result:
    """DFR: the ERM net (the same seed, so the same net as FairIF's) with its last layer retrained on
    group-balanced subsamples of the annotated valid set."""
    clf = DFRClassifier(data.make_net(), random_state=seed)
    X, y, groups = _annotated_fit_data(data)
    start = time.perf_counter()
    clf.fit(X, y, sensitive_features=groups)
    extra = {"fit_seconds": time.perf_counter() - start, "C": clf.C_}
    return _evaluate(DFR, GROUPS_VALID, data, lambda X, s: clf.predict(X), **extra)


def jtt(data: BenchData, seed: int) -> Result:
    """JTT with its default grid (T, lambda_up), chosen by worst-group accuracy on the annotated valid set."""
    clf = JTTClassifier(data.make_net(), random_state=seed)
    X, y, groups = _annotated_fit_data(data)
    start = time.perf_counter()
    clf.fit(X, y, sensitive_features=groups)
    extra = {
        "fit_seconds": time.perf_counter() - start,
        "first_epochs": clf.first_epochs_,
        "lambda_up": clf.lambda_up_,
        "error_set_size": int(clf.error_set_.sum()),
    }
    return _evaluate(JTT, GROUPS_VALID, data, lambda X, s: clf.predict(X), **extra)
