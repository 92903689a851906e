"""The methods the benchmark compares, and which group labels each one uses."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

from .. import FairIFWeigher, WeightedNetClassifier
from ..metrics import accuracy_difference, average_odds_difference, equal_opportunity_difference
from ._datasets import BenchData

DEFAULT_ALPHA = 0.1
ALPHA_GRID = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003)
# alpha is chosen on the annotated valid set: the lowest valid AOD among the
# alphas whose valid accuracy is within this of ERM's
ALPHA_SELECTION_ACCURACY_SLACK = 0.005

GROUPS_NONE = "none"
GROUPS_VALID = "annotated valid"
GROUPS_TRAIN = "train (oracle)"
GROUPS_TRAIN_TEST = "train + test (oracle)"
GROUPS_VALID_TEST = "annotated valid + test"


@dataclass
class Result:
    """One fitted model's scores on the test set (and on the annotated valid set)."""

    method: str
    groups: str
    test: dict
    valid: dict
    alpha: float | None = None
    extra: dict = field(default_factory=dict)


def scores(y, pred, s) -> dict:
    """Accuracy and the paper's three fairness differences."""
    return {
        "acc": float(np.mean(y == pred)),
        "AD": accuracy_difference(y, pred, sensitive_features=s),
        "AOD": average_odds_difference(y, pred, sensitive_features=s),
        "EOD": equal_opportunity_difference(y, pred, sensitive_features=s),
    }


def _evaluate(method, groups, data: BenchData, predict, alpha=None, **extra) -> Result:
    return Result(
        method,
        groups,
        scores(data.y_test, predict(data.X_test, data.s_test), data.s_test),
        scores(data.y_valid, predict(data.X_valid, data.s_valid), data.s_valid),
        alpha,
        extra,
    )


def erm(data: BenchData, seed: int) -> tuple[Result, WeightedNetClassifier]:
    """The net trained without weights (FairIF's first fit: same seed, same model)."""
    model = WeightedNetClassifier(data.make_net(), random_state=seed).fit(data.X_train, data.y_train)
    return _evaluate("ERM", GROUPS_NONE, data, lambda X, s: model.predict(X)), model


def fairif_path(
    data: BenchData, seed: int, alphas=ALPHA_GRID, label: str = "FairIF", **fairif_params
) -> list[Result]:
    """One stage 1, then a weighted fit for each alpha of the path."""
    weigher = FairIFWeigher(
        data.make_net(),
        X_val=data.X_valid,
        y_val=data.y_valid,
        sensitive_val=data.s_valid,
        random_state=seed,
        **fairif_params,
    )
    start = time.perf_counter()
    weigher.fit(data.X_train, data.y_train)
    stage1_seconds = time.perf_counter() - start  # includes the ERM fit
    results = []
    for alpha in alphas:
        weight, predicted = weigher.reweight(alpha)
        model = WeightedNetClassifier(data.make_net(), random_state=seed)
        model.fit(data.X_train, data.y_train, sample_weight=weight)
        results.append(
            _evaluate(
                f"{label} path",
                GROUPS_VALID,
                data,
                lambda X, s, model=model: model.predict(X),
                alpha=alpha,
                gaps=weigher.gaps_.tolist(),
                predicted_gaps=predicted.tolist(),
                weight_std=float(np.std(weight[weigher.train_mask_])),
                influence=weigher.influence_info_["method"],
                solver_converged=weigher.influence_info_["solver_converged"],
                stage1_seconds=stage1_seconds,
            )
        )
    return results


def fairif_summary(path: list[Result], erm_result: Result, label: str = "FairIF") -> list[Result]:
    """FairIF at the default alpha, and at the alpha chosen on the annotated valid set."""
    by_alpha = {r.alpha: r for r in path}
    default = by_alpha[DEFAULT_ALPHA]
    eligible = [r for r in path if r.valid["acc"] >= erm_result.valid["acc"] - ALPHA_SELECTION_ACCURACY_SLACK]
    chosen = min(eligible or path, key=lambda r: r.valid["AOD"])
    return [
        Result(f"{label} (alpha={DEFAULT_ALPHA})", GROUPS_VALID, default.test, default.valid, default.alpha),
        Result(f"{label} (alpha tuned on valid)", GROUPS_VALID, chosen.test, chosen.valid, chosen.alpha),
    ]


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


def threshold_optimizer(data: BenchData, seed: int, erm_model, *, oracle: bool) -> Result:
    """fairlearn's ThresholdOptimizer(equalized_odds) on the ERM net's probabilities.

    It needs every test row's group at prediction time.
    """
    X, y, s = (
        (data.X_train, data.y_train, data.s_train) if oracle else (data.X_valid, data.y_valid, data.s_valid)
    )
    post = ThresholdOptimizer(
        estimator=erm_model, constraints="equalized_odds", prefit=True, predict_method="predict_proba"
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
