"""Fairness metrics (the paper's AD, AOD, EOD, and DPD, and the worst-group accuracy) and scorers for
model selection."""

from ._fairness import (
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
    worst_group_accuracy,
)
from ._scorers import FairnessScoringError, ad_scorer, aod_scorer, dpd_scorer, eod_scorer

__all__ = [
    "FairnessScoringError",
    "accuracy_difference",
    "ad_scorer",
    "aod_scorer",
    "average_odds_difference",
    "demographic_parity_difference",
    "dpd_scorer",
    "eod_scorer",
    "equal_opportunity_difference",
    "worst_group_accuracy",
]
