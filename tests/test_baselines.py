"""DFR and JTT (fairif_sklearn.baselines) against hand computations, and the worst-group accuracy."""

import copy

import numpy as np
import pytest
import torch
from fairlearn.metrics import MetricFrame
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from fairif_sklearn import FairIFClassifier, WeightedNetClassifier
from fairif_sklearn.baselines import DFRClassifier, JTTClassifier
from fairif_sklearn.baselines._common import cells_of
from fairif_sklearn.baselines._dfr import _L1, DFR_CS, fit_head, penultimate_features, split_halves
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.metrics import worst_group_accuracy
from tests._helpers import binary_net, partial_groups, small_net


@pytest.fixture(scope="module")
def data():
    """600 rows, 200 of them annotated (NaN elsewhere), and a test set."""
    X, y, s = make_biased_classification(600, bias="group_shift", random_state=0)
    X_test, y_test, s_test = make_biased_classification(400, bias="group_shift", random_state=1)
    return X, y, s, partial_groups(s, 200), X_test, y_test, s_test


def _net(**kw):
    return small_net(10, **{"max_epochs": 3, "lr": 0.05, **kw})


def _logistic(C):
    return LogisticRegression(C=C, solver="liblinear", random_state=0, **_L1)


# ---- worst_group_accuracy -----------------------------------------------------------------------


def test_worst_group_accuracy_by_hand():
    y = np.array([0, 0, 1, 1, 0, 0, 1, 1, 1])
    p = np.array([0, 1, 1, 1, 0, 0, 0, 1, 1])
    s = np.array(["a", "a", "a", "a", "b", "b", "b", "b", None])  # the last row has no group: ignored
    # cells: (0, a) 1/2, (1, a) 2/2, (0, b) 2/2, (1, b) 1/2
    assert worst_group_accuracy(y, p, sensitive_features=s) == 0.5
    p2 = p.copy()
    p2[6] = 1  # (1, b) now 2/2: the worst is (0, a)
    assert worst_group_accuracy(y, p2, sensitive_features=s) == 0.5
    p2[1] = 0
    assert worst_group_accuracy(y, p2, sensitive_features=s) == 1.0
    # a cell without rows is skipped: group c has class 1 only
    y3, p3 = np.concatenate([y[:8], [1, 1]]), np.concatenate([p2[:8], [1, 0]])
    s3 = np.concatenate([s[:8], ["c", "c"]])
    assert worst_group_accuracy(y3, p3, sensitive_features=s3) == 0.5


@pytest.mark.parametrize("seed", range(3))
def test_worst_group_accuracy_agrees_with_fairlearn(seed):
    from sklearn.metrics import accuracy_score

    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, 500)
    p = np.where(rng.uniform(size=500) < 0.7, y, rng.randint(0, 3, 500))
    s = rng.choice(["a", "b", "c"], 500)
    frame = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=p, sensitive_features={"s": s, "y": y})
    assert worst_group_accuracy(y, p, sensitive_features=s) == pytest.approx(frame.group_min())


def test_worst_group_accuracy_errors():
    with pytest.raises(ValueError, match="at least two groups"):
        worst_group_accuracy([0, 1], [0, 1], sensitive_features=[0, 0])
    with pytest.raises(ValueError, match="same length"):
        worst_group_accuracy([0, 1], [0, 1, 1], sensitive_features=[0, 1])


# ---- DFR -------------------------------------------------------------------------------------


def _annotated(X, y, groups):
    rows = ~np.isnan(groups)
    return X[rows], y[rows], groups[rows].astype(int)


