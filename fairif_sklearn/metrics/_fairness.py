"""The paper's fairness metrics: AD, AOD and EOD.

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
"""

from __future__ import annotations

import numpy as np

from .._rates import RATE_CLASS, RATE_VALUE, Groups, check_rates_defined, read_groups, resolve_pos_label


def _check(y_true, y_pred, sensitive_features) -> tuple[np.ndarray, np.ndarray, Groups]:
    """The annotated rows' labels and predictions, and their groups."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length, got shapes {y_true.shape} and {y_pred.shape}."
        )
    groups = read_groups(sensitive_features, n_rows=len(y_true), rows_of="y_true")
    keep = groups.annotated
    if groups.n_groups < 2:
        raise ValueError(
            "sensitive_features must hold at least two groups among its annotated rows, "
            f"found {groups.names}."
        )
    return y_true[keep], y_pred[keep], Groups(keep[keep], groups.codes[keep], groups.labels, groups.names)


def _spread(values: np.ndarray) -> float:
    return float(values.max() - values.min())


def _group_means(hit: np.ndarray, groups: Groups, rows: np.ndarray) -> np.ndarray:
    """The mean of ``hit`` over each group's rows among ``rows``."""
    return np.array([hit[rows & (groups.codes == g)].mean() for g in range(groups.n_groups)])


def _rates(y_true, y_pred, sensitive_features, pos_label, rates) -> list[np.ndarray]:
    """Each rate of ``rates`` (the hard counterparts of the soft rates FairIF balances) for each group."""
    y_true, y_pred, groups = _check(y_true, y_pred, sensitive_features)
    pos_label = resolve_pos_label(np.concatenate([y_true, y_pred]), pos_label)
    true_class = (y_true == pos_label).astype(np.int64)
    check_rates_defined(true_class, groups, rates, where="sensitive_features")
    pred_class = (y_pred == pos_label).astype(np.int64)
    out = []
    for r in rates:
        c = RATE_CLASS[r]
        rows = np.ones(len(y_true), bool) if c is None else true_class == c
        hit = pred_class == (true_class if RATE_VALUE[r] == "true" else 1)
        out.append(_group_means(hit, groups, rows))
    return out


_PARAMETERS = """\
    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels{binary}.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
        Group labels; missing ones (``None``, NaN, ``-1``, pandas ``NA``) are
        ignored, so a partially annotated array can be passed as it is; several
        columns (a 2-D array or a DataFrame) or tuples define intersectional
        groups."""
_POS_LABEL = """
    pos_label : label, default=None
        The positive class; the larger label when None."""
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
        binary = bool(rate) or positive_only
        sections = _PARAMETERS.format(binary=" (binary)" if binary else "") + (_POS_LABEL if binary else "")
        sections += _RETURNS.format(what=what)
        if rate:
            sections += _UNDEFINED.format(rows=rows, rate=rate)
        metric.__doc__ = metric.__doc__.replace("    {{sections}}", sections)
        return metric

    return fill


@_doc("In [0, 1]; the paper reports it in per cent.")
def accuracy_difference(y_true, y_pred, *, sensitive_features) -> float:
    """Accuracy difference (AD): the largest gap in accuracy between groups.

    {{sections}}
    """
    y_true, y_pred, groups = _check(y_true, y_pred, sensitive_features)
    return _spread(_group_means(y_true == y_pred, groups, np.ones(len(y_true), dtype=bool)))


@_doc("In [0, 1].", positive_only=True)
def demographic_parity_difference(y_true, y_pred, *, sensitive_features, pos_label=None) -> float:
    """Demographic parity difference (DPD): the largest difference in the rate of positive predictions.

    Equal to fairlearn's ``demographic_parity_difference``. ``y_true`` only
    tells which label is positive (the larger one unless ``pos_label`` says).

    {{sections}}
    """
    (ppr,) = _rates(y_true, y_pred, sensitive_features, pos_label, ("PPR",))
    return _spread(ppr)


@_doc("In [0, 1].", rows="positive or no negative", rate="TPR or TNR")
def average_odds_difference(y_true, y_pred, *, sensitive_features, pos_label=None) -> float:
    """Average odds difference (AOD): the mean of the TPR and TNR differences.

    Equal to fairlearn's ``equalized_odds_difference(..., agg="mean")``.

    {{sections}}
    """
    tpr, tnr = _rates(y_true, y_pred, sensitive_features, pos_label, ("TPR", "TNR"))
    return 0.5 * (_spread(tpr) + _spread(tnr))


@_doc("In [0, 1].", rows="positive", rate="TPR")
def equal_opportunity_difference(y_true, y_pred, *, sensitive_features, pos_label=None) -> float:
    """Equal opportunity difference (EOD): the largest difference in TPR.

    Equal to fairlearn's ``equal_opportunity_difference``.

    {{sections}}
    """
    (tpr,) = _rates(y_true, y_pred, sensitive_features, pos_label, ("TPR",))
    return _spread(tpr)


# the metric that judges each target on hard predictions, and its short name
TARGET_METRICS = {
    "equalized_odds": ("AOD", average_odds_difference),
    "equal_opportunity": ("EOD", equal_opportunity_difference),
    "demographic_parity": ("DPD", demographic_parity_difference),
    "accuracy_parity": ("AD", accuracy_difference),
}
