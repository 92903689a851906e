"""Group labels: which rows are annotated, and their codes."""

from __future__ import annotations

import numbers

import numpy as np


def missing_group_mask(sensitive_features) -> np.ndarray:
    """True where a row has no group label: ``None``, NaN, or ``-1``.

    ``-1`` marks a missing label as in :class:`sklearn.semi_supervised.SelfTrainingClassifier`,
    so ``-1`` cannot be a group name.
    """
    s = np.asarray(sensitive_features, dtype=object)
    if s.ndim != 1:
        raise ValueError(f"sensitive_features must be one-dimensional, got shape {s.shape}.")

    def missing(v):
        if v is None:
            return True
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            return bool(np.isnan(v)) or v == -1
        return False

    return np.fromiter((missing(v) for v in s), dtype=bool, count=len(s))


def encode_groups(sensitive_features) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct group labels and each row's code.

    All rows must be annotated (see :func:`missing_group_mask`). Whole-number
    floats become ints: groups given as floats so that NaN can mark a missing
    label are still called 0 and 1, not 0.0 and 1.0.
    """
    s = np.array(
        [
            int(v) if isinstance(v, float | np.floating) and float(v).is_integer() else v
            for v in sensitive_features
        ],
        dtype=object,
    )
    labels = sorted(set(s.tolist()), key=lambda v: (str(type(v)), v))
    index = {v: i for i, v in enumerate(labels)}
    codes = np.fromiter((index[v] for v in s), dtype=np.int64, count=len(s))
    return np.array(labels, dtype=object), codes
