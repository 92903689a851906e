import copy

import numpy as np
import pandas as pd
import pytest
import sklearn
from fairlearn.metrics import (
    accuracy_score_difference,
    equalized_odds_difference,
)
from fairlearn.metrics import (
    demographic_parity_difference as fl_dpd,
)
from fairlearn.metrics import (
    equal_opportunity_difference as fl_eod,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_validate

from fairif_sklearn.metrics import (
    accuracy_difference,
    aod_scorer,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
    worst_group_accuracy,
)
from fairif_sklearn.metrics._fairness import group_rates


@pytest.mark.parametrize("seed", range(5))
def test_two_groups_agree_with_fairlearn(seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, 300)
    p = np.where(rng.uniform(size=300) < 0.8, y, 1 - y)
    s = rng.choice(["a", "b"], 300)
    assert accuracy_difference(y, p, sensitive_features=s) == pytest.approx(
        accuracy_score_difference(y, p, sensitive_features=s)
    )
    assert average_odds_difference(y, p, sensitive_features=s) == pytest.approx(
        equalized_odds_difference(y, p, sensitive_features=s, agg="mean")
    )
    assert equal_opportunity_difference(y, p, sensitive_features=s) == pytest.approx(
        fl_eod(y, p, sensitive_features=s)
    )
    three = rng.choice(["a", "b", "c"], 300)
    assert demographic_parity_difference(y, p, sensitive_features=three) == pytest.approx(
        fl_dpd(y, p, sensitive_features=three)
    )


def test_paper_definitions_by_hand():
    # group 0: TPR 1/2, TNR 1; group 1: TPR 1, TNR 1/2
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    p = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    s = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert equal_opportunity_difference(y, p, sensitive_features=s) == 0.5
    assert average_odds_difference(y, p, sensitive_features=s) == 0.5
    assert accuracy_difference(y, p, sensitive_features=s) == 0.0


def test_more_groups_is_largest_pairwise_difference():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 600)
    p = np.where(rng.uniform(size=600) < 0.7, y, 1 - y)
    s = rng.choice([0, 1, 2], 600)
    tpr = [np.mean(p[(s == g) & (y == 1)]) for g in range(3)]
    tnr = [np.mean(1 - p[(s == g) & (y == 0)]) for g in range(3)]
    acc = [np.mean(p[s == g] == y[s == g]) for g in range(3)]
    assert equal_opportunity_difference(y, p, sensitive_features=s) == pytest.approx(np.ptp(tpr))
    assert average_odds_difference(y, p, sensitive_features=s) == pytest.approx(
        (np.ptp(tpr) + np.ptp(tnr)) / 2
    )
    assert accuracy_difference(y, p, sensitive_features=s) == pytest.approx(np.ptp(acc))
    # fairlearn agrees on more groups too
    assert average_odds_difference(y, p, sensitive_features=s) == pytest.approx(
        equalized_odds_difference(y, p, sensitive_features=s, agg="mean")
    )


@pytest.mark.parametrize("missing", [np.nan, None, -1])
def test_missing_groups_are_ignored(missing):
    rng = np.random.RandomState(1)
    y = rng.randint(0, 2, 400)
    p = np.where(rng.uniform(size=400) < 0.8, y, 1 - y)
    s = rng.randint(0, 2, 400).astype(object)
    partial = s.copy()
    partial[::3] = missing
    keep = np.ones(400, bool)
    keep[::3] = False
    for f in (accuracy_difference, average_odds_difference, equal_opportunity_difference):
        assert f(y, p, sensitive_features=partial) == pytest.approx(
            f(y[keep], p[keep], sensitive_features=s[keep])
        )


def test_string_labels_and_pos_label():
    y = np.array(["no", "yes", "yes", "no", "yes", "no"])
    p = np.array(["no", "yes", "no", "no", "yes", "yes"])
    s = np.array(["f", "f", "f", "m", "m", "m"])
    # positive is "yes" (the larger label): TPR f = 1/2, m = 1
    assert equal_opportunity_difference(y, p, sensitive_features=s) == 0.5
    assert equal_opportunity_difference(y, p, sensitive_features=s, pos_label="no") == 0.5