def test_dfr_head_is_the_mean_of_a_manual_logistic_loop(data):
    X, y, _, groups, X_test, *_ = data
    clf = DFRClassifier(_net(), Cs=0.3, n_draws=3, random_state=0).fit(X, y, sensitive_features=groups)
    X_ann, y_ann, g_ann = _annotated(X, y, groups)
    # the features are the input of the last Linear layer: the module without it
    module = clf.erm_estimator_.module_
    with torch.no_grad():
        Z = module.layers[:-1](torch.as_tensor(X_ann)).double().numpy()
    np.testing.assert_allclose(penultimate_features(clf.erm_estimator_, X_ann), Z, rtol=1e-6)
    # each draw: every (class, group) cell at the smallest cell's size, no row twice
    cells = y_ann * 2 + g_ann
    smallest = np.bincount(cells).min()
    assert len(clf.subsamples_) == 3 and clf.C_ == 0.3 and not hasattr(clf, "cv_results_")
    for rows in clf.subsamples_:
        assert len(np.unique(rows)) == len(rows) == 4 * smallest
        np.testing.assert_array_equal(np.bincount(cells[rows]), [smallest] * 4)
    assert not all(np.array_equal(clf.subsamples_[0], r) for r in clf.subsamples_[1:])
    # the scaler is fitted on all the annotated rows; the head is the mean of the draws' regressions
    scaler = StandardScaler().fit(Z)
    np.testing.assert_allclose(clf.scaler_.mean_, scaler.mean_, rtol=1e-6)
    fits = [_logistic(0.3).fit(scaler.transform(Z)[rows], y_ann[rows]) for rows in clf.subsamples_]
    np.testing.assert_allclose(clf.coef_, np.mean([f.coef_ for f in fits], axis=0), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(clf.intercept_, np.mean([f.intercept_ for f in fits], axis=0), atol=1e-8)
    # predictions: features -> scaler -> averaged logistic model
    with torch.no_grad():
        Z_test = module.layers[:-1](torch.as_tensor(X_test)).double().numpy()
    logit = scaler.transform(Z_test) @ clf.coef_[0] + clf.intercept_[0]
    np.testing.assert_array_equal(clf.predict(X_test), (logit > 0).astype(int))
    np.testing.assert_allclose(clf.predict_proba(X_test)[:, 1], 1 / (1 + np.exp(-logit)), rtol=1e-5)
    assert clf.train_mask_.sum() == 400 and not clf.train_mask_[~np.isnan(groups)].any()


def test_dfr_chooses_C_by_worst_group_accuracy_on_the_other_half(data):
    X, y, _, groups, *_ = data
    Cs = (1.0, 0.1, 0.01)
    clf = DFRClassifier(_net(), Cs=Cs, n_draws=2, random_state=3).fit(X, y, sensitive_features=groups)
    assert list(clf.cv_results_["C"]) == list(Cs)
    scores = clf.cv_results_["worst_group_accuracy"]
    assert clf.C_ == Cs[int(np.argmax(scores))] and scores.max() == scores[list(Cs).index(clf.C_)]
    # by hand: the same halves (each cell split in two), the head fitted on one, scored on the other
    X_ann, y_ann, g_ann = _annotated(X, y, groups)
    Z = penultimate_features(clf.erm_estimator_, X_ann)
    cells = cells_of(y_ann, g_ann, 2)
    rng = np.random.RandomState(3)
    rng.randint(0, 2**31 - 1)  # the ERM fit's seed
    fit_rows, score_rows = split_halves(cells, rng)
    assert set(cells[fit_rows]) == set(cells[score_rows]) == {0, 1, 2, 3}
    assert not set(fit_rows) & set(score_rows) and len(fit_rows) + len(score_rows) == len(y_ann)
    tune_seed = rng.randint(0, 2**31 - 1)
    for C, score in zip(Cs, scores, strict=True):
        scaler, coef, intercept, _ = fit_head(
            Z[fit_rows], y_ann[fit_rows], cells[fit_rows], C, 2, 2, np.random.RandomState(tune_seed)
        )
        pred = (scaler.transform(Z[score_rows]) @ coef[0] + intercept[0] > 0).astype(int)
        assert worst_group_accuracy(y_ann[score_rows], pred, sensitive_features=g_ann[score_rows]) == score


def test_dfr_default_grid_is_the_papers():
    assert DFRClassifier(None).Cs == DFR_CS == (1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01)
    assert DFRClassifier(None).n_draws == 10


def test_dfr_starts_from_fairifs_erm_net(data):
    X, y, _, groups, X_test, *_ = data
    dfr = DFRClassifier(_net(), Cs=1.0, n_draws=1, random_state=5).fit(X, y, sensitive_features=groups)
    fairif = FairIFClassifier(_net(), tolerance=np.inf, random_state=5).fit(X, y, sensitive_features=groups)
    np.testing.assert_array_equal(
        dfr.erm_estimator_.predict_proba(X_test), fairif.erm_estimator_.predict_proba(X_test)
    )


def test_dfr_more_classes_one_vs_rest(data):
    X, _, s, groups, X_test, *_ = data
    y = np.digitize(X[:, 0], np.quantile(X[:, 0], [1 / 3, 2 / 3]))  # three classes
    net = _net(n_classes=3)
    clf = DFRClassifier(net, Cs=0.7, n_draws=2, random_state=0).fit(X, y, sensitive_features=groups)
    assert clf.coef_.shape == (3, 8) and clf.intercept_.shape == (3,)
    X_ann, y_ann, _ = _annotated(X, y, groups)
    Zs = clf.scaler_.transform(penultimate_features(clf.erm_estimator_, X_ann))
    for k in range(3):
        fits = [_logistic(0.7).fit(Zs[rows], (y_ann[rows] == k).astype(int)) for rows in clf.subsamples_]
        np.testing.assert_allclose(clf.coef_[k], np.mean([f.coef_[0] for f in fits], axis=0), atol=1e-8)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[proba.argmax(axis=1)])


