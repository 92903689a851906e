"""Levelling up: the bounded weight solve against a generic QP solver, planted examples, the realised
check after stage 2, and the per-group rates a fit reports."""

import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import Bounds, LinearConstraint, minimize

from fairif_sklearn import FairIFClassifier
from fairif_sklearn._estimators._stage2 import RealisedCheck, settle
from fairif_sklearn._skorch import interpolate_net
from fairif_sklearn._weights import gap_bounds, solve_fair_weights, solve_weights_bounded

from ._helpers import partial_groups, small_net

# two groups, two rates (TPR, TNR), cells in the order TPR(0), TPR(1), TNR(0), TNR(1)
GAP_ROWS = np.array([[-1.0, 1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 1.0]])


def qp_reference(scores, values, lower, upper):
    """The primal over all n weights by a generic QP solver (trust-constr): the smallest mean-one,
    non-negative weight change that puts ``values - a @ u / n`` within the bounds."""
    a = scores - scores.mean(axis=1, keepdims=True)
    n = a.shape[1]
    constraints = [
        LinearConstraint(-a / n, lower - values, upper - values),
        LinearConstraint(np.ones((1, n)), 0, 0),
    ]
    res = minimize(
        lambda u: (u @ u / (2 * n), u / n),
        np.zeros(n),
        jac=True,
        hess=lambda u: np.eye(n) / n,
        method="trust-constr",
        constraints=constraints,
        bounds=Bounds(-1, np.inf),
        options={"maxiter": 5000, "gtol": 1e-12, "xtol": 1e-12},
    )
    assert res.status in (1, 2), res.message
    return 1 + res.x


@pytest.mark.parametrize("seed", range(3))
def test_bounded_solve_equals_a_generic_qp_solver(seed):
    rng = np.random.RandomState(seed)
    m, n = rng.choice([2, 3, 5]), 60
    scores = rng.standard_t(4, size=(m, n)) * rng.uniform(0.05, 0.3)  # weight changes of order 0.1 to 1
    values = rng.normal(scale=0.1, size=m)
    # two-sided bounds that each value must move down into, one upper bound alone, and one lower
    # bound alone that is already met
    lower = values - np.abs(values) * rng.uniform(0.6, 1.5, size=m)
    upper = values - np.abs(values) * rng.uniform(0.1, 0.5, size=m)
    lower[0], upper[-1] = -np.inf, np.inf
    sol = solve_weights_bounded(scores, values, lower, upper)
    assert sol.converged
    change = qp_reference(scores, values, lower, upper) - 1
    np.testing.assert_allclose(sol.sample_weight - 1, change, atol=1e-3 * np.abs(change).max() + 1e-7)
    assert np.all(sol.predicted_gaps >= lower - 1e-6) and np.all(sol.predicted_gaps <= upper + 1e-6)
    assert sol.sample_weight.min() >= 0 and sol.sample_weight.mean() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("level_up", [True, False])
def test_fair_solve_equals_the_qp_with_its_constraints(seed, level_up):
    rng = np.random.RandomState(seed)
    n = 60
    rate_scores = rng.standard_t(4, size=(4, n)) * 0.3
    rates = np.array([0.55, 0.70, 0.90, 0.80]) + rng.normal(scale=0.01, size=4)
    gaps = GAP_ROWS @ rates
    threshold, target = np.array([0.05, 0.2]), np.array([0.02, 0.03])  # the TPR gap chased, the TNR gap held
    sol = solve_fair_weights(rate_scores, rates, GAP_ROWS, threshold, target, level_up=level_up)
    lo, hi, chased = gap_bounds(gaps, threshold, target)
    assert chased.tolist() == [True, False]
    rows, lower, upper = GAP_ROWS, lo, hi
    if level_up:  # every cell at or above where it is
        rows = np.vstack([GAP_ROWS, np.eye(4)])
        lower, upper = np.concatenate([lo, rates]), np.concatenate([hi, np.full(4, np.inf)])
    change = qp_reference(rows @ rate_scores, rows @ rates, lower, upper) - 1
    assert sol.closure == 1
    np.testing.assert_allclose(sol.sample_weight - 1, change, atol=1e-3 * np.abs(change).max() + 1e-7)
    np.testing.assert_allclose(sol.predicted_gaps, GAP_ROWS @ sol.predicted_rates)
    # the chased gap ends between zero and the near edge of its band, never past zero
    assert 0 - 1e-9 <= sol.predicted_gaps[0] <= target[0] + 1e-6
    # the held gap neither grows beyond max(|gap|, band) nor crosses zero
    assert 0 - 1e-9 <= -sol.predicted_gaps[1] <= max(abs(gaps[1]), target[1]) + 1e-6