def test_clear_errors():
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="sensitive_features has 3 rows"):
        average_odds_difference(y, y, sensitive_features=[0, 1, 0])
    with pytest.raises(ValueError, match="at least two groups"):
        average_odds_difference(y, y, sensitive_features=[0, 0, 0, 0])
    with pytest.raises(
        ValueError,
        match=r"Group '0' of sensitive_features has no positive sample \(class 1\), so its TPR is undefined",
    ):
        equal_opportunity_difference(np.array([0, 0, 1, 1]), y, sensitive_features=[0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"Group '1' of sensitive_features has no sample \(class 0\)"):
        average_odds_difference(np.array([0, 1, 2, 1]), y, sensitive_features=[0, 0, 1, 1])
    # probabilities given for labels: named, not read as a hundred classes with undefined rates
    with pytest.raises(ValueError, match=r"y_pred holds continuous values.*not predict_proba"):
        average_odds_difference(y, np.array([0.1, 0.8, 0.3, 0.6]), sensitive_features=[0, 0, 1, 1])
    # a missing label is an error, not a class of its own that changes the number
    for missing in (
        np.array([0, 1, np.nan, 1]),
        np.array(["a", "b", None, "b"], dtype=object),
        np.array(["a", "b", pd.NA, "b"], dtype=object),  # was a TypeError from inside NumPy
    ):
        with pytest.raises(ValueError, match=r"y_true has missing values \((None, )?NaN( or pandas NA)?\)"):
            accuracy_difference(
                missing, np.array([0, 1, 0, 1]).astype(missing.dtype), sensitive_features=[0, 0, 1, 1]
            )


def test_more_than_two_classes_by_hand():
    # recall of each class per group: a = [1, 1/2, 1], b = [1/2, 1, 0]; prediction rates of class 2:
    # a 1/4, b 1/3
    y = np.array([0, 1, 1, 2, 0, 0, 1, 2])
    p = np.array([0, 1, 0, 2, 0, 1, 1, 1])
    s = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    spreads = [0.5, 0.5, 1.0]
    assert average_odds_difference(y, p, sensitive_features=s) == pytest.approx(np.mean(spreads))
    assert equal_opportunity_difference(y, p, sensitive_features=s, pos_label=2) == pytest.approx(1.0)
    assert equal_opportunity_difference(y, p, sensitive_features=s, pos_label=[1, 2]) == pytest.approx(0.75)
    assert demographic_parity_difference(y, p, sensitive_features=s, pos_label=2) == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="pos_label is needed with more than two classes"):
        equal_opportunity_difference(y, p, sensitive_features=s)
    # two classes: the same definition is the paper's AOD
    y2, p2 = (y > 0).astype(int), (p > 0).astype(int)
    tpr = [np.mean(p2[(y2 == 1) & (s == g)]) for g in "ab"]
    tnr = [np.mean(1 - p2[(y2 == 0) & (s == g)]) for g in "ab"]
    expected = 0.5 * (abs(tpr[0] - tpr[1]) + abs(tnr[0] - tnr[1]))
    assert average_odds_difference(y2, p2, sensitive_features=s) == pytest.approx(expected)


def _weighted_data(seed, n=300):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    p = np.where(rng.uniform(size=n) < 0.8, y, 1 - y)
    s = rng.choice(["a", "b", "c"], n)
    w = rng.randint(0, 4, n)  # integer weights, zeros included
    return y, p, s, w