def test_dfr_on_a_binary_net_and_a_prefit_net(data):
    from sklearn.frozen import FrozenEstimator

    X, y, _, groups, X_test, *_ = data
    binary = DFRClassifier(binary_net(10), Cs=1.0, random_state=0).fit(X, y, sensitive_features=groups)
    assert binary.coef_.shape == (1, 8) and set(binary.predict(X_test)) <= {0, 1}
    prefit = WeightedNetClassifier(_net(), random_state=0).fit(X[np.isnan(groups)], y[np.isnan(groups)])
    before = prefit.estimator_.predict_proba(X_test)
    clf = DFRClassifier(FrozenEstimator(prefit.estimator_), Cs=1.0, random_state=0)
    clf.fit(X, y, sensitive_features=groups)
    assert clf.erm_estimator_ is prefit.estimator_
    np.testing.assert_array_equal(prefit.estimator_.predict_proba(X_test), before)  # only read


# ---- JTT -------------------------------------------------------------------------------------


def test_jtt_error_set_and_weights_by_hand(data):
    X, y, _, groups, X_test, *_ = data
    net = _net(max_epochs=5)
    clf = JTTClassifier(net, first_epochs=0.4, lambda_up=(3.0,), random_state=2)
    clf.fit(X, y, sensitive_features=groups)
    train = np.isnan(groups)
    assert clf.first_epochs_ == 2 and clf.lambda_up_ == 3.0
    assert len(clf.erm_estimator_.history) == 2 and len(clf.estimator_.history) == 5
    # stage 1 is ERM for two epochs (the same net as a plain fit with the same seed) ...
    short = clone(net).set_params(max_epochs=2)
    stage1 = WeightedNetClassifier(short, random_state=2).fit(X[train], y[train])
    errors = stage1.predict(X[train]) != y[train]
    assert 0 < errors.sum() < train.sum()
    np.testing.assert_array_equal(clf.error_set_[train], errors)
    assert not clf.error_set_[~train].any()
    # ... its weights lambda_up on the error set, one elsewhere, zero on the annotated rows ...
    np.testing.assert_array_equal(clf.sample_weight_[train], np.where(errors, 3.0, 1.0))
    assert (clf.sample_weight_[~train] == 0).all()
    # ... and stage 2 the repo's weighted fit from scratch, the full schedule, with them
    stage2 = WeightedNetClassifier(net, random_state=2).fit(
        X[train], y[train], sample_weight=clf.sample_weight_[train]
    )
    np.testing.assert_allclose(clf.predict_proba(X_test), stage2.predict_proba(X_test), rtol=1e-6)
    assert clf.cv_results_["error_set_size"].tolist() == [errors.sum()]


