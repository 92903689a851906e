"""Input checks for fit and predict: plain data in, plain data out.

One function writes onto an estimator: :func:`validate_fit_X_y`, which the
estimators call at the start of ``fit``. It runs scikit-learn's
:func:`~sklearn.utils.validation.validate_data` on ``X`` and ``y`` and so sets
three attributes: ``n_features_in_`` and ``feature_names_in_`` (the
scikit-learn way; for a torch Dataset both are removed instead) and the private
``_input_shape`` (a row's shape, which :func:`check_predict_X` compares against
at predict time). The rest reads and returns plain data: the estimators hand the
arrays to :func:`check_fit_data`, which reads the annotated set and applies the
rules of :mod:`fairif_sklearn._rates`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._rates import (
    Groups,
    Rate,
    check_labels_present,
    check_rates_defined,
    check_target,
    read_groups,
    target_rates,
)
from ._skorch import check_dataset, is_dataset, take

# what X may be: numeric, any number of dimensions (images), finite
X_CHECKS = dict(ensure_2d=False, allow_nd=True, dtype="numeric", ensure_all_finite=True)

ONE_D = (
    "Expected a 2D array (n_samples, n_features), or more dimensions for images, got a "
    "1D array instead. Reshape your data with X.reshape(-1, 1) if it has a single "
    "feature, or X.reshape(1, -1) if it is a single sample."
)

ROUTED_FORM = (
    "pass the annotated rows inside X with fit(X, y, sensitive_features=...) (missing where a row "
    "has no group), which a Pipeline preprocesses like every other row"
)

# a fit inside a cross-validation sees the annotated rows of its training fold only
FOLD_HINT = (
    " Inside a cross-validation (cross_validate, GridSearchCV, CalibratedClassifierCV, ...) this is one "
    "fold's training rows: split with fairif_sklearn.model_selection.AnnotatedStratifiedKFold, which "
    "gives every fold annotated rows of every group and class."
)


def as_model_input(X):
    """``X`` as a skorch module expects it: float32, writable (a torch Dataset as it is).

    float64 (what scikit-learn transformers emit), float16, integers and booleans
    become float32, as skorch's modules are float32 by default; a read-only array
    (such as pandas' copy-on-write views) is copied, since torch cannot wrap it.
    Always a copy or the caller's array untouched.
    """
    if is_dataset(X):
        return X
    if X.dtype != np.float32 and X.dtype.kind in "biuf":
        return X.astype(np.float32)
    return X if X.flags.writeable else X.copy()


@dataclass
class FitData:
    """Checked inputs for one fit.

    ``y_train`` and ``y_val`` are class codes of ``classes``; ``groups``
    describes the annotated set's rows (``groups.codes`` aligned with
    ``X_val``); ``rates`` are the rates the target balances.
    ``train_mask`` selects the training rows of the ``X`` given to ``fit``;
    ``annotated_mask`` the rows of ``X`` that form the annotated set (None when
    it came from the constructor). With a user's ``sample_weight``, ``w_train``
    holds the training rows' weights (mean one) and ``w_val`` the annotated
    rows' (as given; None for an annotated set from the constructor); rows of
    weight zero are in neither set.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    groups: Groups
    classes: np.ndarray
    rates: tuple[Rate, ...]
    train_mask: np.ndarray
    annotated_mask: np.ndarray | None
    w_train: np.ndarray | None = None
    w_val: np.ndarray | None = None

    @property
    def g_val(self) -> np.ndarray:
        return self.groups.codes


def check_sample_weight(sample_weight, n_rows: int) -> np.ndarray:
    """A user's ``sample_weight`` as float64, checked (one per row, finite, non-negative, not all zero)
    with scikit-learn's messages."""
    return _check_sample_weight(
        sample_weight, np.empty((n_rows, 0)), dtype=np.float64, ensure_non_negative=True
    )


