"""An embedded generator of biased tabular data (no download)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

# (P(s=1 | y=0), P(s=1 | y=1), P(y=1)) for the paper's three biases (its Figure 1
# and Table 5): a small red group in both classes; most odd digits blue and most
# even digits red; the even class a quarter the size of the odd one.
BIASES = {
    "group_size": (0.15, 0.15, 0.5),
    "group_shift": (0.15, 0.85, 0.5),
    "class_size": (0.5, 0.5, 0.2),
}


def make_biased_classification(
    n_samples: int = 5000,
    *,
    bias: str = "group_size",
    n_features: int = 10,
    minority_fraction: float | None = None,
    positive_fraction: float | None = None,
    group_shift: float | None = None,
    separation: float = 1.5,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tabular data with a group whose label depends on the features differently.

    Both groups share part of the signal (feature 0) and each has a direction of
    its own (feature 1 for group 0, feature 2 for group 1); feature 3 carries the
    group, noisily. A model trained on data where one group is scarce (or where
    group and class are correlated) learns the majority's boundary, so its true
    positive and true negative rates differ between the groups: the unfairness
    FairIF corrects.

    Parameters
    ----------
    n_samples : int, default=5000
        At least 1.
    bias : {"group_size", "group_shift", "class_size"}, default="group_size"
        Which of the paper's three biases to inject: group 1 is 15% of each
        class; group 1 is 15% of class 0 and 85% of class 1; class 1 is a
        fifth of the data with groups 50/50.
    n_features : int, default=10
        At least 4; the rest are noise.
    minority_fraction, positive_fraction, group_shift : float, default=None
        Override the bias's proportions: ``minority_fraction`` is
        P(s=1 | y=0), ``group_shift`` is P(s=1 | y=1) (defaults to
        ``minority_fraction`` for "group_size"), ``positive_fraction`` is P(y=1).
    separation : float, default=1.5
        Distance of the class means along each signal direction.
    random_state : int, RandomState or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int64 (0 or 1)
    s : ndarray of shape (n_samples,), int64 (group 0 or 1)
    """
    if bias not in BIASES:
        raise ValueError(f"bias must be one of {tuple(BIASES)}, got {bias!r}.")
    for name, value, least in (("n_samples", n_samples, 1), ("n_features", n_features, 4)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be an integer of at least {least}, got {value!r}.")
    rng = check_random_state(random_state)
    p_s_y0, p_s_y1, p_y = BIASES[bias]
    if minority_fraction is not None:
        p_s_y0 = minority_fraction
        if group_shift is None and bias == "group_size":
            p_s_y1 = minority_fraction
    if group_shift is not None:
        p_s_y1 = group_shift
    if positive_fraction is not None:
        p_y = positive_fraction
    for name, p in (("P(s=1|y=0)", p_s_y0), ("P(s=1|y=1)", p_s_y1), ("P(y=1)", p_y)):
        if not 0 < p < 1:
            raise ValueError(f"{name} must be in (0, 1), got {p}.")

    y = (rng.uniform(size=n_samples) < p_y).astype(np.int64)
    s = (rng.uniform(size=n_samples) < np.where(y == 1, p_s_y1, p_s_y0)).astype(np.int64)
    sign = 2.0 * y - 1.0
    X = rng.normal(size=(n_samples, n_features))
    X[:, 0] += 0.5 * separation * sign
    X[:, 1] += np.where(s == 0, separation * sign, 0.0)
    X[:, 2] += np.where(s == 1, separation * sign, 0.0)
    X[:, 3] = s + 0.5 * rng.normal(size=n_samples)
    return X.astype(np.float32), y, s