def test_jtt_knobs_maximise_worst_group_accuracy_on_the_annotated_rows(data):
    X, y, _, groups, *_ = data
    clf = JTTClassifier(_net(max_epochs=4), first_epochs=(0.25, 0.5), lambda_up=(2, 30), random_state=0)
    clf.fit(X, y, sensitive_features=groups)
    res = clf.cv_results_
    assert res["first_epochs"].tolist() == [1, 1, 2, 2] and res["lambda_up"].tolist() == [2, 30, 2, 30]
    best = int(np.argmax(res["worst_group_accuracy"]))  # the first of the best
    assert (clf.first_epochs_, clf.lambda_up_) == (res["first_epochs"][best], res["lambda_up"][best])
    X_ann, y_ann, g_ann = _annotated(X, y, groups)
    pred = clf.predict(X_ann)
    assert worst_group_accuracy(y_ann, pred, sensitive_features=g_ann) == res["worst_group_accuracy"][best]
    assert np.mean(pred == y_ann) == res["accuracy"][best]
    np.testing.assert_array_equal(clf.sample_weight_[clf.error_set_], clf.lambda_up_)


def test_jtt_first_stage_epochs():
    from fairif_sklearn.baselines._jtt import first_stage_epochs

    assert first_stage_epochs([0.1, 0.3], 10) == [1, 3]
    assert first_stage_epochs([0.1, 0.3], 15) == [2, 5]  # 1.5 and 4.5 rounded half up
    assert first_stage_epochs([0.01, 0.04, 1.0], 20) == [1, 20]  # at least one epoch, each once


def test_jtt_more_classes(data):
    X, _, _, groups, X_test, *_ = data
    y = np.array(["low", "mid", "high"])[np.digitize(X[:, 0], np.quantile(X[:, 0], [1 / 3, 2 / 3]))]
    clf = JTTClassifier(_net(n_classes=3), first_epochs=0.3, lambda_up=5, random_state=0)
    clf.fit(X, y, sensitive_features=groups)
    assert list(clf.classes_) == ["high", "low", "mid"] and set(clf.predict(X_test)) <= set(clf.classes_)
    assert clf.predict_proba(X_test).shape == (len(X_test), 3)


# ---- both ------------------------------------------------------------------------------------

PEERS = {
    "DFRClassifier": lambda net, **kw: DFRClassifier(net, Cs=(1.0, 0.1), n_draws=2, **kw),
    "JTTClassifier": lambda net, **kw: JTTClassifier(net, first_epochs=0.34, lambda_up=(5,), **kw),
}


@pytest.mark.parametrize("name", PEERS)
def test_reproducible_and_inputs_untouched(data, name):
    X, y, _, groups, X_test, *_ = data
    net = _net()
    inputs = [a.copy() for a in (X, y, groups)]
    params = copy.deepcopy(net.get_params())
    first = PEERS[name](net, random_state=7).fit(X, y, sensitive_features=groups)
    for before, after in zip(inputs, (X, y, groups), strict=True):
        np.testing.assert_array_equal(before, after)
    assert not getattr(net, "initialized_", False) and net.get_params().keys() == params.keys()
    assert net.max_epochs == params["max_epochs"]
    second = PEERS[name](net, random_state=7).fit(X, y, sensitive_features=groups)
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))
    np.testing.assert_allclose(
        np.exp(first.predict_log_proba(X_test)), first.predict_proba(X_test), rtol=1e-12
    )


