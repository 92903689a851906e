"""The k-dimensional dual weight solve against the n-dimensional problem solved by brute force."""

import numpy as np
import pytest
from scipy.optimize import minimize

from fairif_sklearn._weights import solve_weights, solve_weights_within


def brute_force(scores, gaps, alpha):
    """Minimise the primal over all n weights with L-BFGS-B, in the same mean-one form."""
    a = scores - scores.mean(axis=1, keepdims=True)
    n = a.shape[1]

    def objective(u):
        r = gaps - a @ u / n
        return r @ r + alpha * u @ u / n, -2 * a.T @ r / n + 2 * alpha * u / n

    res = minimize(
        objective,
        np.zeros(n),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-1, None)] * n,
        options={"maxiter": 20000, "ftol": 1e-16, "gtol": 1e-12},
    )
    w = 1 + res.x
    return w / w.mean(), res.fun


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("alpha", [10.0, 0.1, 0.001])
def test_dual_solve_equals_brute_force(seed, alpha):
    rng = np.random.RandomState(seed)
    k, n = rng.choice([1, 2, 4]), 300
    scores = rng.standard_t(3, size=(k, n)) * rng.uniform(0.5, 5)
    gaps = rng.normal(scale=0.1, size=k)
    sol = solve_weights(scores, gaps, alpha)
    w_ref, _ = brute_force(scores, gaps, alpha)
    assert sol.converged
    np.testing.assert_allclose(sol.sample_weight, w_ref, atol=2e-4 * max(1, np.abs(w_ref).max()))
    assert sol.sample_weight.min() >= 0
    assert sol.sample_weight.mean() == pytest.approx(1.0)


def test_unconstrained_solution_is_closed_form():
    rng = np.random.RandomState(0)
    scores = rng.normal(size=(2, 1000))
    gaps = np.array([0.01, -0.02])
    alpha = 1.0  # weights stay far from zero: the bound is inactive
    sol = solve_weights(scores, gaps, alpha)
    a = scores - scores.mean(axis=1, keepdims=True)
    n = a.shape[1]
    A = a / n
    c = np.linalg.solve(A @ A.T + alpha / n * np.eye(2), gaps)
    np.testing.assert_allclose(sol.sample_weight, 1 + A.T @ c, rtol=1e-8)
    assert sol.n_clipped == 0
    np.testing.assert_allclose(sol.predicted_gaps, gaps - a @ (sol.sample_weight - 1) / n)


def test_alpha_trades_gap_against_weight_spread():
    rng = np.random.RandomState(1)
    scores = rng.normal(size=(2, 500))
    gaps = np.array([0.05, 0.03])
    sols = [solve_weights(scores, gaps, alpha) for alpha in (1.0, 0.1, 0.01, 0.001)]
    remaining = [np.linalg.norm(s.predicted_gaps) for s in sols]
    spread = [np.std(s.sample_weight) for s in sols]
    assert remaining == sorted(remaining, reverse=True)
    assert spread == sorted(spread)
    assert remaining[-1] < 0.05 * np.linalg.norm(gaps)


def test_scale_free_in_n():
    # duplicating every row leaves the weights (per row) unchanged
    rng = np.random.RandomState(2)
    scores = rng.normal(size=(2, 200))
    gaps = np.array([0.05, -0.03])
    w1 = solve_weights(scores, gaps, 0.05).sample_weight
    w2 = solve_weights(np.tile(scores, 5), gaps, 0.05).sample_weight
    np.testing.assert_allclose(np.tile(w1, 5), w2, rtol=1e-8)


def test_zero_gaps_give_unit_weights():
    sol = solve_weights(np.random.RandomState(3).normal(size=(2, 50)), np.zeros(2), 0.1)
    np.testing.assert_allclose(sol.sample_weight, 1.0)


def brute_force_within(scores, gaps, bound):
    """The bound-form primal over all n weights, solved by SLSQP."""
    a = scores - scores.mean(axis=1, keepdims=True)
    k, n = a.shape
    constraints = [{"type": "eq", "fun": lambda u: u.sum()}]
    for F in range(k):
        constraints += [
            {"type": "ineq", "fun": lambda u, F=F: bound[F] - (gaps[F] - a[F] @ u / n)},
            {"type": "ineq", "fun": lambda u, F=F: bound[F] + (gaps[F] - a[F] @ u / n)},
        ]
    res = minimize(
        lambda u: (u @ u / (2 * n), u / n),
        np.zeros(n),
        jac=True,
        method="SLSQP",
        constraints=constraints,
        bounds=[(-1, None)] * n,
        options={"maxiter": 500, "ftol": 1e-14},
    )
    assert res.success, res.message
    return 1 + res.x


@pytest.mark.parametrize("seed", range(6))
def test_bound_solve_equals_brute_force_and_meets_the_bound(seed):
    rng = np.random.RandomState(seed)
    k, n = rng.choice([1, 2, 4]), 300
    scores = rng.standard_t(3, size=(k, n)) * rng.uniform(0.5, 5)
    gaps = rng.normal(scale=0.1, size=k)
    bound = np.abs(gaps) * rng.uniform(0, 0.6, size=k)
    sol = solve_weights_within(scores, gaps, bound)
    assert sol.converged
    np.testing.assert_allclose(sol.sample_weight, brute_force_within(scores, gaps, bound), atol=1e-5)
    # met to first order, tight where the gap was beyond its bound: no weight change is wasted
    assert np.all(np.abs(sol.predicted_gaps) <= bound * (1 + 1e-4) + 1e-12)
    np.testing.assert_allclose(np.abs(sol.predicted_gaps), bound, rtol=1e-4, atol=1e-10)
    assert sol.sample_weight.min() >= 0 and sol.sample_weight.mean() == pytest.approx(1.0)


def test_gaps_within_their_bound_leave_unit_weights():
    rng = np.random.RandomState(0)
    scores = rng.normal(size=(2, 200))
    sol = solve_weights_within(scores, np.array([0.01, -0.02]), np.array([0.02, 0.03]))
    np.testing.assert_array_equal(sol.sample_weight, np.ones(200))
    np.testing.assert_array_equal(sol.predicted_gaps, [0.01, -0.02])


def test_unreachable_bound_is_reported():
    # one row carries all the influence: down-weighting it to zero moves the gap by 1/n only
    scores = np.zeros((1, 100))
    scores[0, 0] = 1.0
    sol = solve_weights_within(scores, np.array([-0.5]), np.array([0.0]))
    assert not sol.converged
    assert sol.predicted_gaps[0] == pytest.approx(-0.5 + 0.01, abs=1e-6)  # as far as it can go
    assert sol.sample_weight.min() >= 0
