"""Scorers for :class:`~sklearn.model_selection.GridSearchCV` ``scoring=``.

Each is a :func:`~sklearn.metrics.make_scorer` object with
``greater_is_better=False`` (so the search maximises the negated difference)
that requests ``sensitive_features`` through metadata routing. Enable routing
with ``sklearn.set_config(enable_metadata_routing=True)`` and pass
``sensitive_features=`` to the search's ``fit``.

scikit-learn's searches turn any ``Exception`` a scorer raises into a NaN score
and a "Scoring failed" warning, so a misconfigured search would run to the end
and choose among NaNs. These scorers raise :class:`FairnessScoringError`
instead, which the searches let through, when they cannot score a fold: no
``sensitive_features`` reached them, or a fold lacks a group, or a group's rate
is undefined there.
"""

from __future__ import annotations

import functools

from sklearn import config_context
from sklearn.metrics import make_scorer

from ._fairness import (
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
)

_NOT_ROUTED = (
    "{name} needs the group labels of the rows it scores, and got none. In a search, "
    "scikit-learn's metadata routing must carry them: call sklearn.set_config("
    "enable_metadata_routing=True), request them for fit with "
    "estimator.set_fit_request(sensitive_features=True), and pass sensitive_features= to the "
    "search's fit. Called directly, pass sensitive_features=."
)
_BAD_FOLD = (
    "{name} cannot score this fold: {error} Every scored fold needs annotated rows of each group "
    "and class; split with fairif_sklearn.model_selection.AnnotatedStratifiedKFold (it stratifies by "
    "annotation, group and class), or annotate more rows."
)


class FairnessScoringError(BaseException):
    """A fairness scorer could not score a fold; the search must stop, not record NaN.

    It derives from :class:`BaseException`, not :class:`Exception`, because
    scikit-learn's model selection turns every ``Exception`` raised by a scorer
    into a NaN score and a warning (unless ``error_score="raise"``). These
    failures are configuration errors (routing off, folds without a group), so
    every later fold would fail too and the search's choice would be arbitrary.
    """


def _scorer(metric):
    @functools.wraps(metric)
    def score(y_true, y_pred, *, sensitive_features=None, **kwargs):
        name = f"{metric.__name__} scorer"
        if sensitive_features is None:
            raise FairnessScoringError(_NOT_ROUTED.format(name=name))
        try:
            return metric(y_true, y_pred, sensitive_features=sensitive_features, **kwargs)
        except ValueError as error:
            raise FairnessScoringError(_BAD_FOLD.format(name=name, error=error)) from error

    # the request is stored on the scorer; routing must be on only to set it
    with config_context(enable_metadata_routing=True):
        return make_scorer(score, greater_is_better=False).set_score_request(sensitive_features=True)


ad_scorer = _scorer(accuracy_difference)
aod_scorer = _scorer(average_odds_difference)
eod_scorer = _scorer(equal_opportunity_difference)
dpd_scorer = _scorer(demographic_parity_difference)
