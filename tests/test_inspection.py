"""The displays draw, and what they draw is the fitted estimator's numbers."""

import matplotlib
import numpy as np
import pytest

from fairif_sklearn import FairIFClassifier, FairIFClassifierCV
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.inspection import GapsDisplay, TradeoffDisplay, WeightsDisplay

from ._helpers import small_net

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def fitted():
    X, y, s = make_biased_classification(2500, bias="group_shift", random_state=3)
    groups = np.where(np.arange(len(y)) < 800, s, np.nan)
    clf = FairIFClassifier(small_net(), max_rounds=2, tolerance=0.0, random_state=0)
    return clf.fit(X, y, sensitive_features=groups), X, y, s, groups


def _heights(ax):
    return [p.get_height() for p in ax.patches if hasattr(p, "get_height")]


def test_gaps_display_carries_the_gaps(fitted):
    clf, *_ = fitted
    display = GapsDisplay.from_estimator(clf)
    np.testing.assert_array_equal(display.gaps, clf.gaps_)
    np.testing.assert_array_equal(display.threshold, clf.gaps_threshold_)
    heights = _heights(display.ax_)
    # the second round ran at the temperature chosen where the first ended (later_temperature="auto"):
    # it is drawn from its own start, on its own scale
    first, later = (r["temperature"] for r in clf.rounds_)
    assert later != first
    expected = [clf.gaps_, clf.rounds_[0]["predicted_gaps"], clf.rounds_[0]["final_gaps"]]
    expected += [clf.rounds_[1][k] for k in ("gaps", "predicted_gaps", "final_gaps")]
    np.testing.assert_allclose(heights[: 2 * len(expected)], np.concatenate(expected))
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    second = f"round 2 (temperature {later:.3g})"
    assert labels == [
        "ERM",
        "round 1: predicted",
        "round 1: after stage 2",
        f"{second}: start",
        f"{second}: predicted",
        f"{second}: after stage 2",
    ]


def test_gaps_display_shows_how_each_gap_closed_by_group_rates(fitted):
    clf, *_ = fitted
    display = GapsDisplay.from_estimator(clf, kind="rates")
    heights = _heights(display.ax_)
    expected = [clf.group_rates_, clf.rounds_[0]["predicted_rates"], clf.rounds_[0]["final_rates"]]
    expected += [clf.rounds_[1][k] for k in ("rates", "predicted_rates", "final_rates")]  # its own scale
    np.testing.assert_allclose(heights[: 4 * len(expected)], np.concatenate(expected))
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == clf.rate_names_
    # error bars: one standard error at ERM and after the last round (at that round's temperature)
    bars = [c for c in display.ax_.containers if getattr(c, "errorbar", None) is not None]
    assert len(bars) == 2
    np.testing.assert_allclose(display.rates_stderr, clf.group_rates_stderr_)
    np.testing.assert_allclose(display.final_rates_stderr, clf.final_group_rates_stderr_)
    last = display._series("rates")[-1]
    np.testing.assert_array_equal(last[2], clf.rounds_[1]["final_rates_stderr"])
    with pytest.raises(ValueError, match="kind must be"):
        display.plot(kind="cells")


def test_weights_display_by_class_and_group(fitted):
    clf, X, y, s, groups = fitted
    display = WeightsDisplay.from_estimator(clf, y, sensitive_features=np.where(clf.train_mask_, s, np.nan))
    np.testing.assert_array_equal(display.weights, clf.sample_weight_[clf.train_mask_])
    assert set(display.labels) == {f"class {c}, group {g}" for c in (0, 1) for g in (0, 1)}
    means = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    cell = display.labels == "class 1, group 1"
    assert f"class 1, group 1 (mean {display.weights[cell].mean():.2f})" in means
    with pytest.raises(ValueError, match=r"y has 10 rows, but the estimator was fitted on 2500"):
        WeightsDisplay.from_estimator(clf, y[:10])


@pytest.mark.slow
def test_tradeoff_display_from_cv_and_from_a_search(fitted):
    clf, X, y, s, groups = fitted
    cv = FairIFClassifierCV(FairIFClassifier(small_net(), random_state=0), max_rounds=1, closures=(0.5, 1))
    cv.fit(X, y, sensitive_features=groups)
    display = TradeoffDisplay.from_estimator(cv)
    np.testing.assert_array_equal(display.gap, cv.cv_results_["gap"])
    labels = ["ERM", "1 round, closure 0.5", "1 round, closure 1"]
    labels[cv.best_index_] += " (chosen)"
    assert display.labels == labels
    results = {"mean_test_aod": [-0.1, -0.05], "std_test_aod": [0.01, 0.02], "param_alpha": [1.0, 0.1],
               "mean_test_accuracy": [0.9, 0.88]}  # fmt: skip
    display = TradeoffDisplay.from_cv_results(results, param="alpha")
    np.testing.assert_array_equal(display.gap, [0.1, 0.05])
    assert display.labels == ["alpha=1.0", "alpha=0.1"] and display.ax_.get_xlabel().startswith("AOD")


def test_tradeoff_display_of_a_single_fit_says_what_it_draws(fitted):
    # a fitted FairIFClassifier is one point, not a path: the error says so (it was "not fitted yet")
    clf = fitted[0]
    with pytest.raises(TypeError, match=r"draws the path of a FairIFClassifierCV, got FairIFClassifier.*"
                       r"from_cv_results"):  # fmt: skip
        TradeoffDisplay.from_estimator(clf)


def test_tradeoff_display_from_cv_results_names_what_it_needs(fitted):
    # an estimator, or a FairIFClassifierCV's own cv_results_, were a TypeError / KeyError from inside
    clf = fitted[0]
    with pytest.raises(
        TypeError, match=r"must be a search's cv_results_ dict, got FairIFClassifier.*from_estimator"
    ):
        TradeoffDisplay.from_cv_results(clf, param="alpha")
    own = {"params": [{}, {"closure": 1.0}], "gap": [0.05, 0.03], "accuracy": [0.93, 0.92]}
    with pytest.raises(
        ValueError, match=r"no 'mean_test_aod', 'std_test_aod', 'mean_test_accuracy', 'param_alpha'"
    ):
        TradeoffDisplay.from_cv_results(own, param="alpha")
