"""The paper's fairness metrics (AD, AOD, EOD, DPD) and the worst-group accuracy.

With two groups they are the paper's definitions, and agree with fairlearn's
``accuracy_score_difference``, ``equalized_odds_difference(agg="mean")`` and
``equal_opportunity_difference``. With more groups each difference is the
largest pairwise one (max minus min over groups), as fairlearn's ``difference``.
Groups follow the rules of the whole library: rows whose group label is missing
(``None``, NaN, ``-1``, pandas' ``NA``) are ignored, so a partially annotated
``sensitive_features`` can be passed as it is, and several sensitive columns
(a 2-D array, a DataFrame, or tuples) define the groups as their combinations.

When a group has no positive rows its TPR is undefined (likewise TNR without
negatives): these metrics raise instead of making a number up (see Raises).
So do a missing label in ``y_true`` or ``y_pred`` and continuous ``y_pred``
(probabilities passed for predicted labels), which would otherwise be read as
classes of their own.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_sample_weight

from .._rates import Groups, _plain, check_labels_present, check_rates_defined, read_groups, target_rates


def _check_labels(values: np.ndarray, name: str) -> None:
    """Raise a ValueError unless ``values`` are class labels: no missing value, nothing continuous.

    Integer, boolean and string arrays are labels as they are (the check costs nothing where the
    metrics are called many times, as in FairIFClassifierCV's bootstrap); floats must be whole.
    """
    if values.dtype.kind == "f":
        if np.isnan(values).any():
            raise ValueError(f"{name} has missing values (NaN); every row needs a label.")
        continuous = bool((values != np.floor(values)).any())
    elif values.dtype == object:
        check_labels_present(values, name)
        continuous = type_of_target(values, input_name=name) == "continuous"
    else:
        continuous = False
    if continuous:
        raise ValueError(
            f"{name} holds continuous values, not class labels (probabilities or scores?): these metrics "
            "compare predicted labels, e.g. the classifier's predict(X), not predict_proba(X)."
        )


def _check(
    y_true, y_pred, sensitive_features, sample_weight=None
) -> tuple[np.ndarray, np.ndarray, Groups, np.ndarray | None]:
    """The annotated rows' labels, predictions, groups and weights (None: unweighted); rows of weight
    zero are left out, as they count for nothing."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length, got shapes {y_true.shape} and {y_pred.shape}."
        )
    _check_labels(y_true, "y_true")
    _check_labels(y_pred, "y_pred")
    groups = read_groups(sensitive_features, n_rows=len(y_true), rows_of="y_true")
    if groups.n_groups < 2:
        raise ValueError(
            "sensitive_features must hold at least two groups among its annotated rows, "
            f"found {groups.names}."
        )
    keep, weight = groups.annotated, None
    if sample_weight is not None:
        weight = _check_sample_weight(sample_weight, y_true, dtype=np.float64, ensure_non_negative=True)
        keep = keep & (weight > 0)
        empty = [name for g, name in enumerate(groups.names) if not (keep & (groups.codes == g)).any()]
        if empty:
            raise ValueError(f"Group {empty[0]!r} has no row of positive sample_weight.")
        weight = weight[keep]
    kept = Groups(keep[keep], groups.codes[keep], groups.labels, groups.names)
    return y_true[keep], y_pred[keep], kept, weight


def _spread(values: np.ndarray) -> float:
    return float(values.max() - values.min())


def _mean(hit: np.ndarray, rows: np.ndarray, weight: np.ndarray | None) -> float:
    """The mean of ``hit`` over ``rows``, weighted by ``weight`` unless it is None."""
    return float(hit[rows].mean() if weight is None else np.average(hit[rows], weights=weight[rows]))