@pytest.mark.parametrize("name", PEERS)
def test_clear_errors(data, name):
    X, y, s, groups, *_ = data
    make = PEERS[name]
    with pytest.raises(ValueError, match="needs group labels"):
        make(_net()).fit(X, y)
    # a (class, group) cell with no annotated row: group 1's positives are not annotated
    lacking = groups.copy()
    lacking[(s == 1) & (y == 1)] = np.nan
    with pytest.raises(ValueError, match=r"group '1' has 0 annotated row\(s\) of class 1"):
        make(_net()).fit(X, y, sensitive_features=lacking)
    one_group = np.where(s == 0, groups, np.nan)
    with pytest.raises(ValueError, match=f"only one group.*; {name} needs at least two"):
        make(_net()).fit(X, y, sensitive_features=one_group)
    with pytest.raises(ValueError, match=f"no annotated row.*; {name} needs a group-annotated set"):
        make(_net()).fit(X, y, sensitive_features=np.full(len(y), np.nan))
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make(_net()).fit(X_nan, y, sensitive_features=groups)
    with pytest.raises(TypeError, match=f"{name} needs a skorch"):  # the errors named FairIF
        make(LogisticRegression()).fit(X, y, sensitive_features=groups)
    with pytest.raises(NotFittedError):
        make(_net()).predict(X)


class _NoLinear(torch.nn.Module):
    def __init__(self, n_features=10):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(n_features, 2))

    def forward(self, X):
        return X @ self.weight


def test_dfr_errors(data):
    from skorch import NeuralNetClassifier

    X, y, s, groups, *_ = data
    net = NeuralNetClassifier(_NoLinear, criterion=torch.nn.CrossEntropyLoss, max_epochs=1, train_split=None)
    with pytest.raises(ValueError, match="last torch.nn.Linear layer, but the module _NoLinear has none"):
        DFRClassifier(net).fit(X, y, sensitive_features=groups)
    # tuning C splits each cell in two: one annotated row in a cell is too few, unless C is given
    single = groups.copy()
    cell = np.flatnonzero((s == 1) & (y == 0) & ~np.isnan(groups))
    single[cell[1:]] = np.nan
    with pytest.raises(ValueError, match=r"at least 2 annotated row\(s\).*single value"):
        DFRClassifier(_net()).fit(X, y, sensitive_features=single)
    DFRClassifier(_net(), Cs=0.5, n_draws=1).fit(X, y, sensitive_features=single)
    with pytest.raises(ValueError, match="Cs must be positive"):
        DFRClassifier(_net(), Cs=[1.0, -1.0]).fit(X, y, sensitive_features=groups)


def test_jtt_errors(data):
    from sklearn.frozen import FrozenEstimator
    from sklearn.utils._param_validation import InvalidParameterError

    X, y, _, groups, *_ = data
    with pytest.raises(InvalidParameterError):
        JTTClassifier(_net(), first_epochs=1.5).fit(X, y, sensitive_features=groups)
    with pytest.raises(ValueError, match=r"first_epochs must be .* in \(0, 1\]"):
        JTTClassifier(_net(), first_epochs=[0.1, 2.0]).fit(X, y, sensitive_features=groups)
    with pytest.raises(ValueError, match="lambda_up must be"):
        JTTClassifier(_net(), lambda_up=[5, 0]).fit(X, y, sensitive_features=groups)
    fitted = WeightedNetClassifier(_net(), random_state=0).fit(X, y).estimator_
    with pytest.raises(TypeError, match="FrozenEstimator cannot be trained"):
        JTTClassifier(FrozenEstimator(fitted)).fit(X, y, sensitive_features=groups)


