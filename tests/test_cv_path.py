"""FairIFClassifierCV's trade-off path: the candidates, the rule with an accuracy budget and a
worst-group guard, another point taken without another stage 1, and DataFrame inputs."""

import numpy as np
import pandas as pd
import pytest

import fairif_sklearn._estimators._stage1 as stage1_module
from fairif_sklearn import FairIFClassifier, FairIFClassifierCV
from fairif_sklearn.datasets import make_biased_classification

from ._helpers import small_net


def _flip(pred, rows, n):
    """``pred`` with the first ``n`` of ``rows`` predicted wrong (binary)."""
    out = pred.copy()
    out[rows[:n]] = 1 - out[rows[:n]]
    return out


@pytest.fixture(scope="module")
def planted_path():
    """Out-of-fold predictions of a planted path on 2000 annotated rows: ERM errs on 150 of group 1's
    positives (a TPR gap); ``fair_costly`` fixes most of them but errs on 220 negatives (four
    accuracy points lost); ``fair_cheap`` fixes half of them at no cost; ``level_down`` closes the gap
    by breaking more of group 0's positives (a smaller gap, a worse worst cell)."""
    rng = np.random.RandomState(0)
    n = 2000
    s = rng.randint(0, 2, n)
    y = rng.randint(0, 2, n)
    truth = y.copy()
    pos1 = np.flatnonzero((s == 1) & (y == 1))
    pos0 = np.flatnonzero((s == 0) & (y == 1))
    neg = np.flatnonzero(y == 0)
    erm = _flip(truth, pos1, 150)
    fair_costly = _flip(_flip(truth, pos1, 10), rng.permutation(neg), 220)
    fair_cheap = _flip(_flip(truth, pos1, 75), rng.permutation(neg), 10)
    level_down = _flip(_flip(truth, pos1, 150), pos0, 220)
    strata = s * 2 + y
    return y, s.astype(float), strata, [erm, fair_costly, fair_cheap, level_down]


@pytest.fixture(autouse=True)
def _fewer_bootstraps(monkeypatch):
    import fairif_sklearn._estimators._cv as cv_module

    monkeypatch.setattr(cv_module, "N_BOOTSTRAP", 40)


def _judge(path, budget):
    y, s, strata, oof = path
    candidates = [{}] + [{"max_rounds": 1, "closure": c} for c in (1.0, 0.5, 0.9)]
    cv = FairIFClassifierCV(None, max_accuracy_drop=budget)
    results, chosen = cv._judge(candidates, oof, y, s, strata, "equalized_odds", None, 1.0)
    return results | {"chosen": chosen}


def test_the_rule_takes_the_fairest_candidate_within_the_budget_and_never_one_that_levels_down(planted_path):
    tight = _judge(planted_path, 0.01)
    assert tight["eligible"] == [True, False, True, False]  # too costly; levels down
    assert tight["chosen"] == 2
    loose = _judge(planted_path, 0.05)
    assert loose["eligible"] == [True, True, True, False]
    assert loose["chosen"] == 1
    # with any accuracy lost allowed, the level-down candidate has a smaller gap and is still not eligible
    anything = _judge(planted_path, 1.0)
    assert anything["gap"][3] < anything["gap"][0] - 0.05
    assert anything["worst_group_accuracy"][3] < anything["worst_group_accuracy"][0] - 0.1
    assert anything["eligible"] == [True, True, True, False]
    assert tight["rounds"] == [0, 1, 1, 1] and np.isnan(tight["closure"][0])
    assert tight["closure"][1:] == [1.0, 0.5, 0.9]


def test_another_point_of_the_path_without_another_stage_1(shifted_annotated, tmp_path, monkeypatch):
    X, y, groups = shifted_annotated
    cv = FairIFClassifierCV(
        FairIFClassifier(small_net(), random_state=0), max_rounds=1, closures=(0.5, 1.0), memory=str(tmp_path)
    ).fit(X, y, sensitive_features=groups)
    assert [p for p in cv.cv_results_["params"]] == [
        {},
        {"max_rounds": 1, "closure": 0.5},
        {"max_rounds": 1, "closure": 1.0},
    ]
    # one entry per candidate under every key: a table, as scikit-learn's searches' cv_results_ are
    table = pd.DataFrame(cv.cv_results_)
    assert table.shape[0] == 3 and table["rounds"].tolist() == [0, 1, 1]
    calls = []
    for name in ("fit_net", "compute_influence"):
        real = getattr(stage1_module, name)
        monkeypatch.setattr(
            stage1_module, name, lambda *a, real=real, name=name, **k: (calls.append(name), real(*a, **k))[1]
        )
    other = 2 if cv.best_index_ != 2 else 1
    cv.refit_candidate(other, X, y, sensitive_features=groups)
    assert calls == []  # the ERM fit and stage 1 came from the cache
    assert cv.best_index_ == other and cv.best_estimator_.closure == cv.cv_results_["closure"][other]
    assert cv.best_estimator_.memory is None  # the inner estimator's own setting, not the CV's cache
    cv.refit_candidate(0, X, y, sensitive_features=groups)
    assert not cv.reweighted_ and not cv.best_estimator_.reweighted_
    with pytest.raises(ValueError, match="index must be in"):
        cv.refit_candidate(3, X, y, sensitive_features=groups)


def test_a_dataframe_goes_through_the_path(shifted_annotated):
    X, y, groups = shifted_annotated
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    cv = FairIFClassifierCV(FairIFClassifier(small_net(), random_state=0), max_rounds=1, closures=[1.0])
    cv.fit(frame, y, sensitive_features=groups)
    assert cv.predict(frame).shape == (len(y),)