def check_fit_data(
    X: np.ndarray,
    y: np.ndarray,
    sensitive_features,
    *,
    X_val,
    y_val,
    sensitive_val,
    target: str,
    pos_label,
    holdout_annotated: bool,
    who: str = "FairIF",
    sample_weight=None,
) -> FitData:
    """Read the training rows and the annotated set of a FairIF fit.

    ``X`` and ``y`` have been through ``validate_data`` (or ``X`` is a torch
    Dataset aligned with ``y``; its rows are then taken as
    :class:`~torch.utils.data.Subset`, never copied). The annotated set comes
    either from ``sensitive_features`` (aligned with ``X``, missing where a row
    has no group label) or from ``X_val``, ``y_val`` and ``sensitive_val``;
    never from both. ``who`` names the method in the errors. ``sample_weight``
    (aligned with ``X``, non-negative) weighs the training rows' loss and the
    annotated rows' rates; a row of weight zero is left out of both, as if absent.
    """
    classes, y_codes = check_target(y)
    rates = target_rates(target, classes, pos_label)
    weight = None if sample_weight is None else check_sample_weight(sample_weight, len(y))
    positive = np.ones(len(y), dtype=bool) if weight is None else weight > 0  # a row of weight 0 is absent
    from_constructor = any(v is not None for v in (X_val, y_val, sensitive_val))
    if sensitive_features is not None:
        if from_constructor:
            raise ValueError(
                "Both an annotated set in the constructor (X_val, y_val, sensitive_val) and "
                "sensitive_features in fit were given; use one of the two."
            )
        groups = read_groups(sensitive_features, n_rows=len(y))
        annotated = groups.annotated & positive
        if groups.annotated.any() and not annotated.any():
            raise ValueError("No annotated row has a positive sample_weight.")
        if not annotated.any():
            raise ValueError(
                "sensitive_features has no annotated row (all are missing: None, NaN, -1 or pandas NA); "
                f"{who} needs a group-annotated set." + FOLD_HINT
            )
        if holdout_annotated and groups.annotated.all():
            raise ValueError(
                "Every row is annotated and holdout_annotated=True leaves no training row; "
                "mark the training rows' groups missing or set holdout_annotated=False."
            )
        train_mask = (~groups.annotated if holdout_annotated else np.ones(len(y), dtype=bool)) & positive
        Xv, yv_codes = take(X, np.flatnonzero(annotated)), y_codes[annotated]
        weightless = sorted(set(range(groups.n_groups)) - set(groups.codes[annotated].tolist()))
        if weightless:
            raise ValueError(
                f"Group {groups.names[weightless[0]]!r} has annotated rows of sample_weight zero only."
            )
        groups = Groups(np.ones(len(yv_codes), bool), groups.codes[annotated], groups.labels, groups.names)
    elif from_constructor:
        if X_val is None or y_val is None or sensitive_val is None:
            raise ValueError("The annotated set needs all three of X_val, y_val and sensitive_val.")
        yv = column_or_1d(y_val)
        if is_dataset(X_val):
            check_dataset(X_val, len(yv), name="X_val", labels="y_val")
            Xv = X_val
        else:
            Xv = check_array(X_val, input_name="X_val", **X_CHECKS)
        if not len(Xv) == len(yv):
            raise ValueError(f"X_val and y_val must have the same length, got {len(Xv)} and {len(yv)}.")
        if not (is_dataset(X) or is_dataset(Xv)) and Xv.shape[1:] != X.shape[1:]:
            raise ValueError(
                f"X_val has rows of shape {Xv.shape[1:]} but X has {X.shape[1:]}. An annotated set "
                f"given in the constructor does not go through a Pipeline's preprocessing: {ROUTED_FORM}."
            )
        groups = read_groups(sensitive_val, n_rows=len(Xv), name="sensitive_val", rows_of="X_val")
        if not groups.annotated.all():
            raise ValueError("sensitive_val has missing group labels (None, NaN, -1 or pandas NA).")
        unknown = sorted(set(yv.tolist()) - set(classes.tolist()), key=str)
        if unknown:
            raise ValueError(f"y_val has labels {unknown} that y does not have.")
        yv_codes = np.searchsorted(classes, yv)
        _warn_if_not_like(Xv, X)
        train_mask = positive
        annotated = None
    else:
        raise ValueError(
            "FairIF needs a group-annotated set: pass sensitive_features to fit (missing where a row "
            "has no group label), or X_val, y_val and sensitive_val to the constructor."
        )

    if not train_mask.any():  # only weights can empty it here
        raise ValueError("No training row has a positive sample_weight.")
    hint = FOLD_HINT if annotated is not None else ""  # an annotated set given apart is not split
    if groups.n_groups < 2:
        raise ValueError(
            f"The annotated set has only one group ({groups.names}); {who} needs at least two." + hint
        )
    check_rates_defined(yv_codes, groups, rates, where="the annotated set", classes=classes, hint=hint)
    return FitData(
        # consecutive training rows (all of X, or those before or after the annotated ones) are read in
        # place: a view of X, not a copy of it
        X_train=as_model_input(take(X, np.flatnonzero(train_mask))),
        y_train=y_codes[train_mask],
        X_val=as_model_input(Xv),
        y_val=yv_codes,
        groups=groups,
        classes=classes,
        rates=rates,
        train_mask=train_mask,
        annotated_mask=annotated,
        w_train=None if weight is None else weight[train_mask] / weight[train_mask].mean(),
        w_val=None if weight is None or annotated is None else weight[annotated],
    )