def planted(n=400, seed=0):
    """One rate, two groups: group 1's rate (0.8) is cheap to move, group 0's (0.6) expensive, and
    the rows that raise group 0's rate also raise group 1's a little. The cheapest way to close the
    gap is to lower group 1's rate: levelling down."""
    rng = np.random.RandomState(seed)
    low = rng.normal(size=n) * 0.3
    high = rng.normal(size=n) * 3.0 + 0.2 * low
    return np.vstack([low, high]), np.array([0.6, 0.8]), np.array([[-1.0, 1.0]])


def test_levelling_up_where_the_unconstrained_solve_levels_down():
    scores, rates, rows = planted()
    threshold, target = np.array([0.05]), np.array([0.01])
    down = solve_fair_weights(scores, rates, rows, threshold, target, level_up=False)
    up = solve_fair_weights(scores, rates, rows, threshold, target, level_up=True)
    # both close the gap to the near edge of its band
    np.testing.assert_allclose(down.predicted_gaps, [0.01], atol=1e-5)
    np.testing.assert_allclose(up.predicted_gaps, [0.01], atol=1e-5)
    # the unconstrained one mostly lowers the better-off group; levelling up raises the lower one
    assert down.predicted_rates[1] < rates[1] - 0.1
    assert up.predicted_rates[1] >= rates[1] - 1e-6
    assert up.predicted_rates[0] >= rates[0] + 0.19 - 1e-5
    assert np.std(up.sample_weight) > np.std(down.sample_weight)  # it costs a larger change of weights


def test_rate_slack_lets_a_rate_fall_by_its_noise_and_no_more():
    scores, rates, rows = planted()
    slack = np.array([0.0, 0.02])
    up = solve_fair_weights(
        scores, rates, rows, np.array([0.05]), np.array([0.01]), level_up=True, rate_slack=slack
    )
    strict = solve_fair_weights(scores, rates, rows, np.array([0.05]), np.array([0.01]), level_up=True)
    np.testing.assert_allclose(
        up.predicted_rates[1], rates[1] - 0.02, atol=1e-5
    )  # the cheap side used up to it
    assert np.std(up.sample_weight) < np.std(strict.sample_weight)


def test_a_later_round_counts_the_slack_from_the_erm_rates_not_from_where_it_starts():
    scores, rates, rows = planted()
    slack = np.array([0.0, 0.02])

    def solve(**anchor):
        return solve_fair_weights(
            scores, rates, rows, np.array([0.05]), np.array([0.01]), level_up=True, rate_slack=slack, **anchor
        )

    # round 1 left group 1's rate 0.015 below its ERM value (0.815), within its 0.02 of noise: a
    # second round may take it down 0.005 more, not another 0.02
    later = solve(anchor_rates=np.array([0.6, 0.815]))
    np.testing.assert_allclose(later.predicted_rates[1], 0.795, atol=1e-5)
    # a rate already below its anchor less its slack may not fall further, and need not rise
    below = solve(anchor_rates=np.array([0.6, 0.85]))
    assert below.predicted_rates[1] >= 0.8 - 1e-6
    # the ERM round itself (anchor = rates) is the plain slack
    np.testing.assert_allclose(solve(anchor_rates=rates).sample_weight, solve().sample_weight)


def test_no_solution_that_levels_up_closes_what_it_can_and_says_so():
    # every row moves both groups' rates alike: the gap cannot close without lowering group 1
    rng = np.random.RandomState(1)
    base = rng.normal(size=400)
    scores = np.vstack([base, base * 1.0])
    rates, rows = np.array([0.6, 0.8]), np.array([[-1.0, 1.0]])
    up = solve_fair_weights(scores, rates, rows, np.array([0.05]), np.array([0.01]), level_up=True)
    assert up.closure < 0.05  # nothing can close
    assert np.all(up.predicted_rates >= rates - 1e-6)
    assert up.predicted_gaps[0] == pytest.approx(0.2, abs=0.01)


def test_partial_closure_when_levelling_up_can_do_part_of_it():
    # raising group 0 also raises group 1 at half the rate, and one row carries all the weight
    rng = np.random.RandomState(2)
    a = np.abs(rng.normal(size=300))
    a[0] = 0.0
    scores = np.vstack([-a, -0.5 * a])  # up-weighting any row raises both rates (score sign: -a u / n)
    rates, rows = np.array([0.6, 0.8]), np.array([[-1.0, 1.0]])
    up = solve_fair_weights(scores, rates, rows, np.array([0.05]), np.array([0.0]), level_up=True)
    assert np.all(up.predicted_rates >= rates - 1e-6)
    assert 0 < up.closure <= 1
    assert up.predicted_gaps[0] < 0.2