def test_bad_closures_are_named():
    X, y, s = make_biased_classification(300, random_state=0)
    with pytest.raises(ValueError, match="closures must be values in"):
        FairIFClassifierCV(small_net(), closures=(0.0, 1.0)).fit(X, y, sensitive_features=s)


@pytest.mark.slow
def test_any_splitter_and_parallel_folds_give_the_same_path(shifted_annotated, routing):
    from sklearn.model_selection import GridSearchCV, KFold

    from fairif_sklearn.model_selection import AnnotatedStratifiedKFold

    X, y, groups = shifted_annotated
    inner = FairIFClassifier(small_net(), random_state=0)
    kw = dict(max_rounds=1, closures=[1.0])
    serial = FairIFClassifierCV(inner, cv=AnnotatedStratifiedKFold(3, shuffle=True, random_state=5), **kw)
    serial.fit(X, y, sensitive_features=groups)
    parallel = FairIFClassifierCV(
        inner, cv=AnnotatedStratifiedKFold(3, shuffle=True, random_state=5), n_jobs=2, **kw
    )
    parallel.fit(X, y, sensitive_features=groups)
    for key in ("gap", "accuracy", "worst_group_accuracy"):
        np.testing.assert_allclose(parallel.cv_results_[key], serial.cv_results_[key])
    # a splitter that knows nothing of groups splits the annotated rows too
    plain = FairIFClassifierCV(inner, cv=KFold(2), **kw).fit(X, y, sensitive_features=groups)
    assert [len(f) for f in plain.folds_] == [400, 400]
    # the CV as a step of a search, its sensitive_features routed
    search = GridSearchCV(
        FairIFClassifierCV(inner, cv=2, **kw).set_fit_request(sensitive_features=True),
        {"max_accuracy_drop": [0.01, 0.05]},
        cv=KFold(2, shuffle=True, random_state=0),
        error_score="raise",
    ).fit(X, y, sensitive_features=groups)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_temperatures_are_points_of_the_path(shifted_annotated, tmp_path):
    from fairif_sklearn._estimators._cv import _label

    X, y, groups = shifted_annotated
    inner = FairIFClassifier(small_net(), random_state=0)
    plain = FairIFClassifierCV(inner, max_rounds=1, closures=(1.0,))
    assert plain._candidates() == [{}, {"max_rounds": 1, "closure": 1.0}]  # unchanged without temperatures
    cv = FairIFClassifierCV(inner, max_rounds=1, closures=(1.0,), temperatures=(3, 1), memory=str(tmp_path))
    cv.fit(X, y, sensitive_features=groups)
    assert cv.cv_results_["params"] == [
        {},
        {"max_rounds": 1, "closure": 1.0, "temperature": 1.0},
        {"max_rounds": 1, "closure": 1.0, "temperature": 3.0},
    ]
    np.testing.assert_array_equal(cv.cv_results_["temperature"], [np.nan, 1.0, 3.0])
    assert _label(cv.cv_results_["params"][2]) == "1 round, closure 1, temperature 3"
    # the point at temperature 3 is FairIF at temperature 3: the same fit as one made directly
    cv.refit_candidate(2, X, y, sensitive_features=groups)
    direct = FairIFClassifier(small_net(), random_state=0, max_rounds=1, closure=1.0, temperature=3.0)
    direct.fit(X, y, sensitive_features=groups)
    assert cv.best_estimator_.temperature == 3.0
    np.testing.assert_array_equal(cv.best_estimator_.gaps_, direct.gaps_)
    np.testing.assert_array_equal(cv.predict_proba(X), direct.predict_proba(X))
    np.testing.assert_array_equal(cv.predict_log_proba(X), direct.predict_log_proba(X))
    # and the soft rates' temperature reached stage 1: its gaps differ from temperature 1's
    cv.refit_candidate(1, X, y, sensitive_features=groups)
    assert not np.allclose(cv.best_estimator_.gaps_, direct.gaps_)
    with pytest.raises(ValueError, match="temperatures must be positive numbers"):
        FairIFClassifierCV(inner, temperatures=(0.0, 1.0)).fit(X, y, sensitive_features=groups)


def test_cv_takes_the_splits_themselves(shifted_annotated, tmp_path):
    """``cv`` as an iterable of (fit, held-out) positions among the annotated rows, as scikit-learn's
    searches take it: the same path as the splitter that made them."""
    from fairif_sklearn.model_selection import AnnotatedStratifiedKFold

    X, y, groups = shifted_annotated
    annotated = ~np.isnan(groups)
    splitter = AnnotatedStratifiedKFold(2, shuffle=True, random_state=3)
    splits = splitter.split(X[annotated], y[annotated], sensitive_features=groups[annotated])
    inner = FairIFClassifier(small_net(), random_state=0)
    common = dict(max_rounds=1, closures=(1.0,), memory=str(tmp_path))
    by_splitter = FairIFClassifierCV(inner, cv=splitter, **common).fit(X, y, sensitive_features=groups)
    by_splits = FairIFClassifierCV(inner, cv=splits, **common).fit(X, y, sensitive_features=groups)
    for a, b in zip(by_splitter.folds_, by_splits.folds_, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(by_splits.cv_results_["gap"], by_splitter.cv_results_["gap"])
    with pytest.raises(ValueError, match="cv gave no splits"):
        by_splits.fit(X, y, sensitive_features=groups)  # the generator was used up by the first fit
    with pytest.raises(ValueError, match="The 'cv' parameter of FairIFClassifierCV must be"):
        FairIFClassifierCV(inner, cv=1).fit(X, y, sensitive_features=groups)
