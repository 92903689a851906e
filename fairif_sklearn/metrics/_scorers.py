"""Scorers for :class:`~sklearn.model_selection.GridSearchCV` ``scoring=``.

Each is a :func:`~sklearn.metrics.make_scorer` object with
``greater_is_better=False`` (so the search maximises the negated difference)
that requests ``sensitive_features`` through metadata routing. Enable routing
with ``sklearn.set_config(enable_metadata_routing=True)`` and pass
``sensitive_features=`` to the search's ``fit``.
"""

from sklearn import config_context
from sklearn.metrics import make_scorer

from ._fairness import accuracy_difference, average_odds_difference, equal_opportunity_difference


def _scorer(metric):
    # the request is stored on the scorer; routing must be on only to set it
    with config_context(enable_metadata_routing=True):
        return make_scorer(metric, greater_is_better=False).set_score_request(sensitive_features=True)


ad_scorer = _scorer(accuracy_difference)
aod_scorer = _scorer(average_odds_difference)
eod_scorer = _scorer(equal_opportunity_difference)
