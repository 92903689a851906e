"""Input checks shared by the estimators: the training rows and the annotated set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import validate_data

from ..adapters import loss_target
from ..influence import TARGETS
from ..influence._rates import RATE_CLASS
from ..utils import encode_groups, missing_group_mask


@dataclass
class FitData:
    """Checked inputs for one fit.

    ``y_*`` are 0/1 codes of ``classes``; ``g_val`` are codes of ``groups``.
    ``train_mask`` selects the training rows of the ``X`` given to ``fit``;
    ``annotated_mask`` the rows of ``X`` that form the annotated set (None when
    the annotated set came from the constructor).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    g_val: np.ndarray
    classes: np.ndarray
    groups: np.ndarray
    train_mask: np.ndarray
    annotated_mask: np.ndarray | None

    @property
    def group_names(self) -> list[str]:
        """The groups as strings, for naming the gaps."""
        return [str(g) for g in self.groups]


_CHECK = dict(ensure_2d=False, allow_nd=True, dtype="numeric", ensure_all_finite=True)


def _for_torch(X: np.ndarray) -> np.ndarray:
    """float64 to float32 (skorch modules are float32 by default; scikit-learn
    transformers emit float64), and a writable array (torch cannot wrap a
    read-only one, such as pandas' copy-on-write views). Always a copy or the
    caller's array untouched."""
    if X.dtype == np.float64:
        return X.astype(np.float32)
    return X if X.flags.writeable else X.copy()


def check_predict_X(est, X) -> np.ndarray:
    """Check ``X`` at predict time against the shape seen in ``fit``."""
    X = validate_data(est, X, reset=False, **_CHECK)
    if X.shape[1:] != est._input_shape:
        if X.ndim == 2 and len(est._input_shape) == 1:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
                f"{est._input_shape[0]} features as input."
            )
        raise ValueError(
            f"X has rows of shape {X.shape[1:]}, but the model was fitted on {est._input_shape}."
        )
    return _for_torch(X)


def prepare_data(est, X, y, sensitive_features) -> FitData:
    """Check ``X``, ``y`` and the annotated set of a FairIF estimator.

    The annotated set comes either from ``sensitive_features`` (aligned with
    ``X``, missing labels marked by None, NaN or -1) or from the estimator's
    ``X_val``, ``y_val`` and ``sensitive_val``; never from both.
    """
    X, y = validate_data(est, X, y, reset=True, **_CHECK)
    # validate_data counts features only for 2-D input; images are N-D
    est.n_features_in_ = X.shape[1] if X.ndim > 1 else 1
    est._input_shape = X.shape[1:]
    kind = type_of_target(y)
    if len(np.unique(y)) < 2:
        raise ValueError(f"y has only one class ({np.unique(y).tolist()}); FairIF needs a binary target.")
    if kind != "binary":
        n = len(np.unique(y))
        raise ValueError(f"FairIF supports binary targets only; y is {kind!r} with {n} distinct value(s).")
    classes = np.unique(y)
    y_codes = np.searchsorted(classes, y)
    has_constructor_set = any(v is not None for v in (est.X_val, est.y_val, est.sensitive_val))

    if sensitive_features is not None:
        if has_constructor_set:
            raise ValueError(
                "Both an annotated set in the constructor (X_val, y_val, sensitive_val) and "
                "sensitive_features in fit were given; use one of the two."
            )
        if len(sensitive_features) != len(y):
            raise ValueError(f"sensitive_features has {len(sensitive_features)} rows but X has {len(y)}.")
        annotated = ~missing_group_mask(sensitive_features)
        if not annotated.any():
            raise ValueError(
                "sensitive_features has no annotated row (all are None, NaN or -1); "
                "FairIF needs a group-annotated set."
            )
        train_mask = ~annotated if est.holdout_annotated else np.ones(len(y), dtype=bool)
        if not train_mask.any():
            raise ValueError(
                "Every row is annotated and holdout_annotated=True leaves no training row; "
                "mark the training rows' groups missing or set holdout_annotated=False."
            )
        X_val, yv_codes = X[annotated], y_codes[annotated]
        s_val = np.asarray(sensitive_features, dtype=object)[annotated]
    elif has_constructor_set:
        if est.X_val is None or est.y_val is None or est.sensitive_val is None:
            raise ValueError("The annotated set needs all three of X_val, y_val and sensitive_val.")
        X_val = check_array(est.X_val, **_CHECK)
        y_val = column_or_1d(est.y_val)
        s_val = np.asarray(est.sensitive_val, dtype=object)
        if not (len(X_val) == len(y_val) == len(s_val)):
            raise ValueError(
                f"X_val, y_val and sensitive_val must have the same length, got "
                f"{len(X_val)}, {len(y_val)} and {len(s_val)}."
            )
        if X_val.shape[1:] != X.shape[1:]:
            raise ValueError(f"X_val has rows of shape {X_val.shape[1:]} but X has {X.shape[1:]}.")
        if missing_group_mask(s_val).any():
            raise ValueError("sensitive_val has missing group labels (None, NaN or -1).")
        unknown = np.setdiff1d(y_val, classes)
        if len(unknown):
            raise ValueError(f"y_val has labels {unknown.tolist()} that y does not have.")
        yv_codes = np.searchsorted(classes, y_val)
        train_mask = np.ones(len(y), dtype=bool)
        annotated = None
    else:
        raise ValueError(
            "FairIF needs a group-annotated set: pass X_val, y_val and sensitive_val to the "
            "constructor, or sensitive_features to fit (rows without a group marked None, NaN or -1)."
        )

    groups, g_codes = encode_groups(s_val)
    _check_groups(groups, g_codes, yv_codes, est.target, classes)
    return FitData(
        X_train=_for_torch(X[train_mask]),
        y_train=loss_target(est.estimator, y_codes[train_mask]),
        X_val=_for_torch(X_val),
        y_val=yv_codes,
        g_val=g_codes,
        classes=classes,
        groups=groups,
        train_mask=train_mask,
        annotated_mask=annotated,
    )


def _check_groups(groups, g_codes, y_codes, target, classes):
    if target not in TARGETS:
        raise ValueError(f"target must be one of {tuple(TARGETS)}, got {target!r}.")
    if len(groups) < 2:
        raise ValueError(
            f"The annotated set has only one group ({groups.tolist()}); FairIF needs at least two."
        )
    for rate in TARGETS[target]:
        c = RATE_CLASS[rate]
        for g, name in enumerate(groups):
            if not np.any((g_codes == g) & (y_codes == c)):
                raise ValueError(
                    f"Group {name!r} of the annotated set has no sample of class {classes[c].item()!r}, "
                    f"so its {rate} (needed by target={target!r}) is undefined."
                )
