"""``later_temperature``: a round after the first measures the soft rates at the temperature chosen
afresh where the previous round ended, and everything that round is judged by (its gaps, their bands,
the ERM rates its allowances count from) is measured again at it."""

import numpy as np
import pytest

from fairif_sklearn import FairIFClassifier
from fairif_sklearn._estimators._base import noise_threshold
from fairif_sklearn._estimators._stage2 import Yardstick
from fairif_sklearn._influence import AnnotatedGaps
from fairif_sklearn._influence._gaps import responsive_temperature
from fairif_sklearn._rates import target_rates
from fairif_sklearn._skorch import NetFunctions

from ._helpers import small_net


def _confident_net():
    """A net confident enough on the shifted data that its responsive temperature is above one."""
    return small_net(hidden=(16,), max_epochs=12)


def _fit(data, **params):
    X, y, groups = data
    params = {"random_state": 0, "max_rounds": 2, "tolerance": 0.002, **params}
    return FairIFClassifier(_confident_net(), **params).fit(X, y, sensitive_features=groups)


def _annotated_gaps(data, model, temperature):
    """The annotated rows' equalized-odds soft rates at ``temperature``, built from scratch."""
    X, y, groups = data
    rows = ~np.isnan(groups)
    return AnnotatedGaps(
        X[rows].astype(np.float32), y[rows], groups[rows].astype(int), ["0.0", "1.0"],
        rates=target_rates("equalized_odds", np.array([0, 1])), temperature=temperature, batch_size=1024,
    )  # fmt: skip


@pytest.fixture(scope="module")
def fits(shifted_annotated):
    data = shifted_annotated
    return data, _fit(data), _fit(data, later_temperature="same"), _fit(data, max_rounds=1)


def test_the_second_round_starts_where_the_first_ended_at_the_temperature_chosen_there(fits):
    data, auto, same, first = fits
    assert [r["temperature"] for r in same.rounds_] == [1.0, 1.0]
    assert auto.rounds_[0]["temperature"] == 1.0 and auto.temperature_ == 1.0
    # the first round is the same fit whatever the later temperature
    np.testing.assert_array_equal(auto.rounds_[0]["final_gaps"], first.rounds_[0]["final_gaps"])
    X, y, groups = data
    rows = ~np.isnan(groups)
    later = auto.rounds_[1]["temperature"]
    log_proba = np.log(first.estimator_.predict_proba(X[rows]))
    assert later == responsive_temperature(log_proba, y[rows]) > 1.0
    # its gaps and rates are the first round's model measured at that temperature
    rates, _ = _annotated_gaps(data, None, later).rates_and_errors(NetFunctions(first.estimator_))
    np.testing.assert_allclose(auto.rounds_[1]["rates"], rates, rtol=1e-6)
    assert not np.allclose(auto.rounds_[1]["gaps"], same.rounds_[1]["gaps"])
    assert auto.rounds_[1]["step"] > 0
    # the round's own figures stay at its temperature; the fitted final_ attributes at the first's
    final, stderr = _annotated_gaps(data, None, 1.0).rates_and_errors(NetFunctions(auto.estimator_))
    np.testing.assert_allclose(auto.final_group_rates_, final, rtol=1e-6)
    np.testing.assert_allclose(auto.final_group_rates_stderr_, stderr, rtol=1e-6)
    np.testing.assert_allclose(auto.final_gaps_, [final[1] - final[0], final[3] - final[2]], atol=1e-6)


def test_a_number_is_the_fit_that_auto_resolved_to(fits):
    data, auto, _, _ = fits
    fixed = _fit(data, later_temperature=auto.rounds_[1]["temperature"])
    np.testing.assert_array_equal(fixed.sample_weight_, auto.sample_weight_)
    np.testing.assert_array_equal(fixed.final_gaps_, auto.final_gaps_)
    np.testing.assert_array_equal(fixed.predict_proba(data[0]), auto.predict_proba(data[0]))


def test_the_yardstick_is_measured_again_at_a_new_temperature(fits):
    data, _, same, _ = fits
    erm = same.erm_estimator_
    gaps_of = _annotated_gaps(data, erm, 1.0)
    rates, stderr = gaps_of.rates_and_errors(NetFunctions(erm))
    gaps_stderr = gaps_of.gap_errors(stderr)
    bands = FairIFClassifier(small_net())._bounds  # tolerance='auto'
    start = Yardstick(gaps_of, rates, stderr, gaps_stderr, *bands(gaps_stderr))
    assert start.at_later_temperature("same", erm, erm, bands) is start
    assert start.at_later_temperature(1.0, erm, erm, bands) is start
    hot = start.at_later_temperature(3.0, erm, erm, bands)
    expected, expected_stderr = _annotated_gaps(data, erm, 3.0).rates_and_errors(NetFunctions(erm))
    np.testing.assert_allclose(hot.erm_rates, expected, rtol=1e-6)
    np.testing.assert_allclose(hot.rates_stderr, expected_stderr, rtol=1e-6)
    # the bands from the gaps' standard errors at the new temperature, as stage 1 draws them
    np.testing.assert_allclose(hot.gaps_stderr, np.sqrt(hot.gaps_of.D**2 @ expected_stderr**2))
    np.testing.assert_allclose(hot.threshold, np.maximum(noise_threshold(2) * hot.gaps_stderr, 1e-6))
    np.testing.assert_allclose(hot.target, hot.gaps_stderr)
    assert not np.allclose(hot.erm_rates, start.erm_rates)


def test_a_later_temperature_that_is_not_a_positive_number_auto_or_same_is_refused(shifted_annotated):
    X, y, groups = shifted_annotated
    for bad in ("hot", 0.0, -2.0):
        with pytest.raises(ValueError, match="later_temperature"):
            FairIFClassifier(small_net(), later_temperature=bad).fit(X, y, sensitive_features=groups)


def test_predicted_attributes_stay_on_the_scale_of_gaps_and_final_gaps(fits):
    # predicted_gaps_ and predicted_group_rates_ are the last prediction at temperature_, comparable with
    # gaps_ and final_gaps_: with a later round at another temperature, the first round's; at the same
    # temperature, the last round's (each round's own prediction stays in rounds_)
    _, auto, same, _ = fits
    np.testing.assert_array_equal(auto.predicted_gaps_, auto.rounds_[0]["predicted_gaps"])
    np.testing.assert_array_equal(auto.predicted_group_rates_, auto.rounds_[0]["predicted_rates"])
    np.testing.assert_array_equal(same.predicted_gaps_, same.rounds_[1]["predicted_gaps"])
    for clf in (auto, same):  # levelling up, to first order, against the ERM rates of the same scale
        assert np.all(clf.predicted_group_rates_ >= clf.group_rates_ - clf.group_rates_stderr_ - 1e-6)


def test_the_gaps_display_labels_a_round_by_temperature_only_where_it_changed(fits):
    # a second round at another temperature is drawn from its own start (tests/test_inspection.py);
    # at the first round's temperature the display is as before
    pytest.importorskip("matplotlib")
    from fairif_sklearn.inspection import GapsDisplay

    _, _, same, _ = fits
    display = GapsDisplay(same.gap_names_, same.gaps_, same.gaps_threshold_, same.rounds_)
    labels = [s[0] for s in display._series("gaps")]
    assert labels == ["ERM", "round 1: predicted", "round 1: after stage 2", "round 2: predicted",
                      "round 2: after stage 2"]  # fmt: skip
