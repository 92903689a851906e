"""``temperature="auto"``: the soft rates' temperature chosen at the ERM model where the soft
true-class probabilities respond most to the log-probabilities, against its closed form, and carried
from stage 1 to stage 2 as the number it resolved to."""

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit, log_expit, logsumexp, softmax

from fairif_sklearn import FairIFClassifier, FairIFClassifierCV
from fairif_sklearn._influence._gaps import TEMPERATURE_GRID, responsive_temperature

from ._helpers import small_net


def _binary_log_proba(margins):
    """Log-probabilities of two classes whose log-odds for class 1 are ``margins``."""
    margins = np.asarray(margins, dtype=float)
    return np.column_stack([log_expit(-margins), log_expit(margins)])


@pytest.mark.parametrize("margin", [3.0, 6.0, 8.0, 12.0])
def test_one_confident_row_takes_the_closed_form_temperature(margin):
    # one binary row of log-odds d: p = sigmoid(d / tau), and p (1 - p) / tau = u sigmoid'(u) / d with
    # u = d / tau, largest where u tanh(u / 2) = 1; so tau* = d / u*, rounded to the grid
    u_star = brentq(lambda u: u * np.tanh(u / 2) - 1, 0.5, 3.0)
    tau_star = margin / u_star
    y = np.array([1, 1, 1])
    tau = responsive_temperature(_binary_log_proba([margin] * 3), y)
    assert tau in TEMPERATURE_GRID
    step = TEMPERATURE_GRID[1] / TEMPERATURE_GRID[0]
    assert tau_star / step <= tau <= tau_star * step
    # brute force: the mean derivative on a fine grid around the choice is never larger by more than
    # the grid's resolution allows
    fine = np.linspace(1.0, 16.0, 3001)
    value = lambda t: expit(margin / t) * expit(-margin / t) / t  # noqa: E731
    assert value(tau) >= value(fine).max() * (1 - 1e-2)


def test_a_model_that_is_not_confident_keeps_its_own_probabilities():
    # log-odds within +-2: the derivative is largest below 1, so the grid's lowest point
    rng = np.random.RandomState(0)
    margins = rng.uniform(-2, 2, 500)
    y = (rng.uniform(size=500) < expit(margins)).astype(int)
    assert responsive_temperature(_binary_log_proba(margins), y) == 1.0


def test_weights_choose_which_rows_count():
    # half the rows confident (log-odds 10), half not (0.5): with zero weight on the unsure half the
    # choice is the confident rows' alone, and the other way round
    margins = np.r_[np.full(50, 10.0), np.full(50, 0.5)]
    y = np.ones(100, int)
    confident_only = responsive_temperature(_binary_log_proba(margins[:50]), y[:50])
    w = np.r_[np.ones(50), np.zeros(50)]
    assert responsive_temperature(_binary_log_proba(margins), y, w) == confident_only > 3
    assert responsive_temperature(_binary_log_proba(margins), y, 1 - w) == 1.0


def test_several_classes_against_a_brute_force_search():
    # three classes, most rows confident, a tenth of them wrong, weighted: the grid point whose weighted
    # mean of p (1 - p) / tau (p the softmax at tau of the true class) is largest, by brute force
    rng = np.random.RandomState(0)
    favoured = rng.randint(0, 3, 300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), favoured] += rng.uniform(2, 12, 300)
    log_proba = logits - logsumexp(logits, axis=1, keepdims=True)
    y = np.where(rng.uniform(size=300) < 0.9, favoured, rng.randint(0, 3, 300))
    w = rng.uniform(size=300)

    def mean_derivative(tau):
        p = softmax(log_proba / tau, axis=1)[np.arange(300), y]
        return np.sum(w * p * (1 - p)) / w.sum() / tau

    expected = TEMPERATURE_GRID[np.argmax([mean_derivative(t) for t in TEMPERATURE_GRID])]
    assert responsive_temperature(log_proba, y, w) == expected > 1


def test_auto_is_the_fit_at_the_temperature_it_resolved_to(shifted_annotated):
    X, y, groups = shifted_annotated
    auto = FairIFClassifier(small_net(), random_state=0, temperature="auto").fit(
        X, y, sensitive_features=groups
    )
    annotated = ~np.isnan(groups)
    log_proba = np.log(auto.erm_estimator_.predict_proba(X[annotated]))
    assert auto.temperature_ == responsive_temperature(log_proba, y[annotated])
    assert auto.temperature == "auto"  # the parameter is left as given
    fixed = FairIFClassifier(small_net(), random_state=0, temperature=auto.temperature_)
    fixed.fit(X, y, sensitive_features=groups)
    assert fixed.temperature_ == auto.temperature_
    # stage 1 and stage 2 both ran at the resolved temperature: the same gaps, weights and model
    np.testing.assert_array_equal(auto.gaps_, fixed.gaps_)
    np.testing.assert_array_equal(auto.sample_weight_, fixed.sample_weight_)
    np.testing.assert_array_equal(auto.final_gaps_, fixed.final_gaps_)
    np.testing.assert_array_equal(auto.predict_proba(X), fixed.predict_proba(X))
    default = FairIFClassifier(small_net(), random_state=0).fit(X, y, sensitive_features=groups)
    assert default.temperature_ == 1.0


def test_the_cv_path_records_an_auto_temperature_as_resolved_per_fit(shifted_annotated, tmp_path):
    X, y, groups = shifted_annotated
    inner = FairIFClassifier(small_net(), random_state=0, temperature="auto")
    cv = FairIFClassifierCV(inner, max_rounds=1, closures=(1.0,), memory=str(tmp_path))
    cv.fit(X, y, sensitive_features=groups)
    assert np.isnan(cv.cv_results_["temperature"]).all()
    assert cv.best_estimator_.temperature_ in TEMPERATURE_GRID


def test_a_temperature_that_is_neither_a_positive_number_nor_auto_is_refused(shifted_annotated):
    X, y, groups = shifted_annotated
    for bad in ("hot", 0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            FairIFClassifier(small_net(), temperature=bad).fit(X, y, sensitive_features=groups)
