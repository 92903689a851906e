"""FairIFClassifier and FairIFWeigher as scikit-learn estimators."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fairif_sklearn import FairIFClassifier, FairIFWeigher, WeightedNetClassifier
from fairif_sklearn.metrics import aod_scorer, eod_scorer

from ._helpers import binary_net, nll_net, partial_groups, small_net


def _clf(**kw):
    return FairIFClassifier(small_net(), random_state=0, **kw)


def test_fit_predict_and_fitted_attributes(biased_data):
    X, y, s = biased_data
    groups = partial_groups(s, 400)
    clf = _clf().fit(X, y, sensitive_features=groups)
    annotated = ~np.isnan(groups)
    assert clf.predict(X).shape == (len(y),)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X), rtol=1e-12)
    assert 0.5 < clf.score(X, y) <= 1
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    np.testing.assert_array_equal(clf.train_mask_, ~annotated)
    w = clf.sample_weight_
    assert w.shape == (len(y),) and w.min() >= 0
    assert np.all(w[annotated] == 0) and w[~annotated].mean() == pytest.approx(1)
    assert clf.influence_scores_.shape == (2, (~annotated).sum())
    assert clf.gaps_.shape == clf.predicted_gaps_.shape == clf.final_gaps_.shape == (2,)
    assert clf.gap_names_ == ["TPR(1) - TPR(0)", "TNR(1) - TNR(0)"]
    assert clf.influence_info_["method"] == "exact" and clf.influence_info_["solver_converged"]
    assert clf.estimator_ is not clf.erm_estimator_
    # the classifier's stage 1 is the weigher's: same parameters, same weights
    weigher = FairIFWeigher(**clf.get_params(deep=False)).fit(X, y, sensitive_features=groups)
    np.testing.assert_array_equal(weigher.sample_weight_, clf.sample_weight_)
    assert clf.n_features_in_ == X.shape[1]


def test_constructor_annotated_set(biased_data):
    X, y, s = biased_data
    clf = _clf(X_val=X[:300], y_val=y[:300], sensitive_val=s[:300]).fit(X[300:], y[300:])
    assert clf.train_mask_.all() and len(clf.sample_weight_) == len(y) - 300
    assert clf.predict(X).shape == (len(y),)


def test_weigher_weights_can_feed_any_estimator(biased_data):
    from sklearn.linear_model import LogisticRegression

    X, y, s = biased_data
    groups = partial_groups(s, 400)
    weigher = FairIFWeigher(small_net(), random_state=0).fit(X, y, sensitive_features=groups)
    w = weigher.sample_weight_
    X = X.astype(np.float64)  # both fits solved to a tight tolerance: equal models, not equal stops

    def logreg():
        return LogisticRegression(tol=1e-10, max_iter=10_000)

    weighted = logreg().fit(X, y, sample_weight=w)
    # zero weight on the held-out annotated rows: the same model as fitting without them
    kept = logreg().fit(X[w > 0], y[w > 0], sample_weight=w[w > 0])
    np.testing.assert_allclose(weighted.coef_, kept.coef_, rtol=1e-6, atol=1e-8)
    assert not np.allclose(weighted.coef_, logreg().fit(X, y).coef_, atol=1e-3)


def test_string_labels_and_string_groups(biased_data):
    X, y, s = biased_data
    labels = np.array(["denied", "granted"])[y]
    groups = np.array(["blue", "red"], dtype=object)[s]
    groups[400:] = None
    clf = _clf().fit(X, labels, sensitive_features=groups)
    assert set(clf.predict(X)) <= {"denied", "granted"}
    np.testing.assert_array_equal(clf.groups_, ["blue", "red"])
    assert clf.gap_names_[0] == "TPR(red) - TPR(blue)"


@pytest.mark.parametrize("make_net", [nll_net, binary_net], ids=["nll_probabilities", "binary_logit"])
def test_other_skorch_nets(biased_data, make_net):
    X, y, s = biased_data
    clf = FairIFClassifier(make_net(), random_state=0).fit(X, y, sensitive_features=partial_groups(s, 400))
    assert clf.predict(X).shape == (len(y),)
    assert clf.predict_proba(X).shape == (len(y), 2)


def test_a_cnn_on_images(biased_data):
    from fairif_sklearn.nets import make_cnn_classifier

    X, y, s = biased_data
    # each row's ten features spread over a 3x4x4 image (and zeros), a group shift included
    images = np.zeros((len(y), 3, 4, 4), dtype=np.float32)
    images.reshape(len(y), -1)[:, : X.shape[1]] = X
    net = make_cnn_classifier(channels=(8, 16), max_epochs=5, batch_size=256)
    clf = FairIFClassifier(net, tolerance=0.0, random_state=0).fit(
        images, y, sensitive_features=partial_groups(s, 400)
    )
    assert clf.influence_info_["method"] == "cg" and clf.reweighted_
    assert clf.predict(images).shape == (len(y),) and np.ptp(clf.sample_weight_[clf.train_mask_]) > 0
    # the gaps moved the way influence predicted
    assert np.all(np.sign(clf.final_gaps_ - clf.gaps_) == np.sign(clf.predicted_gaps_ - clf.gaps_))
    with pytest.raises(ValueError, match="fitted on \\(3, 4, 4\\)"):
        clf.predict(X)


def test_three_groups_and_equal_opportunity(biased_data):
    X, y, _ = biased_data
    s3 = np.random.RandomState(0).randint(0, 3, len(y)).astype(float)
    s3[500:] = -1
    clf = _clf(target="equal_opportunity").fit(X, y, sensitive_features=s3)
    assert clf.gap_names_ == ["TPR(0) - TPR(all)", "TPR(1) - TPR(all)", "TPR(2) - TPR(all)"]


@pytest.mark.parametrize("influence", ["exact", "last_layer", "cg"])
def test_influence_back_ends_run_end_to_end(biased_data, influence):
    X, y, s = biased_data
    clf = _clf(influence=influence, curvature_subsample=0.5).fit(
        X, y, sensitive_features=partial_groups(s, 400)
    )
    assert clf.influence_info_["method"] == influence
    assert clf.influence_info_["n_curvature_rows"] == round(0.5 * clf.train_mask_.sum())
    assert np.isfinite(clf.sample_weight_).all()


def test_cg_that_does_not_converge_warns(biased_data):
    from sklearn.exceptions import ConvergenceWarning

    X, y, s = biased_data
    with pytest.warns(ConvergenceWarning, match="CG solve stopped at relative residuals"):
        clf = _clf(influence="cg", cg_maxiter=1).fit(X, y, sensitive_features=partial_groups(s, 400))
    assert set(clf.influence_info_["solver_n_iter"]) == {1} and not clf.influence_info_["solver_converged"]


def test_verbose_reports_the_stages(biased_data, capsys):
    X, y, s = biased_data
    _clf(verbose=1).fit(X, y, sensitive_features=partial_groups(s, 400))
    out = capsys.readouterr().out
    for stage in (
        "ERM fit on 1100 rows",
        "influence (exact) on 106 parameters",
        "round 1: gaps",
        "after stage 2",
    ):
        assert stage in out


def test_warm_start_retrain(biased_data):
    X, y, s = biased_data
    clf = _clf(retrain="warm_start", tolerance=0.0).fit(X, y, sensitive_features=partial_groups(s, 400))
    assert clf.reweighted_ and clf.estimator_.warm_start is False
    # ERM's epochs, then as many again per round
    assert len(clf.estimator_.history) == (1 + len(clf.rounds_)) * clf.estimator.max_epochs


def test_reproducible_from_random_state(biased_data):
    X, y, s = biased_data
    groups = partial_groups(s, 400)
    a = _clf().fit(X, y, sensitive_features=groups)
    b = _clf().fit(X, y, sensitive_features=groups)
    np.testing.assert_array_equal(a.sample_weight_, b.sample_weight_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = FairIFClassifier(small_net(), random_state=1).fit(X, y, sensitive_features=groups)
    assert not np.array_equal(a.sample_weight_, c.sample_weight_)


def test_global_torch_rng_is_left_alone(biased_data):
    X, y, s = biased_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _clf().fit(X, y, sensitive_features=partial_groups(s, 400))
    torch.testing.assert_close(torch.rand(3), expected)


def test_pickle_round_trip(biased_data):
    X, y, s = biased_data
    clf = _clf().fit(X, y, sensitive_features=partial_groups(s, 400))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(restored.sample_weight_, clf.sample_weight_)


def test_clone_and_nested_params():
    clf = _clf(alpha=0.5)
    params = clf.get_params()
    assert params["alpha"] == 0.5 and params["estimator__max_epochs"] == 5
    clf.set_params(estimator__max_epochs=7, alpha=0.2)
    assert clf.estimator.max_epochs == 7 and clf.alpha == 0.2
    cloned = clone(clf)
    assert cloned.get_params()["estimator__max_epochs"] == 7 and cloned.estimator is not clf.estimator


def test_inputs_and_estimator_are_not_modified(biased_data):
    X, y, s = biased_data
    X64 = X.astype(np.float64)
    groups = partial_groups(s, 400)
    copies = [X64.copy(), y.copy(), groups.copy()]
    net = small_net().fit(X[:100], y[:100])  # an already-fitted net is fine: it is cloned
    before = [p.detach().clone() for p in net.module_.parameters()]
    n_epochs = len(net.history)
    FairIFClassifier(net, random_state=0).fit(X64, y, sensitive_features=groups)
    for original, copy in zip((X64, y, groups), copies, strict=True):
        np.testing.assert_array_equal(original, copy)
    for p, q in zip(net.module_.parameters(), before, strict=True):
        torch.testing.assert_close(p.detach(), q)
    assert len(net.history) == n_epochs


def test_pandas_input(biased_data):
    X, y, s = biased_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    groups = pd.Series(partial_groups(s, 400))
    clf = _clf().fit(df, pd.Series(y), sensitive_features=groups)
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    assert clf.predict(df).shape == (len(y),)


def test_pipeline_with_preprocessing_and_partial_annotations(biased_data, routing):
    X, y, s = biased_data
    X_shifted = X * 10 + 3  # needs the scaler
    pipe = make_pipeline(StandardScaler(), _clf().set_fit_request(sensitive_features=True))
    pipe.fit(X_shifted, y, sensitive_features=partial_groups(s, 400))
    fairif = pipe[-1]
    assert fairif.train_mask_.sum() == len(y) - 400
    assert pipe.score(X_shifted, y) > 0.8


def test_grid_search_over_alpha_with_fairness_scorers(biased_data, routing):
    X, y, s = biased_data
    groups = partial_groups(s, 600)
    search = GridSearchCV(
        _clf().set_fit_request(sensitive_features=True),
        {"alpha": [1.0, 0.01]},
        scoring={"accuracy": "accuracy", "aod": aod_scorer, "eod": eod_scorer},
        refit="accuracy",
        cv=KFold(2, shuffle=True, random_state=1),
    )
    search.fit(X, y, sensitive_features=groups)
    # the scorers saw each fold's groups: recompute one by hand
    train, test = next(iter(KFold(2, shuffle=True, random_state=1).split(X)))
    fold = (
        clone(search.estimator)
        .set_params(alpha=1.0)
        .fit(X[train], y[train], sensitive_features=groups[train])
    )
    expected = -aod_scorer._score_func(y[test], fold.predict(X[test]), sensitive_features=groups[test])
    assert search.cv_results_["split0_test_aod"][0] == pytest.approx(expected)
    assert np.all(search.cv_results_["mean_test_aod"] <= 0)
    # the training rows of each fold are its unannotated rows
    assert search.best_estimator_.train_mask_.sum() == np.isnan(groups).sum()


# ---------------------------------------------------------------- bad input


def _expect(match, X, y, sensitive_features=None, estimator=None, **kw):
    clf = _clf(**kw) if estimator is None else FairIFClassifier(estimator, random_state=0, **kw)
    with pytest.raises((ValueError, TypeError), match=match):
        clf.fit(X, y, sensitive_features=sensitive_features)


def test_no_annotated_set(biased_data):
    X, y, _ = biased_data
    _expect("needs a group-annotated set", X, y)
    _expect("no annotated row", X, y, np.full(len(y), np.nan))


def test_a_fold_without_annotated_rows_names_the_splitter(biased_data, routing):
    # the annotated rows come first: unshuffled 2-fold leaves the second fit's training fold none of them
    from sklearn.model_selection import cross_validate

    from fairif_sklearn.model_selection import AnnotatedStratifiedKFold

    X, y, s = biased_data
    groups = np.where(np.arange(len(s)) < 400, s, np.nan)
    clf = _clf().set_fit_request(sensitive_features=True)
    hint = "no annotated row.*one fold's training rows.*AnnotatedStratifiedKFold"
    with pytest.raises(ValueError, match=hint):
        cross_validate(clf, X, y, cv=KFold(2), params={"sensitive_features": groups}, error_score="raise")
    scores = cross_validate(
        clf, X, y, cv=AnnotatedStratifiedKFold(2), params={"sensitive_features": groups}, error_score="raise"
    )
    assert np.all(scores["test_score"] > 0.6)
    # the same hint where a fold holds one group, or a group without a class; not for an annotated set
    # given in the constructor, which no split touches
    one_group = np.where(s == 0, groups, np.nan)
    _expect("only one group.*AnnotatedStratifiedKFold", X, y, one_group)
    no_positives = np.where((s == 1) & (y == 1), np.nan, groups)
    _expect("TPR is undefined. Inside a cross-validation", X, y, no_positives)
    annotated = np.isfinite(no_positives)
    with pytest.raises(ValueError, match=r"TPR is undefined\.$"):
        FairIFClassifier(
            small_net(), X_val=X[annotated], y_val=y[annotated], sensitive_val=no_positives[annotated]
        ).fit(X, y)


def test_one_group_missing_from_the_annotated_set(biased_data):
    X, y, s = biased_data
    groups = np.where(s == 0, 0.0, np.nan)
    groups[500:] = np.nan
    _expect("only one group", X, y, groups)


def test_group_without_positives(biased_data):
    X, y, s = biased_data
    groups = partial_groups(s, 400).copy()
    groups[(s == 1) & (y == 1)] = np.nan
    _expect(
        "Group '1' of the annotated set has no positive sample .class 1., so its TPR is undefined",
        X,
        y,
        groups,
    )
    groups = partial_groups(s, 400).copy()
    groups[(s == 0) & (y == 0)] = np.nan
    _expect(
        "Group '0' of the annotated set has no negative sample .class 0., so its TNR is undefined",
        X,
        y,
        groups,
    )
    # equal opportunity does not need negatives
    _clf(target="equal_opportunity").fit(X, y, sensitive_features=groups)


def test_mismatched_lengths(biased_data):
    X, y, s = biased_data
    _expect("inconsistent numbers of samples", X, y[:-1], partial_groups(s, 400))
    _expect("sensitive_features has 1499 rows but X has 1500", X, y, partial_groups(s, 400)[:-1])
    _expect(
        "sensitive_val has 9 rows but X_val has 10", X, y, X_val=X[:10], y_val=y[:10], sensitive_val=s[:9]
    )
    _expect(
        "X_val and y_val must have the same length", X, y, X_val=X[:10], y_val=y[:9], sensitive_val=s[:10]
    )
    _expect(r"X_val has rows of shape \(3,\)", X, y, X_val=X[:10, :3], y_val=y[:10], sensitive_val=s[:10])


def test_nan_and_inf(biased_data):
    X, y, s = biased_data
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 2] = bad
        _expect("Input X contains (NaN|infinity)", Xb, y, partial_groups(s, 400))
    Xb = X[:50].copy()
    Xb[0, 0] = np.nan
    _expect("contains NaN", X, y, X_val=Xb, y_val=y[:50], sensitive_val=s[:50])


def test_multiclass_target(biased_data):
    X, y, s = biased_data
    y3 = y + (X[:, 4] > 0.8)  # a third class
    groups = partial_groups(s, 600)
    _expect("y has 3 classes, but the net's module has fewer outputs", X, y3, groups)
    _expect(
        "y has 3 classes, but a NeuralNetBinaryClassifier predicts two", X, y3, groups, estimator=binary_net()
    )
    _expect("pos_label is needed with more than two classes", X, y3, groups, target="equal_opportunity")
    # more outputs than classes: skorch trains it, but predict_proba would have a column for no class
    more = "module returns 3 outputs per row, but y has 2 classes"
    _expect(more, X, y, groups, estimator=small_net(n_classes=3))
    trained = small_net(n_classes=3).fit(X[600:], y[600:])
    _expect(more, X, y, groups, estimator=FrozenEstimator(trained))
    with pytest.raises(ValueError, match=more):
        WeightedNetClassifier(small_net(n_classes=3)).fit(X, y)
    clf = FairIFClassifier(small_net(n_classes=3), tolerance=0.0, random_state=0)
    clf.fit(X, y3, sensitive_features=groups)
    assert clf.gap_names_ == [f"recall[{c}](1) - recall[{c}](0)" for c in (0, 1, 2)]
    assert clf.predict_proba(X).shape == (len(y), 3) and set(clf.predict(X)) <= {0, 1, 2}
    assert np.abs(clf.final_gaps_).sum() < np.abs(clf.gaps_).sum()
    eo = FairIFClassifier(
        small_net(n_classes=3), target="equal_opportunity", pos_label=[1, 2], random_state=0
    )
    assert eo.fit(X, y3, sensitive_features=groups).gap_names_ == ["recall[1](1) - recall[1](0)",
                                                                   "recall[2](1) - recall[2](0)"]  # fmt: skip


def test_not_a_skorch_net(biased_data):
    from sklearn.linear_model import LogisticRegression

    X, y, s = biased_data
    with pytest.raises(TypeError, match="skorch NeuralNetClassifier"):
        FairIFClassifier(LogisticRegression()).fit(X, y, sensitive_features=partial_groups(s, 400))


def test_both_annotated_sets_and_incomplete_constructor_set(biased_data):
    X, y, s = biased_data
    _expect(
        "use one of the two", X, y, partial_groups(s, 400), X_val=X[:10], y_val=y[:10], sensitive_val=s[:10]
    )
    _expect("all three of X_val, y_val and sensitive_val", X, y, sensitive_val=s[:10])


def test_all_rows_annotated_with_holdout(biased_data):
    X, y, s = biased_data
    _expect("leaves no training row", X, y, s)
    clf = _clf(holdout_annotated=False).fit(X, y, sensitive_features=s)
    assert clf.train_mask_.all()


def test_invalid_parameters(biased_data):
    X, y, s = biased_data
    _expect("'alpha' parameter", X, y, partial_groups(s, 400), alpha=0)
    _expect("'influence' parameter", X, y, partial_groups(s, 400), influence="magic")
    _expect("'target' parameter", X, y, partial_groups(s, 400), target="demographic")


def test_predict_checks_shape(biased_data):
    X, y, s = biased_data
    clf = _clf().fit(X, y, sensitive_features=partial_groups(s, 400))
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :4])


def test_reweight_equals_refitting_with_another_alpha(biased_data):
    X, y, s = biased_data
    groups = partial_groups(s, 400)
    weigher = FairIFWeigher(small_net(), alpha=0.1, random_state=0).fit(X, y, sensitive_features=groups)
    other = FairIFWeigher(small_net(), alpha=0.01, random_state=0).fit(X, y, sensitive_features=groups)
    weight, predicted = weigher.reweight(0.01)
    np.testing.assert_allclose(weight, other.sample_weight_)
    np.testing.assert_allclose(predicted, other.predicted_gaps_)


def test_weighted_net_classifier_trains_on_fairif_weights(biased_data):
    from fairif_sklearn import WeightedNetClassifier

    X, y, s = biased_data
    groups = partial_groups(s, 400)
    clf = FairIFClassifier(small_net(), retrain="scratch", tolerance=0.0, random_state=0)
    clf.fit(X, y, sensitive_features=groups)
    rows = clf.train_mask_
    # the paper's stage 2 retrains from scratch with the ERM fit's seed: the same seed reproduces it
    wrapped = WeightedNetClassifier(small_net(), random_state=0)
    wrapped.fit(X[rows], y[rows], sample_weight=clf.sample_weight_[rows])
    np.testing.assert_allclose(wrapped.predict_proba(X), clf.predict_proba(X), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        wrapped.fit(X, y, sample_weight=-np.ones(len(y)))


def test_memory_makes_a_grid_over_alpha_reuse_stage_one(biased_data, routing, tmp_path, monkeypatch):
    import fairif_sklearn._estimators._stage1 as stage1_module
    import fairif_sklearn._estimators._stage2 as rounds_module

    X, y, s = biased_data
    groups = partial_groups(s, 600, seed=3)
    calls = {"erm": 0, "weighted": 0}
    real_fit, real_stage2 = stage1_module.fit_net, rounds_module.train_stage2

    def counting_erm(*args, **kwargs):
        calls["erm"] += 1
        return real_fit(*args, **kwargs)

    def counting_stage2(*args, **kwargs):
        calls["weighted"] += 1
        return real_stage2(*args, **kwargs)

    # where the fits happen: ERM in stage 1, the weighted fit in the rounds
    monkeypatch.setattr(stage1_module, "fit_net", counting_erm)
    monkeypatch.setattr(rounds_module, "train_stage2", counting_stage2)

    def search(memory):
        return GridSearchCV(
            _clf(memory=memory, tolerance=0.0, max_rounds=1).set_fit_request(sensitive_features=True),
            {"alpha": [1.0, 0.1, 0.01]},
            scoring={"accuracy": "accuracy", "aod": aod_scorer},
            refit="accuracy",
            cv=KFold(2, shuffle=True, random_state=1),
        ).fit(X, y, sensitive_features=groups)

    plain = search(None)
    assert calls == {"erm": 2 * 3 + 1, "weighted": 2 * 3 + 1}
    calls.update(erm=0, weighted=0)
    cached = search(str(tmp_path / "cache"))
    assert calls == {"erm": 2 + 1, "weighted": 2 * 3 + 1}  # one ERM per fold (and the refit)
    for key in ("mean_test_accuracy", "mean_test_aod", "split0_test_aod"):
        np.testing.assert_array_equal(plain.cv_results_[key], cached.cv_results_[key])


def test_a_memory_cache_written_by_other_code_is_not_read(biased_data, tmp_path, monkeypatch):
    import fairif_sklearn._estimators._stage1 as stage1_module

    X, y, s = biased_data
    groups = partial_groups(s, 600, seed=3)
    calls = {"erm": 0, "influence": 0}
    real_fit, real_influence = stage1_module.fit_net, stage1_module.compute_influence
    digest = stage1_module.source_digest()
    assert len(digest) == 16 and digest == stage1_module.source_digest.__wrapped__()  # computed once

    def counting(name, real):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(stage1_module, "fit_net", counting("erm", real_fit))
    monkeypatch.setattr(stage1_module, "compute_influence", counting("influence", real_influence))
    cache = str(tmp_path / "cache")
    first = _clf(memory=cache).fit(X, y, sensitive_features=groups)
    again = _clf(memory=cache).fit(X, y, sensitive_features=groups)
    assert calls == {"erm": 1, "influence": 1}  # the second fit read both from the cache
    np.testing.assert_array_equal(first.influence_scores_, again.influence_scores_)
    # the package's code changed (joblib sees only the cached function's own): nothing is read back
    monkeypatch.setattr(stage1_module, "source_digest", lambda: "another version")
    _clf(memory=cache).fit(X, y, sensitive_features=groups)
    assert calls == {"erm": 2, "influence": 2}


@pytest.mark.parametrize("target, name", [("demographic_parity", "PPR"), ("accuracy_parity", "ACC")])
def test_demographic_and_accuracy_parity(biased_data, target, name, routing):
    from fairif_sklearn.metrics import ad_scorer, dpd_scorer

    X, y, s = biased_data
    groups = partial_groups(s, 400)
    clf = _clf(target=target, tolerance=0.0).fit(X, y, sensitive_features=groups)
    assert clf.gap_names_ == [f"{name}(1) - {name}(0)"] and clf.reweighted_
    assert abs(clf.final_gaps_[0]) < abs(clf.gaps_[0])  # the one gap moves toward zero
    scorer = dpd_scorer if target == "demographic_parity" else ad_scorer
    assert scorer(clf, X, y, sensitive_features=groups) <= 0
