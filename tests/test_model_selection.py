"""Tuning FairIF with GridSearchCV: the splitter it needs, and scorers that stop a search with
``error_score="raise"``."""

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV, KFold

from fairif_sklearn import FairIFClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.metrics import FairnessScoringError, aod_scorer
from fairif_sklearn.model_selection import AnnotatedStratifiedKFold

from ._helpers import small_net


@pytest.fixture(scope="module")
def first_rows_annotated():
    """The README's data: group labels for the first 1000 rows only."""
    X, y, s = make_biased_classification(3000, bias="group_size", random_state=0)
    groups = s.astype(float)
    groups[1000:] = np.nan
    return X, y, groups


def test_every_fold_has_annotated_rows_of_every_group_and_class_on_both_sides(first_rows_annotated):
    X, y, groups = first_rows_annotated
    annotated = ~np.isnan(groups)
    folds = list(AnnotatedStratifiedKFold(3).split(X, y, sensitive_features=groups))
    assert len(folds) == 3
    np.testing.assert_array_equal(np.sort(np.concatenate([test for _, test in folds])), np.arange(len(y)))
    for train, test in folds:
        for side in (train, test):
            cells = {
                (g, c) for g, c in zip(groups[side][annotated[side]], y[side][annotated[side]], strict=True)
            }
            assert cells == {(0.0, 0), (0.0, 1), (1.0, 0), (1.0, 1)}
        # each fold's share of the annotated rows is a third, up to rounding per stratum
        assert abs(annotated[test].sum() - 1000 / 3) <= 4


def test_splitter_errors(first_rows_annotated):
    X, y, groups = first_rows_annotated
    with pytest.raises(ValueError, match="needs the group labels .*enable_metadata_routing=True"):
        next(AnnotatedStratifiedKFold(3).split(X, y))
    few = np.full(len(y), np.nan)
    few[:40] = groups[:40]
    with pytest.raises(ValueError, match=r"Group '\d' has \d annotated row\(s\) of class \d; .*n_splits=10"):
        next(AnnotatedStratifiedKFold(10).split(X, y, sensitive_features=few))


def test_readme_grid_search_tunes_on_finite_scores(first_rows_annotated, routing):
    X, y, groups = first_rows_annotated
    search = GridSearchCV(
        FairIFClassifier(small_net(), random_state=0).set_fit_request(sensitive_features=True),
        {"alpha": [1.0, 0.1, 0.01]},
        scoring={"accuracy": "accuracy", "aod": aod_scorer},
        refit="aod",
        cv=AnnotatedStratifiedKFold(3),
    ).fit(X, y, sensitive_features=groups)
    for key in ("mean_test_accuracy", "mean_test_aod"):
        assert np.isfinite(search.cv_results_[key]).all(), search.cv_results_[key]
    # the choice follows the scores
    best = int(np.argmax(search.cv_results_["mean_test_aod"]))
    assert search.best_params_ == search.cv_results_["params"][best]


def test_scoring_error_is_an_exception():
    assert issubclass(FairnessScoringError, Exception)
    assert issubclass(FairnessScoringError, ValueError)
    X, y = np.zeros((4, 1)), np.array([0, 1, 0, 1])
    try:
        aod_scorer(DummyClassifier().fit(X, y), X, y)  # no sensitive_features
    except Exception as error:  # what user code and parallel back ends catch
        assert isinstance(error, FairnessScoringError)
    else:
        pytest.fail("the scorer did not raise")


@pytest.mark.parametrize("n_jobs", [None, pytest.param(2, marks=pytest.mark.slow)])
def test_scorer_without_routing_stops_a_search_and_says_how_to_enable_it(first_rows_annotated, n_jobs):
    X, y, groups = first_rows_annotated
    search = GridSearchCV(
        FairIFClassifier(small_net(max_epochs=1), random_state=0),
        {"alpha": [1.0]},
        scoring=aod_scorer,
        cv=KFold(2, shuffle=True, random_state=0),
        error_score="raise",  # the documented way: the error stops the search
        n_jobs=n_jobs,  # in joblib's worker processes too
    )
    with pytest.raises(FairnessScoringError, match=r"sklearn.set_config\(enable_metadata_routing=True\)"):
        search.fit(X, y, sensitive_features=groups)  # routing off: fit gets the groups, the scorer none


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_without_error_score_raise_a_search_records_nan_and_the_warning_says_why(first_rows_annotated):
    X, y, groups = first_rows_annotated
    search = GridSearchCV(
        FairIFClassifier(small_net(max_epochs=1), random_state=0),
        {"alpha": [1.0]},
        scoring=aod_scorer,
        cv=KFold(2, shuffle=True, random_state=0),
    )
    with pytest.warns(UserWarning, match=r"FairnessScoringError: .*enable_metadata_routing=True"):
        search.fit(X, y, sensitive_features=groups)
    assert np.isnan(search.cv_results_["mean_test_score"]).all()  # why the docs ask for error_score="raise"


def test_scored_fold_without_a_group_says_what_to_do(first_rows_annotated, routing):
    X, y, groups = first_rows_annotated
    test = np.arange(500)
    only_group_0 = groups.copy()
    only_group_0[test[groups[test] == 1]] = np.nan  # the scored rows' annotated ones are all group 0
    search = GridSearchCV(
        FairIFClassifier(small_net(max_epochs=1), random_state=0).set_fit_request(sensitive_features=True),
        {"alpha": [1.0]},
        scoring={"aod": aod_scorer},
        refit=False,
        cv=[(np.arange(500, len(y)), test)],
        error_score="raise",
    )
    with pytest.raises(FairnessScoringError, match=r"found \['0'\].*AnnotatedStratifiedKFold"):
        search.fit(X, y, sensitive_features=only_group_0)


def test_a_scorer_called_without_groups_says_both_ways_to_call_it():
    # called directly with routing off, scikit-learn refuses sensitive_features=; the message says so
    from sklearn.linear_model import LogisticRegression

    X, y, s = make_biased_classification(400, bias="group_shift", random_state=0)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(FairnessScoringError, match=r"with routing on.*average_odds_difference\(y, estimator"):
        aod_scorer(model, X, y)
