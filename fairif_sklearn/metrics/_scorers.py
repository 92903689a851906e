"""Scorers for :class:`~sklearn.model_selection.GridSearchCV` ``scoring=``.

Each is a :func:`~sklearn.metrics.make_scorer` object with
``greater_is_better=False`` (so the search maximises the negated difference)
that requests ``sensitive_features`` through metadata routing. Enable routing
with ``sklearn.set_config(enable_metadata_routing=True)`` and pass
``sensitive_features=`` to the search's ``fit``. To weight the scored rows
(the metrics take ``sample_weight=``, as fairlearn's do), request it on a copy,
naming both (scikit-learn's ``set_score_request`` replaces a scorer's
requests, and these scorers are shared module objects)::

    scorer = copy.deepcopy(aod_scorer).set_score_request(sensitive_features=True, sample_weight=True)

When they cannot score a fold (no ``sensitive_features`` reached them, a fold
lacks a group, or a group's rate is undefined there) these scorers raise
:class:`FairnessScoringError`, whose message says what to do. scikit-learn's
searches turn any exception a scorer raises into the search's ``error_score``
(NaN by default) and a "Scoring failed" warning, and would then choose among
NaNs; give the search ``error_score="raise"`` and the error stops it instead::

    GridSearchCV(clf, grid, scoring={"aod": aod_scorer}, error_score="raise", ...)
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
    "search's fit. Called directly, pass sensitive_features= with routing on (scikit-learn accepts a "
    "scorer's extra arguments only then), or call {metric}(y, estimator.predict(X), "
    "sensitive_features=...)."
)
_BAD_FOLD = (
    "{name} cannot score this fold: {error} Every scored fold needs annotated rows of each group "
    "and class; split with fairif_sklearn.model_selection.AnnotatedStratifiedKFold (it stratifies by "
    "annotation, group and class), or annotate more rows."
)


class FairnessScoringError(ValueError):
    """A fairness scorer could not score a fold: a configuration error, not a bad score.

    The causes (metadata routing off, a fold without annotated rows of some
    group, a group without the class a rate averages over) fail every later
    fold too, so a search should stop on it rather than choose among NaN
    scores. scikit-learn's searches record any exception a scorer raises as
    ``error_score`` (NaN by default) with a warning; pass
    ``error_score="raise"`` to :class:`~sklearn.model_selection.GridSearchCV`
    (or any search, or :func:`~sklearn.model_selection.cross_validate`) and this
    error stops it. It is a :class:`ValueError`, so ``except Exception`` (and
    ``except ValueError``) catch it, in user code and in parallel back ends alike.
    """


def _scorer(metric):
    @functools.wraps(metric)
    def score(y_true, y_pred, *, sensitive_features=None, **kwargs):
        name = f"{metric.__name__} scorer"
        if sensitive_features is None:
            raise FairnessScoringError(_NOT_ROUTED.format(name=name, metric=metric.__name__))
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