def _group_means(hit: np.ndarray, groups: Groups, rows: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """The (weighted) mean of ``hit`` over each group's rows among ``rows``."""
    return np.array([_mean(hit, rows & (groups.codes == g), weight) for g in range(groups.n_groups)])


def _rates(y_true, y_pred, sensitive_features, pos_label, target, sample_weight=None):
    """Each rate of ``target`` (the hard counterparts of the soft rates FairIF balances), per group: the
    rates, their values (one array per rate) and the groups, from one pass of the checks."""
    y_true, y_pred, groups, weight = _check(y_true, y_pred, sensitive_features, sample_weight)
    classes = np.unique(np.concatenate([y_true, y_pred]))
    if len(classes) < 2:
        raise ValueError(f"y_true and y_pred hold one label only ({classes.tolist()}); a rate needs two.")
    rates = target_rates(target, classes, pos_label)
    y_codes, pred_codes = np.searchsorted(classes, y_true), np.searchsorted(classes, y_pred)
    check_rates_defined(y_codes, groups, rates, where="sensitive_features", classes=classes)
    all_rows = np.ones(len(y_codes), dtype=bool)
    values = [
        _group_means(
            r.hit(y_codes, pred_codes), groups, all_rows if r.rows is None else y_codes == r.rows, weight
        )
        for r in rates
    ]
    return rates, values, groups


def _mean_spread(rates: list[np.ndarray]) -> float:
    return float(np.mean([_spread(r) for r in rates]))


_PARAMETERS = """\
    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
        Group labels; missing ones (``None``, NaN, ``-1``, pandas ``NA``) are
        ignored, so a partially annotated array can be passed as it is; several
        columns (a 2-D array or a DataFrame) or tuples define intersectional
        groups.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights: each rate is a weighted mean over its rows
        (as fairlearn's metrics weight them); rows of weight zero are left out."""
_POS_LABEL = """
    pos_label : label or list of labels, default=None
        The positive class: the larger label when None (two classes); with
        more classes, the class or classes the metric is about."""
_RETURNS = """

    Returns
    -------
    float
        {what}"""
_UNDEFINED = """

    Raises
    ------
    ValueError
        When a group has no {rows} row: its {rate} is undefined there.
        fairlearn returns a number in that case (its rate functions fall back to
        0); these metrics raise on purpose, because a made-up rate turns into a
        gap of up to 1 (or hides one) that no prediction caused, and a model
        selected on it would be selected on noise."""


def _doc(what: str, rows: str = "", rate: str = "", positive_only: bool = False):
    """Write a metric's Parameters, Returns and (for rates of one class) Raises sections."""

    def fill(metric):
        labelled = bool(rate) or positive_only
        sections = _PARAMETERS + (_POS_LABEL if labelled else "")
        sections += _RETURNS.format(what=what)
        if rate:
            sections += _UNDEFINED.format(rows=rows, rate=rate)
        metric.__doc__ = metric.__doc__.replace("    {{sections}}", sections)
        return metric

    return fill


@_doc("In [0, 1]; the paper reports it in per cent.")
def accuracy_difference(y_true, y_pred, *, sensitive_features, sample_weight=None) -> float:
    """Accuracy difference (AD): the largest gap in accuracy between groups.

    {{sections}}
    """
    y_true, y_pred, groups, weight = _check(y_true, y_pred, sensitive_features, sample_weight)
    return _spread(_group_means(y_true == y_pred, groups, np.ones(len(y_true), dtype=bool), weight))


@_doc("In [0, 1].", positive_only=True)
def demographic_parity_difference(
    y_true, y_pred, *, sensitive_features, pos_label=None, sample_weight=None
) -> float:
    """Demographic parity difference (DPD): the largest difference in the rate of positive predictions.

    Equal to fairlearn's ``demographic_parity_difference``. ``y_true`` only
    tells which label is positive (the larger one unless ``pos_label`` says).
    With more than two classes: the mean over the ``pos_label`` classes
    (needed) of the difference in the rate at which they are predicted.

    {{sections}}
    """
    return _mean_spread(
        _rates(y_true, y_pred, sensitive_features, pos_label, "demographic_parity", sample_weight)[1]
    )


@_doc("In [0, 1].", rows="positive or no negative", rate="TPR or TNR")
def average_odds_difference(
    y_true, y_pred, *, sensitive_features, pos_label=None, sample_weight=None
) -> float:
    """Average odds difference (AOD): the mean of the TPR and TNR differences.

    Equal to fairlearn's ``equalized_odds_difference(..., agg="mean")``. With
    more than two classes: the mean over the classes of the difference in their
    recall (one-vs-rest TPR), of which the two-class AOD is the special case
    (a class's recall is the TPR of class 1 and the TNR of class 0).

    {{sections}}
    """
    return _mean_spread(
        _rates(y_true, y_pred, sensitive_features, pos_label, "equalized_odds", sample_weight)[1]
    )


@_doc("In [0, 1].", rows="positive", rate="TPR")
def equal_opportunity_difference(
    y_true, y_pred, *, sensitive_features, pos_label=None, sample_weight=None
) -> float:
    """Equal opportunity difference (EOD): the largest difference in TPR.

    Equal to fairlearn's ``equal_opportunity_difference``. With more than two
    classes: the mean over the ``pos_label`` classes (needed) of the difference
    in their recall.

    {{sections}}
    """
    return _mean_spread(
        _rates(y_true, y_pred, sensitive_features, pos_label, "equal_opportunity", sample_weight)[1]
    )


@_doc("In [0, 1]: the accuracy of the worst (class, group) cell; higher is better.")
def worst_group_accuracy(y_true, y_pred, *, sensitive_features, sample_weight=None) -> float:
    """Worst-group accuracy: the lowest accuracy over the (class, group) cells.

    A cell is the rows of one true class in one group, as the "groups" of the
    robustness literature (Sagawa et al. 2020; DFR, JTT), where a group is a
    combination of the label and a spurious attribute. Cells with no row are
    skipped. fairlearn's equivalent is a ``MetricFrame`` of ``accuracy_score``
    whose sensitive features are the group and the true label, and its ``group_min()``.
    Unlike the differences, this is a level: a model can shrink every gap by
    making its best cells worse, which this score does not reward.

    {{sections}}

    Examples
    --------
    >>> from fairif_sklearn.metrics import worst_group_accuracy
    >>> worst_group_accuracy([0, 0, 1, 1], [0, 1, 1, 1], sensitive_features=["a", "a", "a", "b"])
    0.5
    """
    cells = cell_accuracies(
        y_true, y_pred, sensitive_features=sensitive_features, sample_weight=sample_weight
    )
    return float(min(cells.values()))


def cell_accuracies(
    y_true, y_pred, *, sensitive_features, sample_weight=None
) -> dict[tuple[str, str], float]:
    """The (weighted) accuracy of each (class, group) cell that has rows, keyed by (class, group name)."""
    y_true, y_pred, groups, weight = _check(y_true, y_pred, sensitive_features, sample_weight)
    hit = y_true == y_pred
    out = {}
    for c in np.unique(y_true):
        for g, name in enumerate(groups.names):
            rows = (y_true == c) & (groups.codes == g)
            if rows.any():
                out[(str(_plain(c)), name)] = _mean(hit, rows, weight)
    return out


def group_rates(
    y_true, y_pred, *, sensitive_features, pos_label=None, sample_weight=None
) -> dict[str, float]:
    """Each group's rates that equalized odds compares: TPR and TNR with two classes, each class's recall
    with more, keyed ``"TPR[group]"``, ``"TNR[group]"`` or ``"recall[class][group]"``."""
    rates, values, groups = _rates(
        y_true, y_pred, sensitive_features, pos_label, "equalized_odds", sample_weight
    )
    return {
        f"{rate.name}[{name}]": float(v)
        for rate, per_group in zip(rates, values, strict=True)
        for name, v in zip(groups.names, per_group, strict=True)
    }


# the metric that judges each target on hard predictions, and its short name
TARGET_METRICS = {
    "equalized_odds": ("AOD", average_odds_difference),
    "equal_opportunity": ("EOD", equal_opportunity_difference),
    "demographic_parity": ("DPD", demographic_parity_difference),
    "accuracy_parity": ("AD", accuracy_difference),
}
