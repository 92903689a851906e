"""The paper's fairness metrics: AD, AOD and EOD.

With two groups they are the paper's definitions (and agree with fairlearn's
``accuracy_score_difference``, ``equalized_odds_difference(agg="mean")`` and
``equal_opportunity_difference``). With more groups each difference is the
largest pairwise one (max minus min over groups). Rows whose group label is
missing (``None``, NaN or ``-1``) are ignored, so a partially annotated
``sensitive_features`` can be passed as it is.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import type_of_target

from ..utils import encode_groups, missing_group_mask


def _per_group(y_true, y_pred, sensitive_features, pos_label, metric):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length, got shapes {y_true.shape} and {y_pred.shape}."
        )
    if len(sensitive_features) != len(y_true):
        raise ValueError(
            f"sensitive_features has {len(sensitive_features)} rows but y_true has {len(y_true)}."
        )
    keep = ~missing_group_mask(sensitive_features)
    y_true, y_pred = y_true[keep], y_pred[keep]
    groups, codes = encode_groups(np.asarray(sensitive_features, dtype=object)[keep])
    if len(groups) < 2:
        raise ValueError(f"sensitive_features must hold at least two groups, found {len(groups)}.")
    if metric != "accuracy":
        labels = np.unique(np.concatenate([y_true, y_pred]))
        if type_of_target(labels) not in ("binary", "multiclass") or len(labels) > 2:
            raise ValueError(f"{metric} needs a binary target, got labels {labels.tolist()}.")
        if pos_label is None:
            pos_label = labels[-1]  # np.unique sorts: the larger label
    values = []
    for g in range(len(groups)):
        t, p = y_true[codes == g], y_pred[codes == g]
        if metric == "accuracy":
            values.append(np.mean(t == p))
            continue
        cls = (t == pos_label) if metric == "TPR" else (t != pos_label)
        if not cls.any():
            raise ValueError(
                f"Group {groups[g]!r} has no {'positive' if metric == 'TPR' else 'negative'} "
                f"samples, so its {metric} is undefined."
            )
        hit = (p[cls] == pos_label) if metric == "TPR" else (p[cls] != pos_label)
        values.append(np.mean(hit))
    return np.array(values)


def _spread(values: np.ndarray) -> float:
    return float(values.max() - values.min())


def accuracy_difference(y_true, y_pred, *, sensitive_features) -> float:
    """Accuracy difference (AD): the largest gap in accuracy between groups.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    sensitive_features : array-like of shape (n_samples,)
        Group labels; missing ones (``None``, NaN, ``-1``) are ignored.

    Returns
    -------
    float
        In [0, 1] (the paper reports it in per cent).
    """
    return _spread(_per_group(y_true, y_pred, sensitive_features, None, "accuracy"))


def average_odds_difference(y_true, y_pred, *, sensitive_features, pos_label=None) -> float:
    """Average odds difference (AOD): the mean of the TPR and TNR differences.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Binary labels.
    sensitive_features : array-like of shape (n_samples,)
        Group labels; missing ones (``None``, NaN, ``-1``) are ignored.
    pos_label : label, default=None
        The positive class; the larger label when None.

    Returns
    -------
    float
    """
    tpr = _per_group(y_true, y_pred, sensitive_features, pos_label, "TPR")
    tnr = _per_group(y_true, y_pred, sensitive_features, pos_label, "TNR")
    return 0.5 * (_spread(tpr) + _spread(tnr))


def equal_opportunity_difference(y_true, y_pred, *, sensitive_features, pos_label=None) -> float:
    """Equal opportunity difference (EOD): the largest difference in TPR.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Binary labels.
    sensitive_features : array-like of shape (n_samples,)
        Group labels; missing ones (``None``, NaN, ``-1``) are ignored.
    pos_label : label, default=None
        The positive class; the larger label when None.

    Returns
    -------
    float
    """
    return _spread(_per_group(y_true, y_pred, sensitive_features, pos_label, "TPR"))
