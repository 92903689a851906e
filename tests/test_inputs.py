"""What a pandas or scikit-learn user passes: each input works, or fails with an error that names it."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning

from fairif_sklearn import FairIFClassifier, FairIFWeigher, WeightedNetClassifier
from fairif_sklearn._validation import check_fit_data
from fairif_sklearn.metrics import aod_scorer, average_odds_difference, equal_opportunity_difference

from ._helpers import partial_groups, small_net


@pytest.fixture(scope="module")
def data(biased_data):
    X, y, s = biased_data
    return X, y, s, partial_groups(s, 400)


def _weigher(**kw):
    return FairIFWeigher(small_net(), random_state=0, **kw)


# ------------------------------------------------------------ missing group labels


def _with_missing(groups, missing, labels=("blue", "red")):
    """The float groups (NaN where missing) as another representation of the same labels."""
    known = ~np.isnan(groups)
    if missing == "pd.NA Int64":
        return pd.array([int(g) if k else pd.NA for g, k in zip(groups, known, strict=True)], dtype="Int64")
    names = [labels[int(g)] if k else None for g, k in zip(groups, known, strict=True)]
    if missing == "string dtype":
        return pd.Series(names, dtype="string")
    if missing == "category":
        return pd.Series(names, dtype="category")
    if missing == "pd.NaT":
        return pd.Series(
            [pd.Timestamp(2020 + int(g), 1, 1) if k else pd.NaT for g, k in zip(groups, known, strict=True)]
        )
    marker = {"pd.NA object": pd.NA, "None": None}[missing]
    return np.array([n if n is not None else marker for n in names], dtype=object)


MISSING = ["pd.NA Int64", "string dtype", "category", "pd.NaT", "pd.NA object", "None"]


@pytest.mark.parametrize("missing", MISSING)
def test_pandas_missing_markers_mean_unannotated_in_fit(data, missing):
    X, y, s, groups = data
    reference = _weigher().fit(X, y, sensitive_features=groups)
    other = _weigher().fit(X, y, sensitive_features=_with_missing(groups, missing))
    np.testing.assert_array_equal(other.train_mask_, np.isnan(groups))
    assert len(other.groups_) == 2  # no third group made of the missing marker
    np.testing.assert_allclose(other.gaps_, reference.gaps_)
    np.testing.assert_allclose(other.sample_weight_, reference.sample_weight_)


@pytest.mark.parametrize("missing", MISSING)
def test_pandas_missing_markers_are_ignored_by_metrics_and_scorers(data, missing, routing):
    X, y, s, groups = data
    pred = np.where(np.random.RandomState(0).uniform(size=len(y)) < 0.8, y, 1 - y)
    known = ~np.isnan(groups)
    expected = average_odds_difference(y[known], pred[known], sensitive_features=s[known])
    assert average_odds_difference(y, pred, sensitive_features=_with_missing(groups, missing)) == expected

    class Fixed(ClassifierMixin, BaseEstimator):  # an estimator that predicts `pred`, for the scorer
        classes_ = np.array([0, 1])

        def predict(self, X):
            return pred

    score = aod_scorer(Fixed(), X, y, sensitive_features=_with_missing(groups, missing))
    assert score == pytest.approx(-expected)


# ------------------------------------------------------------ integer, boolean and float16 X


@pytest.mark.parametrize("kind", ["int64", "bool", "float16"])
def test_integer_boolean_and_half_X(data, kind):
    X, y, s, groups = data
    Xk = {"int64": X.round().astype(np.int64), "bool": X > 0, "float16": X.astype(np.float16)}[kind]
    copy = Xk.copy()
    clf = FairIFClassifier(small_net(), random_state=0).fit(Xk, y, sensitive_features=groups)
    as_float = FairIFClassifier(small_net(), random_state=0).fit(
        Xk.astype(np.float32), y, sensitive_features=groups
    )
    np.testing.assert_allclose(clf.predict_proba(Xk), as_float.predict_proba(Xk.astype(np.float32)))
    net = WeightedNetClassifier(small_net(), random_state=0).fit(Xk, y, sample_weight=np.ones(len(y)))
    assert net.predict(Xk).shape == (len(y),)
    np.testing.assert_array_equal(Xk, copy)


# ------------------------------------------------------------ intersectional groups


@pytest.fixture(scope="module")
def two_columns(data):
    X, y, s, groups = data
    other = np.where(np.random.RandomState(7).uniform(size=len(y)) < 0.5, "a", "b")
    known = ~np.isnan(groups)
    return pd.DataFrame(
        {"grp": pd.array([int(g) if k else pd.NA for g, k in zip(groups, known, strict=True)], dtype="Int64"),
         "sex": [o if k else None for o, k in zip(other, known, strict=True)]}
    )  # fmt: skip


def test_several_sensitive_columns_define_combined_groups(data, two_columns):
    X, y, s, groups = data
    weigher = _weigher().fit(X, y, sensitive_features=two_columns)
    assert [tuple(g) for g in weigher.groups_] == [(0, "a"), (0, "b"), (1, "a"), (1, "b")]
    assert weigher.gap_names_[0] == "TPR(grp=0, sex=a) - TPR(all)" and len(weigher.gap_names_) == 8
    # the same groups as tuples, as a 2-D array, and as one combined label give the same fit
    as_tuples = [tuple(r) if pd.notna(r[0]) else None for r in two_columns.itertuples(index=False)]
    as_array = two_columns.to_numpy(dtype=object)
    combined = [f"{r[0]}-{r[1]}" if pd.notna(r[0]) else None for r in two_columns.itertuples(index=False)]
    for other in (as_tuples, as_array, combined):
        np.testing.assert_allclose(_weigher().fit(X, y, sensitive_features=other).gaps_, weigher.gaps_)
    assert _weigher().fit(X, y, sensitive_features=as_tuples).gap_names_[0] == "TPR((0, a)) - TPR(all)"


def test_several_sensitive_columns_in_the_metrics(data, two_columns):
    X, y, s, groups = data
    pred = np.where(np.random.RandomState(1).uniform(size=len(y)) < 0.8, y, 1 - y)
    combined = [f"{r[0]}-{r[1]}" if pd.notna(r[0]) else None for r in two_columns.itertuples(index=False)]
    for metric in (average_odds_difference, equal_opportunity_difference):
        expected = metric(y, pred, sensitive_features=combined)
        assert metric(y, pred, sensitive_features=two_columns) == expected
        assert metric(y, pred, sensitive_features=two_columns.to_numpy()) == expected


def test_a_row_missing_only_some_columns_is_an_error(data, two_columns):
    X, y, s, groups = data
    broken = two_columns.copy()
    row = int(np.flatnonzero(~np.isnan(groups))[0])
    broken.loc[row, "sex"] = None
    with pytest.raises(
        ValueError, match=f"Row {row} of sensitive_features has a group label in some columns"
    ):
        _weigher().fit(X, y, sensitive_features=broken)


NUMERIC_LABELS = {
    "ints": np.array([1, 0, 2, 1, 0, 2, 2]),
    "floats with NaN": np.array([1.0, np.nan, 0.0, 1.0, np.nan, 0.0]),
    "-1 for missing": np.array([3, -1, 1, 3, 2**40, -1]),
    "whole and other floats": np.array([0.5, 1.0, 0.0, 0.5, np.nan, 2.25, -0.0]),
    "two columns": np.array([[1, 0], [0, 2], [1, 0], [1, 2], [-1, -1]]),
    "two float columns": np.array([[1.0, 0.5], [np.nan, np.nan], [0.0, 0.5], [1.0, 3.0]]),
    "all missing": np.array([np.nan, np.nan]),
    "none": np.array([], dtype=float),
}


@pytest.mark.parametrize("labels", NUMERIC_LABELS.values(), ids=NUMERIC_LABELS.keys())
def test_numeric_group_labels_are_read_as_the_same_labels_as_objects(labels):
    # integer and float labels take a vectorised road; the same labels as objects take the general one
    from fairif_sklearn._rates import read_groups

    fast, general = read_groups(labels), read_groups(labels.astype(object))
    assert fast.labels == general.labels and fast.names == general.names
    assert [type(v) for v in fast.labels] == [type(v) for v in general.labels]  # 1.0 is group 1, an int
    np.testing.assert_array_equal(fast.codes, general.codes)
    np.testing.assert_array_equal(fast.annotated, general.annotated)


# ------------------------------------------------------------ an annotated set in the constructor


def test_X_val_off_the_scale_of_X_warns(data):
    X, y, s, _ = data
    with pytest.warns(UserWarning, match="X_val does not look like X.*Pipeline's preprocessing"):
        _weigher(X_val=X[:300] * 10 + 5, y_val=y[:300], sensitive_val=s[:300]).fit(X[300:], y[300:])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the same rows on X's scale: no warning
        _weigher(X_val=X[:300], y_val=y[:300], sensitive_val=s[:300]).fit(X[300:], y[300:])


def test_X_val_of_another_width_says_why(data):
    X, y, s, _ = data
    with pytest.raises(ValueError, match=r"X_val has rows of shape \(4,\).*Pipeline's preprocessing"):
        _weigher(X_val=X[:300, :4], y_val=y[:300], sensitive_val=s[:300]).fit(X[300:], y[300:])


def test_nan_in_X_val_names_X_val(data):
    X, y, s, _ = data
    bad = X[:50].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X_val contains NaN"):
        _weigher(X_val=bad, y_val=y[:50], sensitive_val=s[:50]).fit(X, y)


# ------------------------------------------------------------ curvature that cannot be inverted


def test_indefinite_hessian_says_what_damping_would_do(data):
    X, y, s, groups = data
    advice = r"damping above [0-9.e-]+ makes it positive definite, or use curvature='gauss_newton'"
    with pytest.raises(ValueError, match=r"not positive definite .*" + advice) as info:
        _weigher(curvature="hessian", influence="exact", damping=1e-3).fit(X, y, sensitive_features=groups)
    needed = float(info.value.args[0].split("damping above ")[1].split()[0])
    _weigher(curvature="hessian", influence="exact", damping=1.2 * needed).fit(
        X, y, sensitive_features=groups
    )


def test_cg_worse_than_zero_is_an_error(data):
    X, y, s, groups = data
    with pytest.raises(
        ValueError, match=r"CG solve failed: relative residuals .* worse than the zero solution"
    ):
        _weigher(curvature="hessian", influence="cg", damping=1e-3).fit(X, y, sensitive_features=groups)


def test_gauss_newton_without_damping_gets_gauss_newton_advice(data):
    X, y, s, groups = data
    try:
        _weigher(influence="exact", damping=0.0).fit(X, y, sensitive_features=groups)
    except ValueError as error:  # singular up to rounding on this net
        assert "use curvature='gauss_newton'" not in str(error)
        assert "never indefinite" in str(error) and "damping above" in str(error)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _weigher(influence="cg", damping=0.0, cg_maxiter=3).fit(X, y, sensitive_features=groups)


# ------------------------------------------------------------ smaller things


def test_pos_label_not_in_the_data(data):
    X, y, s, _ = data
    with pytest.raises(ValueError, match=r"pos_label=3 is not one of the labels \[0, 1\]"):
        average_odds_difference(y, y, sensitive_features=s, pos_label=3)


def test_string_y_with_none_says_missing_values(data):
    X, y, s, groups = data
    labels = np.where(y == 1, "yes", "no").astype(object)
    labels[5] = None
    with pytest.raises(ValueError, match="y has missing values"):
        _weigher().fit(X, labels, sensitive_features=groups)
    labels[5] = pd.NA
    with pytest.raises(ValueError, match=r"y has missing values \(None, NaN or pandas NA\)"):
        _weigher().fit(X, labels, sensitive_features=groups)


def test_all_zero_sample_weight(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="non-zero"):
        WeightedNetClassifier(small_net()).fit(X, y, sample_weight=np.zeros(len(y)))


def test_renamed_parameter_still_works_with_a_warning(data):
    X, y, s, groups = data
    with pytest.warns(FutureWarning, match="hessian_subsample was renamed curvature_subsample"):
        old = _weigher(influence="cg", hessian_subsample=0.5).fit(X, y, sensitive_features=groups)
    new = _weigher(influence="cg", curvature_subsample=0.5).fit(X, y, sensitive_features=groups)
    assert old.influence_info_["n_curvature_rows"] == new.influence_info_["n_curvature_rows"] == 550
    np.testing.assert_allclose(old.sample_weight_, new.sample_weight_)


# ------------------------------------------------------------ the user's float32 X, read in place


@pytest.mark.parametrize("retrain", ["finetune", "scratch", "warm_start"])
def test_a_float32_X_whose_training_rows_are_consecutive_is_read_in_place_and_left_as_it_was(data, retrain):
    # with the annotated set given apart every row of X trains, and in the routed form the training
    # rows are often one run (those after the annotated ones): FairIF reads them in place (no copy of
    # a large image array), and no stage writes into them
    X, y, s, groups = data
    X = np.ascontiguousarray(X, dtype=np.float32)
    annotated = ~np.isnan(groups)
    X_train, y_train = X[~annotated], y[~annotated]
    before = X_train.copy()
    clf = FairIFClassifier(
        small_net(), X_val=X[annotated], y_val=y[annotated], sensitive_val=groups[annotated],
        retrain=retrain, max_rounds=2, random_state=0,
    )  # fmt: skip
    fit_data = check_fit_data(
        X_train, y_train, None, X_val=clf.X_val, y_val=clf.y_val, sensitive_val=clf.sensitive_val,
        target="equalized_odds", pos_label=None, holdout_annotated=True,
    )  # fmt: skip
    assert np.shares_memory(fit_data.X_train, X_train)
    # the routed form: the training rows after the annotated ones are a view too; scattered ones a copy
    order = np.argsort(~annotated, kind="stable")  # the annotated rows first
    X_routed, y_routed, g_routed = X[order], y[order], groups[order]
    for g, shared in ((g_routed, True), (groups, False)):
        X_used = X_routed if shared else X
        routed = check_fit_data(
            X_used, y_routed if shared else y, g, X_val=None, y_val=None, sensitive_val=None,
            target="equalized_odds", pos_label=None, holdout_annotated=True,
        )  # fmt: skip
        assert np.shares_memory(routed.X_train, X_used) == shared
        np.testing.assert_array_equal(routed.X_train, X_used[np.isnan(g)])
    before_routed = X_routed.copy()
    FairIFClassifier(small_net(), retrain=retrain, random_state=0).fit(
        X_routed, y_routed, sensitive_features=g_routed
    )
    np.testing.assert_array_equal(X_routed, before_routed)
    clf.fit(X_train, y_train)
    np.testing.assert_array_equal(X_train, before)
    apart = clone(clf).fit(X_train.copy(), y_train)
    np.testing.assert_array_equal(clf.sample_weight_, apart.sample_weight_)