@pytest.mark.parametrize("name", PEERS)
def test_pandas_inputs_and_a_routed_search(data, name, routing):
    import pandas as pd
    from sklearn.model_selection import GridSearchCV

    from fairif_sklearn.model_selection import AnnotatedStratifiedKFold

    X, y, s, groups, X_test, *_ = data
    frame = pd.DataFrame(X, columns=[f"x{k}" for k in range(X.shape[1])])
    labels = pd.Series(np.where(np.isnan(groups), None, np.where(s == 1, "b", "a")), dtype=object)
    labels[labels.isna()] = pd.NA
    clf = PEERS[name](_net(), random_state=0).fit(frame, y, sensitive_features=labels)
    assert list(clf.feature_names_in_) == list(frame.columns) and list(clf.groups_) == ["a", "b"]
    assert clf.predict(pd.DataFrame(X_test, columns=frame.columns)).shape == (len(X_test),)
    # the annotated rows of every fold's training part are held out of its fit, as FairIF's
    search = GridSearchCV(
        PEERS[name](_net(), random_state=0).set_fit_request(sensitive_features=True),
        {"random_state": [0, 1]},
        cv=AnnotatedStratifiedKFold(2),
    ).fit(X, y, sensitive_features=groups)
    assert search.best_params_["random_state"] in (0, 1)


@pytest.mark.parametrize("name", PEERS)
def test_docstrings_document_every_parameter_default_and_fitted_attribute(data, name):
    import ast
    import inspect
    import re

    import pandas as pd
    from numpydoc.docscrape import NumpyDocString

    cls = {"DFRClassifier": DFRClassifier, "JTTClassifier": JTTClassifier}[name]
    doc = NumpyDocString(inspect.getdoc(cls))
    params = {item.name: item.type for item in doc["Parameters"]}
    signature = inspect.signature(cls.__init__).parameters
    assert set(params) == set(signature) - {"self"}
    for param, type_ in params.items():
        found = re.search(r"default\s*=\s*(.+?)\s*$", type_)
        default = signature[param].default
        if found is None:
            assert default is inspect.Parameter.empty, param
        else:
            said = ast.literal_eval(found.group(1))
            assert said == default and type(said) is type(default), param
    X, y, _, groups, *_ = data
    frame = pd.DataFrame(X, columns=[f"x{k}" for k in range(X.shape[1])])
    fitted = PEERS[name](_net(), random_state=0).fit(frame, y, sensitive_features=groups)
    documented = {item.name for item in doc["Attributes"]}
    set_by_fit = {a for a in vars(fitted) if a.endswith("_") and not a.startswith("_")}
    assert documented == set_by_fit


def test_jtt_refuses_more_outputs_than_classes(data):
    # skorch trains a 3-output net on two classes; JTT's predict_proba then had a column for no class
    X, y, s, groups, *_ = data
    with pytest.raises(ValueError, match="module returns 3 outputs per row, but y has 2 classes"):
        jtt = JTTClassifier(small_net(n_classes=3, max_epochs=2), random_state=0)
        jtt.fit(X, y, sensitive_features=groups)


# ---- sample_weight ---------------------------------------------------------------------------


def _weights(y, groups):
    """Integer weights 1..3, zero on every tenth annotated row and every seventh training row."""
    w = np.random.RandomState(4).randint(1, 4, len(y)).astype(float)
    annotated = ~np.isnan(groups)
    w[np.flatnonzero(annotated)[::10]] = 0.0
    w[np.flatnonzero(~annotated)[::7]] = 0.0
    return w


def test_jtt_weighs_both_stages_and_its_choice_by_sample_weight(data):
    X, y, _, groups, X_test, *_ = data
    w = _weights(y, groups)
    net = _net(max_epochs=5)
    clf = JTTClassifier(net, first_epochs=0.4, lambda_up=(3.0, 9.0), random_state=2)
    clf.fit(X, y, sensitive_features=groups, sample_weight=w)
    train = np.isnan(groups) & (w > 0)
    np.testing.assert_array_equal(clf.train_mask_, train)  # a row of weight zero is absent
    w_train = w[train] / w[train].mean()
    # stage 1: the weighted fit of two epochs; stage 2: its weights times lambda_up on the error set
    short = clone(net).set_params(max_epochs=2)
    stage1 = WeightedNetClassifier(short, random_state=2).fit(X[train], y[train], sample_weight=w_train)
    errors = stage1.predict(X[train]) != y[train]
    np.testing.assert_array_equal(clf.error_set_[train], errors)
    expected = np.where(errors, clf.lambda_up_, 1.0) * w_train
    np.testing.assert_allclose(clf.sample_weight_[train], expected)
    assert (clf.sample_weight_[~train] == 0).all()
    stage2 = WeightedNetClassifier(net, random_state=2).fit(X[train], y[train], sample_weight=expected)
    np.testing.assert_allclose(clf.predict_proba(X_test), stage2.predict_proba(X_test), rtol=1e-6)
    # the choice: worst-group and plain accuracy on the annotated rows of positive weight, weighted
    ann = ~np.isnan(groups) & (w > 0)
    pred = clf.predict(X[ann])
    best = list(clf.cv_results_["lambda_up"]).index(clf.lambda_up_)
    wga = worst_group_accuracy(y[ann], pred, sensitive_features=groups[ann], sample_weight=w[ann])
    assert wga == pytest.approx(clf.cv_results_["worst_group_accuracy"][best])
    assert np.average(pred == y[ann], weights=w[ann]) == pytest.approx(clf.cv_results_["accuracy"][best])


