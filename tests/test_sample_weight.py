"""A user's ``sample_weight`` through FairIF: it weighs the training loss and the annotated rates.

The properties that matter: integer weights give stage 1 of the rows repeated
(rates, gaps, influence scores, damping), a row of weight zero is a row absent,
equal weights of any scale change nothing, the weights route through
scikit-learn's metadata routing, and bad weights are named.
"""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fairif_sklearn import FairIFClassifier, FairIFClassifierCV, FairIFWeigher
from fairif_sklearn.model_selection import AnnotatedStratifiedKFold

from ._helpers import partial_groups, small_net


@pytest.fixture(scope="module")
def data(biased_data):
    X, y, s = biased_data
    return X, y, partial_groups(s, 400, seed=3), np.random.RandomState(5).randint(1, 4, len(y)).astype(float)


def _clf(**kw):
    return FairIFClassifier(small_net(), random_state=0, **kw)


def test_integer_weights_give_stage1_of_the_rows_repeated(data):
    X, y, groups, _ = data
    X, y, groups = X[:300], y[:300], groups[:300]  # few enough rows for every curvature row to count
    weight = np.random.RandomState(0).randint(1, 4, len(y)).astype(float)
    repeated = np.repeat(np.arange(len(y)), weight.astype(int))
    torch.manual_seed(0)
    net = FrozenEstimator(small_net().fit(X[np.isnan(groups)], y[np.isnan(groups)]))
    weighted = FairIFWeigher(net, random_state=0).fit(X, y, sensitive_features=groups, sample_weight=weight)
    plain = FairIFWeigher(net, random_state=0).fit(
        X[repeated], y[repeated], sensitive_features=groups[repeated]
    )
    np.testing.assert_allclose(weighted.group_rates_, plain.group_rates_, rtol=1e-5)
    np.testing.assert_allclose(weighted.gaps_, plain.gaps_, rtol=1e-4)
    np.testing.assert_allclose(weighted.damping_, plain.damping_, rtol=1e-4)
    # each training row's influence score, as its first copy's
    first_copy = np.searchsorted(repeated, np.flatnonzero(weighted.train_mask_))
    columns = np.searchsorted(np.flatnonzero(plain.train_mask_), first_copy)
    expected = plain.influence_scores_[:, columns]
    np.testing.assert_allclose(
        weighted.influence_scores_, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max()
    )


def test_weight_zero_is_a_row_absent(data):
    X, y, groups, weight = data
    weight = np.where(np.arange(len(y)) % 5 == 0, 0.0, weight)
    kept = weight > 0
    full = _clf().fit(X, y, sensitive_features=groups, sample_weight=weight)
    part = _clf().fit(X[kept], y[kept], sensitive_features=groups[kept], sample_weight=weight[kept])
    assert full.reweighted_ and part.reweighted_
    np.testing.assert_array_equal(full.train_mask_, np.isnan(groups) & kept)
    assert np.all(full.sample_weight_[~kept] == 0)
    np.testing.assert_allclose(full.sample_weight_[kept], part.sample_weight_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(full.gaps_, part.gaps_, rtol=1e-5)
    np.testing.assert_allclose(full.predict_proba(X), part.predict_proba(X), rtol=1e-4, atol=1e-5)


def test_equal_weights_of_any_scale_change_nothing(data):
    X, y, groups, _ = data
    plain = _clf().fit(X, y, sensitive_features=groups)
    scaled = _clf().fit(X, y, sensitive_features=groups, sample_weight=np.full(len(y), 40.0))
    for name in ("gaps_", "gaps_stderr_", "group_rates_", "predicted_gaps_", "sample_weight_"):
        np.testing.assert_allclose(getattr(scaled, name), getattr(plain, name), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scaled.predict_proba(X), plain.predict_proba(X), rtol=1e-4, atol=1e-5)


def test_weights_move_the_fit_and_the_user_weights_stay_in_sample_weight_(data):
    X, y, groups, weight = data
    before = weight.copy()
    clf = _clf().fit(X, y, sensitive_features=groups, sample_weight=weight)
    np.testing.assert_array_equal(weight, before)  # the user's array is never modified
    plain = _clf().fit(X, y, sensitive_features=groups)
    assert not np.allclose(clf.gaps_, plain.gaps_)  # the annotated rates are weighted
    train = clf.train_mask_
    assert clf.sample_weight_[train].mean() == pytest.approx(1.0)
    # FairIF's correction multiplies the user's weights: the weigher's largest alpha returns them alone
    weigher = FairIFWeigher(small_net(), random_state=0).fit(
        X, y, sensitive_features=groups, sample_weight=weight
    )
    alone, _ = weigher.reweight(1e12)
    np.testing.assert_allclose(alone[train], weight[train] / weight[train].mean(), rtol=1e-6)


def test_weights_route_through_a_pipeline_and_a_cross_validation(data, routing):
    X, y, groups, weight = data
    clf = (
        _clf()
        .set_fit_request(sensitive_features=True, sample_weight=True)
        .set_score_request(sample_weight=True)
    )
    pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), clf)
    pipe.fit(X, y, sensitive_features=groups, sample_weight=weight)
    direct = _clf().fit(StandardScaler().fit_transform(X), y, sensitive_features=groups, sample_weight=weight)
    np.testing.assert_allclose(pipe[-1].sample_weight_, direct.sample_weight_, rtol=1e-6)
    cv = AnnotatedStratifiedKFold(2, shuffle=True, random_state=0)
    scores = cross_validate(
        clone(clf), X, y, cv=cv, params={"sensitive_features": groups, "sample_weight": weight},
        return_estimator=True, error_score="raise",
    )  # fmt: skip
    train, _ = next(cv.split(X, y, sensitive_features=groups))
    by_hand = _clf().fit(X[train], y[train], sensitive_features=groups[train], sample_weight=weight[train])
    np.testing.assert_allclose(scores["estimator"][0].sample_weight_, by_hand.sample_weight_, rtol=1e-6)