def test_gap_bounds():
    lo, hi, chased = gap_bounds(np.array([0.3, -0.3, 0.01, -0.01]), np.full(4, 0.1), np.full(4, 0.05))
    assert chased.tolist() == [True, True, False, False]
    np.testing.assert_allclose(lo, [0.0, -0.05, 0.0, -0.05])
    np.testing.assert_allclose(hi, [0.05, 0.0, 0.05, 0.0])
    lo, hi, _ = gap_bounds(np.array([0.3]), np.array([0.1]), np.array([0.05]), closure=0.5)
    np.testing.assert_allclose([lo[0], hi[0]], [0.0, 0.175])


def test_interpolate_net_moves_parameters_and_batchnorm_statistics_on_the_segment():
    from skorch import NeuralNetClassifier

    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    X = np.random.RandomState(0).normal(size=(64, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    kw = dict(criterion=torch.nn.CrossEntropyLoss, max_epochs=1, train_split=None, verbose=0)
    start = NeuralNetClassifier(module, **kw).fit(X, y)
    end = interpolate_net(start, start, 1.0)  # a copy, trained on
    end.partial_fit(X * 3, y)
    half = interpolate_net(start, end, 0.5)
    for name, value in half.module_.state_dict().items():
        a, b = start.module_.state_dict()[name], end.module_.state_dict()[name]
        if value.is_floating_point():
            torch.testing.assert_close(value, (a + b) / 2)
    assert not torch.equal(start.module_[1].running_mean, end.module_[1].running_mean)


class _LinearRates:
    """Rates that are a linear function of the nets' first bias: stands in for the annotated set."""

    def __init__(self, slope):
        self.slope = slope

    def rates_of(self, model):
        b = float(next(iter(model.params.values())).flatten()[0])
        return np.array([0.6, 0.8]) + self.slope * b

    def rates_and_errors(self, model):
        return self.rates_of(model), np.full(2, 0.01)


def _two_nets():
    net = small_net(n_features=2, max_epochs=1)
    X = np.random.RandomState(0).normal(size=(50, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    start = net.fit(X, y)
    end = interpolate_net(start, start, 1.0)
    with torch.no_grad():
        for p in start.module_.parameters():
            first = p
            break
        for p in end.module_.parameters():
            p.view(-1)[0] = first.view(-1)[0] + 1.0
            break
    return start, end


def test_settle_shortens_a_fine_tune_that_overshoots_and_rejects_one_that_only_widens():
    start, end = _two_nets()
    b0 = next(start.module_.parameters()).view(-1)[0].item()
    rows = np.array([[-1.0, 1.0]])

    class Overshoot(_LinearRates):
        def rates_of(self, model):  # the gap 0.2 falls by 0.5 per unit of step: -0.3 at the full step
            b = float(next(iter(model.params.values())).flatten()[0]) - b0
            return np.array([0.6 + 0.25 * b, 0.8 - 0.25 * b])

    start_rates = np.array([0.6, 0.8])
    chased = np.array([True])
    check = RealisedCheck(rows, start_rates, np.array([0.01]), np.full(2, 0.01), chased, 2, level_up=False)
    step, net, rates, stderr, full = settle(start, end, Overshoot(0), check, segment=True)
    assert step == 0.5 and np.isclose(rows @ full, -0.3) and abs(rows @ rates) < 0.2 + 0.01
    np.testing.assert_array_equal(stderr, [0.01, 0.01])  # read with the rates, at the step taken
    # levelling up: past the crossing group 1 is the lowest, and it falls below group 0's start
    check_up = RealisedCheck(rows, start_rates, np.array([0.01]), np.full(2, 0.01), chased, 2, level_up=True)
    assert check_up.passes(np.array([0.65, 0.75])) and not check_up.passes(np.array([0.65, 0.58]))
    assert not check_up.passes(np.array([0.58, 0.6]))  # the lower side fell beyond its noise
    step, *_ = settle(start, end, Overshoot(0), check_up, segment=True)
    assert step == 0.5

    # a later round is judged against the ERM rates: group 0 (the lower side) started this round at
    # 0.6, 0.008 below its ERM rate, so it may fall 0.002 more, not another 0.01
    anchored = RealisedCheck(
        rows, start_rates, np.array([0.01]), np.full(2, 0.01), chased, 2, level_up=True,
        anchor_rates=np.array([0.608, 0.8]),
    )  # fmt: skip
    assert anchored.passes(np.array([0.599, 0.7])) and not anchored.passes(np.array([0.595, 0.7]))
    assert check_up.passes(np.array([0.595, 0.7]))  # the round's own start allows the full 0.01
    # a gap may widen by its noise (0.01) from where the round starts (0.2), and no further than its
    # ERM size plus that noise: at ERM 0.205, the start caps it at 0.21; at ERM 0.198 (an earlier
    # round widened it within its noise), 0.208
    wider = RealisedCheck(
        rows, start_rates, np.array([0.01]), np.full(2, 0.01), chased, 2, level_up=False,
        anchor_rates=np.array([0.6, 0.805]),
    )  # fmt: skip
    assert wider.passes(np.array([0.6, 0.809])) and not wider.passes(np.array([0.6, 0.812]))
    narrower = RealisedCheck(
        rows, start_rates, np.array([0.01]), np.full(2, 0.01), chased, 2, level_up=False,
        anchor_rates=np.array([0.6, 0.798]),
    )  # fmt: skip
    assert narrower.passes(np.array([0.6, 0.807])) and not narrower.passes(np.array([0.6, 0.809]))
    # a fit from scratch is not on the segment: accepted or rejected whole
    step, net, rates, stderr, _ = settle(start, end, Overshoot(0), check, segment=False)
    assert step == 0.0 and net is start and rates is None and stderr is None  # the caller's stand


def test_fit_reports_per_group_rates_and_levels_up(biased_data):
    X, y, s = biased_data
    groups = partial_groups(s, 500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fits = {
            lev: FairIFClassifier(small_net(), levelling=lev, tolerance=0.0, random_state=0).fit(
                X, y, sensitive_features=groups
            )
            for lev in ("up", "any")
        }
    for clf in fits.values():
        assert clf.rate_names_ == ["TPR(0)", "TPR(1)", "TNR(0)", "TNR(1)"]
        np.testing.assert_allclose(clf.gaps_, GAP_ROWS @ clf.group_rates_, atol=1e-10)
        np.testing.assert_allclose(clf.predicted_gaps_, GAP_ROWS @ clf.predicted_group_rates_, atol=1e-10)
        np.testing.assert_allclose(clf.final_gaps_, GAP_ROWS @ clf.final_group_rates_, atol=1e-10)
        assert clf.group_rates_stderr_.shape == clf.final_group_rates_stderr_.shape == (4,)
        assert np.all(clf.group_rates_stderr_ > 0)
        for r in clf.rounds_:
            assert 0 <= r["step"] <= 1 and 0 <= r["closure"] <= 1
    up = fits["up"]
    # to first order none falls by more than its standard error below ERM's rate, in any round (or
    # below where a round starts, if an earlier one left it lower)
    erm, se = up.group_rates_, up.group_rates_stderr_
    assert np.all(up.rounds_[0]["predicted_rates"] >= erm - se - 1e-6)
    for r in up.rounds_:
        assert np.all(r["predicted_rates"] >= np.minimum(r["rates"], erm - se) - 1e-6)
    if up.reweighted_:  # and after the fine-tune the lowest group's rates do not fall beyond noise
        for start in (0, 2):
            cells = slice(start, start + 2)
            lowest = start + np.argmin(up.group_rates_[cells])
            floor = up.group_rates_[lowest] - up.group_rates_stderr_[lowest]
            assert up.final_group_rates_[cells].min() >= floor


def test_a_partial_closure_is_said(biased_data, monkeypatch):
    import fairif_sklearn._estimators._stage2 as stage2

    real = stage2.solve_fair_weights

    def half_way(*args, **kwargs):  # as when levelling up leaves no weights that close every gap
        return real(*args, **{**kwargs, "closure": 0.5})

    monkeypatch.setattr(stage2, "solve_fair_weights", half_way)
    X, y, s = biased_data
    with pytest.warns(UserWarning, match="close 50% of the way.*levelling='any'"):
        clf = FairIFClassifier(small_net(), tolerance=0.0, random_state=0).fit(
            X, y, sensitive_features=partial_groups(s, 500)
        )
    assert clf.rounds_[0]["closure"] == 0.5


def test_every_round_counts_the_rates_slack_from_the_erm_model(biased_data, monkeypatch):
    from fairif_sklearn._estimators import _stage2 as stage2

    real, seen = stage2.solve_fair_weights, []

    def recording(rate_scores, rates, *args, **kwargs):
        seen.append((np.array(rates), np.array(kwargs["anchor_rates"])))
        return real(rate_scores, rates, *args, **kwargs)

    monkeypatch.setattr(stage2, "solve_fair_weights", recording)
    X, y, s = biased_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        clf = FairIFClassifier(small_net(), tolerance=0.0, max_rounds=2, random_state=0).fit(
            X, y, sensitive_features=partial_groups(s, 500)
        )
    assert len(clf.rounds_) == len(seen) == 2
    erm = clf.group_rates_
    for _, anchor in seen:
        np.testing.assert_array_equal(anchor, erm)
    np.testing.assert_allclose(seen[1][0], clf.rounds_[0]["final_rates"])
    assert not np.array_equal(seen[1][0], erm)  # the second round starts elsewhere, anchored at ERM