@pytest.mark.parametrize("seed", range(3))
def test_integer_weights_equal_repeated_rows(seed):
    y, p, s, w = _weighted_data(seed)
    rep = np.repeat(np.arange(len(y)), w)
    for metric in (
        accuracy_difference,
        average_odds_difference,
        equal_opportunity_difference,
        demographic_parity_difference,
        worst_group_accuracy,
        group_rates,
    ):
        weighted = metric(y, p, sensitive_features=s, sample_weight=w)
        repeated = metric(y[rep], p[rep], sensitive_features=s[rep])
        assert weighted == pytest.approx(repeated), metric.__name__
    assert average_odds_difference(y, p, sensitive_features=s, sample_weight=w) != pytest.approx(
        average_odds_difference(y, p, sensitive_features=s)
    )  # the weights matter


@pytest.mark.parametrize("seed", range(3))
def test_weights_agree_with_fairlearn(seed):
    y, p, s, _ = _weighted_data(seed)
    w = np.random.RandomState(seed).uniform(0.1, 3.0, len(y))
    two = np.where(s == "a", "a", "b")
    assert accuracy_difference(y, p, sensitive_features=two, sample_weight=w) == pytest.approx(
        accuracy_score_difference(y, p, sensitive_features=two, sample_weight=w)
    )
    assert average_odds_difference(y, p, sensitive_features=two, sample_weight=w) == pytest.approx(
        equalized_odds_difference(y, p, sensitive_features=two, agg="mean", sample_weight=w)
    )
    assert equal_opportunity_difference(y, p, sensitive_features=s, sample_weight=w) == pytest.approx(
        fl_eod(y, p, sensitive_features=s, sample_weight=w)
    )
    assert demographic_parity_difference(y, p, sensitive_features=s, sample_weight=w) == pytest.approx(
        fl_dpd(y, p, sensitive_features=s, sample_weight=w)
    )


def test_bad_weights_are_named():
    y, p, s, w = _weighted_data(0)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        average_odds_difference(y, p, sensitive_features=s, sample_weight=w - 1)
    with pytest.raises(ValueError, match="sample_weight.shape == \\(299,\\)"):
        average_odds_difference(y, p, sensitive_features=s, sample_weight=w[1:])
    with pytest.raises(ValueError, match="NaN"):
        average_odds_difference(y, p, sensitive_features=s, sample_weight=np.where(w == 0, np.nan, w))
    with pytest.raises(ValueError, match="Group 'c' has no row of positive sample_weight"):
        average_odds_difference(y, p, sensitive_features=s, sample_weight=np.where(s == "c", 0, w))


def test_a_scorer_takes_routed_sample_weight():
    y, _, s, w = _weighted_data(1)
    X = np.c_[y + np.random.RandomState(0).normal(scale=1.5, size=len(y)), s == "a"]
    scorer = copy.deepcopy(aod_scorer)  # the module's scorer is shared: request on a copy
    with sklearn.config_context(enable_metadata_routing=True):
        # scikit-learn's set_score_request replaces a scorer's requests: name both
        scorer.set_score_request(sensitive_features=True, sample_weight=True)
        scores = cross_validate(
            LogisticRegression().set_fit_request(sample_weight=False),
            X,
            y,
            cv=KFold(3),
            scoring=scorer,
            params={"sensitive_features": s, "sample_weight": w},
        )["test_score"]
    by_hand = []
    for train, test in KFold(3).split(X):
        pred = LogisticRegression().fit(X[train], y[train]).predict(X[test])
        by_hand.append(
            -average_odds_difference(y[test], pred, sensitive_features=s[test], sample_weight=w[test])
        )
    np.testing.assert_allclose(scores, by_hand)


def test_group_rates_of_a_class_only_in_rows_of_weight_zero():
    # the rates and their values come from one pass of the checks: a class that only zero-weight rows
    # hold is left out of both (group_rates zipped rates of all classes with values of the kept ones)
    y, p, s = [0, 1, 0, 1, 2], [0, 1, 1, 1, 2], ["a", "a", "b", "b", "a"]
    weighted = group_rates(y, p, sensitive_features=s, sample_weight=[1, 1, 1, 1, 0])
    assert weighted == group_rates(y[:4], p[:4], sensitive_features=s[:4])