@pytest.mark.parametrize(
    "weight, match",
    [
        (lambda n: -np.ones(n), "Negative values in data passed to `sample_weight`"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "sample_weight.*NaN"),
        (lambda n: np.ones(n - 1), r"sample_weight.shape == \(\d+,\), expected \(\d+,\)"),
        (lambda n: np.zeros(n), "Sample weights must contain at least one non-zero number"),
    ],
)
def test_bad_weights_are_named(data, weight, match):
    X, y, groups, _ = data
    with pytest.raises(ValueError, match=match):
        _clf().fit(X, y, sensitive_features=groups, sample_weight=weight(len(y)))


def test_weights_that_leave_a_set_empty_are_named(data):
    X, y, groups, _ = data
    annotated = ~np.isnan(groups)
    with pytest.raises(ValueError, match="No training row has a positive sample_weight"):
        _clf().fit(X, y, sensitive_features=groups, sample_weight=annotated.astype(float))
    with pytest.raises(ValueError, match="Group '1' has annotated rows of sample_weight zero only"):
        _clf().fit(X, y, sensitive_features=groups, sample_weight=np.where(groups == 1, 0.0, 1.0))
    with pytest.raises(ValueError, match="No annotated row has a positive sample_weight"):
        _clf().fit(X, y, sensitive_features=groups, sample_weight=(~annotated).astype(float))


def test_the_cv_gives_every_fit_the_weights_and_weighs_its_figures(data, monkeypatch):
    import fairif_sklearn._estimators._cv as cv_module

    monkeypatch.setattr(cv_module, "N_BOOTSTRAP", 40)
    X, y, groups, weight = data
    # training rows of weight zero: the folds (of the annotated rows) are the same, the rows absent
    weight = np.where(np.isnan(groups) & (np.arange(len(y)) % 4 == 0), 0.0, weight)
    kept = weight > 0
    inner = FairIFClassifier(small_net(), random_state=0)
    cv = FairIFClassifierCV(inner, max_rounds=1, closures=(1.0,), cv=2)
    full = clone(cv).fit(X, y, sensitive_features=groups, sample_weight=weight)
    part = clone(cv).fit(X[kept], y[kept], sensitive_features=groups[kept], sample_weight=weight[kept])
    for key in ("gap", "accuracy", "worst_group_accuracy"):
        np.testing.assert_allclose(full.cv_results_[key], part.cv_results_[key], rtol=1e-6)
    np.testing.assert_allclose(full.best_estimator_.sample_weight_[kept], part.best_estimator_.sample_weight_)
    # the out-of-fold figures are weighted: other weights on the annotated rows, another accuracy
    heavy = np.where(~np.isnan(groups) & (y == 1), 10.0, 1.0)
    weighted = clone(cv).fit(X, y, sensitive_features=groups, sample_weight=heavy)
    plain = clone(cv).fit(X, y, sensitive_features=groups)
    assert weighted.cv_results_["accuracy"][0] != plain.cv_results_["accuracy"][0]
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        clone(cv).fit(X, y, sensitive_features=groups, sample_weight=-np.ones(len(y)))


def test_the_cv_bootstrap_leaves_out_rows_of_weight_zero():
    # the CV's noise (a bootstrap within each (group, class) cell) draws from the rows that count: an
    # annotated row of weight zero is a row absent there too, so a cell of few weighted rows among
    # many unweighted ones is never drawn empty of weight
    rng = np.random.RandomState(0)
    n = 400
    y, s = rng.randint(0, 2, n), rng.randint(0, 2, n)
    oof = [np.where(rng.rand(n) < 0.85, y, 1 - y) for _ in range(2)]
    weight = rng.randint(1, 4, n).astype(float)
    weight[np.flatnonzero((y == 1) & (s == 1))[3:]] = 0.0  # that cell: three rows of positive weight
    kept = weight > 0
    candidates = [{}, {"max_rounds": 1, "closure": 1.0}]
    cv = FairIFClassifierCV(FairIFClassifier(small_net()))
    strata = 2 * s + y
    full = cv._judge(candidates, oof, y, s, strata, "equalized_odds", 1, 1.0, weight)
    part = cv._judge(
        candidates,
        [p[kept] for p in oof],
        y[kept],
        s[kept],
        strata[kept],
        "equalized_odds",
        1,
        1.0,
        weight[kept],
    )
    for key in ("gap", "accuracy", "worst_group_accuracy", "gap_diff_se", "accuracy_diff_se"):
        assert np.all(np.isfinite(full[0][key]))
        np.testing.assert_allclose(full[0][key], part[0][key], rtol=1e-12)
    assert full[1] == part[1]