def test_dfr_weighs_its_erm_fit_scaler_regressions_and_choice_by_sample_weight(data):
    X, y, _, groups, *_ = data
    w = _weights(y, groups)
    clf = DFRClassifier(_net(), Cs=0.3, n_draws=3, random_state=0)
    clf.fit(X, y, sensitive_features=groups, sample_weight=w)
    train, ann = np.isnan(groups) & (w > 0), ~np.isnan(groups) & (w > 0)
    np.testing.assert_array_equal(clf.train_mask_, train)
    # the ERM net: the weighted fit with the seed a FairIFClassifier of this random_state draws
    w_train = w[train] / w[train].mean()  # the training rows' weights as FairIF's checks scale them
    erm = WeightedNetClassifier(_net(), random_state=0).fit(X[train], y[train], sample_weight=w_train)
    np.testing.assert_allclose(clf.erm_estimator_.predict_proba(X[:50]), erm.predict_proba(X[:50]), rtol=1e-6)
    Z = penultimate_features(clf.erm_estimator_, X[ann])
    y_ann, g_ann, w_ann = y[ann], groups[ann].astype(int), w[ann]
    scaler = StandardScaler().fit(Z, sample_weight=w_ann)
    np.testing.assert_allclose(clf.scaler_.mean_, scaler.mean_, rtol=1e-6)
    cells = y_ann * 2 + g_ann
    fits = []
    for rows in clf.subsamples_:  # drawn among the rows of positive weight; cells mean one in weight
        weight = w_ann[rows].copy()
        for c in np.unique(cells[rows]):
            weight[cells[rows] == c] /= weight[cells[rows] == c].mean()
        fits.append(_logistic(0.3).fit(scaler.transform(Z)[rows], y_ann[rows], sample_weight=weight))
    np.testing.assert_allclose(clf.coef_, np.mean([f.coef_ for f in fits], axis=0), rtol=1e-5, atol=1e-8)
    # the choice of C: weighted worst-group accuracy (changes with the weights of the scoring half)
    tuned = DFRClassifier(_net(), Cs=(1.0, 0.01), n_draws=2, random_state=0)
    plain = clone(tuned).fit(X, y, sensitive_features=groups, sample_weight=(w > 0).astype(float))
    weighted = clone(tuned).fit(X, y, sensitive_features=groups, sample_weight=w)
    assert not np.allclose(
        plain.cv_results_["worst_group_accuracy"], weighted.cv_results_["worst_group_accuracy"]
    )


@pytest.mark.parametrize("name", PEERS)
def test_equal_weights_of_any_scale_are_no_weights(data, name):
    X, y, _, groups, X_test, *_ = data
    plain = PEERS[name](_net(), random_state=0).fit(X, y, sensitive_features=groups)
    scaled = PEERS[name](_net(), random_state=0)
    scaled.fit(X, y, sensitive_features=groups, sample_weight=np.full(len(y), 7.0))
    np.testing.assert_allclose(
        plain.predict_proba(X_test), scaled.predict_proba(X_test), rtol=1e-4, atol=1e-6
    )