LIKENESS_ROWS = 2000


def _warn_if_not_like(X_val: np.ndarray, X: np.ndarray) -> None:
    """Warn when ``X_val``'s features are clearly not on the scale of ``X``'s.

    The usual cause: ``X_val`` was given in the constructor of a FairIF step in a
    Pipeline, so it skipped the preprocessing that ``X`` went through. Flagged
    when most features with spread in ``X`` have a mean more than three of
    ``X``'s standard deviations away, or a spread more than five times larger or
    smaller. The statistics are read on at most ``LIKENESS_ROWS`` evenly spaced rows of each:
    enough for thresholds that wide, and a small fraction of stage 1 on a large ``X``.
    """
    if is_dataset(X) or is_dataset(X_val) or X.ndim != 2 or len(X) < 2 or len(X_val) < 2:
        return
    X, X_val = (A[:: max(1, len(A) // LIKENESS_ROWS)] for A in (X, X_val))
    std = X.std(axis=0)
    varying = std > 0
    if not varying.any():
        return
    shift = np.abs(X_val.mean(axis=0) - X.mean(axis=0))[varying] / std[varying]
    ratio = X_val.std(axis=0)[varying] / std[varying]
    off = (shift > 3) | (ratio > 5) | (ratio < 0.2)
    if off.mean() > 0.5:
        warnings.warn(
            f"X_val does not look like X: {off.sum()} of {varying.sum()} features are off X's scale "
            "(mean over three standard deviations away, or spread five times larger or smaller). An "
            "annotated set given in the constructor does not go through a Pipeline's preprocessing; "
            f"{ROUTED_FORM}.",
            UserWarning,
            stacklevel=4,
        )


def check_predict_X(est, X) -> np.ndarray:
    """Check ``X`` at predict time against what ``est`` saw in ``fit`` (a torch Dataset passes as it is)."""
    if is_dataset(X):
        check_dataset(X)
        return X
    X = validate_data(est, X, reset=False, **X_CHECKS)
    if X.ndim == 1:
        raise ValueError(ONE_D)
    if est._input_shape is not None and X.shape[1:] != est._input_shape:
        if X.ndim == 2 and len(est._input_shape) == 1:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
                f"{est._input_shape[0]} features as input."
            )
        raise ValueError(
            f"X has rows of shape {X.shape[1:]}, but the model was fitted on {est._input_shape}."
        )
    return as_model_input(X)


def validate_fit_X_y(est, X, y) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``validate_data`` for a fit, with the input shape kept for predict.

    Records ``n_features_in_`` (the second dimension; images have more) and the
    shape of a row, which :func:`check_predict_X` compares against. A torch
    Dataset (rows streamed, see :mod:`fairif_sklearn._skorch._rows`) is checked
    for its length and item form only; its rows have no shape to record.
    """
    check_labels_present(y)
    if is_dataset(X):
        y = validate_data(est, X="no_validation", y=y, reset=True)
        check_dataset(X, len(y))
        for attribute in ("n_features_in_", "feature_names_in_"):
            if hasattr(est, attribute):
                delattr(est, attribute)
        est._input_shape = None
        return X, y
    X, y = validate_data(est, X, y, reset=True, **X_CHECKS)
    if X.ndim == 1:
        raise ValueError(ONE_D)
    est.n_features_in_ = X.shape[1]
    est._input_shape = X.shape[1:]
    return X, y
