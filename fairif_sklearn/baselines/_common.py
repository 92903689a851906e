"""What DFR and JTT share: reading FairIF's inputs, the (class, group) cells, the seeds."""

from __future__ import annotations

import numpy as np

from .._rates import Groups
from .._skorch import check_net
from .._validation import FitData, check_fit_data, validate_fit_X_y


def check_annotated_fit(est, X, y, sensitive_features, *, min_rows: int = 1, sample_weight=None) -> FitData:
    """Check ``X``, ``y`` and a partially annotated ``sensitive_features`` as FairIF does.

    The rows with a group label form the annotated set, held out of training
    (FairIF's ``holdout_annotated=True``); the others are the training rows.
    Every (class, group) cell must hold at least ``min_rows`` annotated rows.
    ``sample_weight`` as FairIF reads it: a row of weight zero is absent.

    Returns
    -------
    FitData
        ``X_train`` / ``y_train`` (class codes) are the rows without a group
        label, ``X_val`` / ``y_val`` / ``g_val`` the annotated ones, and with
        ``sample_weight``, ``w_train`` (mean one) and ``w_val`` their weights.
    """
    who = type(est).__name__
    check_net(est.estimator, who=who)
    if sensitive_features is None:
        raise ValueError(
            f"{who} needs group labels on an annotated set: pass sensitive_features to fit, aligned with "
            "X, with the group of each annotated row and a missing value (NaN, None or -1) elsewhere."
        )
    X, y = validate_fit_X_y(est, X, y)
    data = check_fit_data(
        X,
        y,
        sensitive_features,
        X_val=None,
        y_val=None,
        sensitive_val=None,
        target="accuracy_parity",  # no rate to be defined: the cells are checked below
        pos_label=None,
        holdout_annotated=True,
        who=who,
        sample_weight=sample_weight,
    )
    check_net(est.estimator, n_classes=len(data.classes), who=who)
    _check_cells(data.y_val, data.groups, data.classes, min_rows=min_rows, who=who)
    return data


def _check_cells(y_codes: np.ndarray, groups: Groups, classes, *, min_rows: int, who: str) -> None:
    """Raise unless every (class, group) cell has ``min_rows`` annotated rows."""
    for c, label in enumerate(classes.tolist()):
        for g, name in enumerate(groups.names):
            n = int(np.sum((y_codes == c) & (groups.codes == g)))
            if n < min_rows:
                raise ValueError(
                    f"{who} needs at least {min_rows} annotated row(s) in every (class, group) cell, but "
                    f"group {name!r} has {n} annotated row(s) of class {label!r}. Annotate rows of that "
                    "group and class" + (", or give a single value to tune nothing." if min_rows > 1 else ".")
                )


def cells_of(y_codes: np.ndarray, g_codes: np.ndarray, n_groups: int) -> np.ndarray:
    """The (class, group) cell of each row, as one integer ``class * n_groups + group``."""
    return np.asarray(y_codes) * n_groups + np.asarray(g_codes)


def draw_seed(rng: np.random.RandomState) -> int:
    """A torch seed from ``rng``; the first draw of ``check_random_state(random_state)`` is the seed
    FairIF's ERM fit takes, so that the same ``random_state`` trains the same ERM net."""
    return int(rng.randint(0, 2**31 - 1))
