"""The low-dimensional weight solves, in mean-one weights.

With influence scores ``a`` (shape (k, n)) of k functions of the annotated set
(gaps, or each (rate, group) cell's rate), training with weights ``w = 1 + u``
changes them by ``-(a @ u) / n`` to first order. Two forms:

* :func:`solve_fair_weights`, the default: the smallest change of weights that
  puts each gap in a band and (levelling up) keeps every cell's rate from falling
  by more than its noise; an inequality-constrained problem whose dual has two
  bounded variables per constraint (:func:`solve_weights_bounded`).
* :func:`solve_weights`, the paper's penalty form (``alpha``):

      minimise   ||d - (a @ u) / n||^2  +  alpha * ||u||^2 / n
      subject to u_i >= -1              (weights never negative)

  Its dual has k variables. For a dual vector ``c`` the primal solution is
  ``u_i = max(-1, (a_i . c) / alpha)``, and at the optimum ``c`` equals the
  remaining gap ``d - (a @ u) / n``. The dual is concave and piecewise quadratic;
  a damped Newton iteration solves it exactly in a handful of steps.

Scores are centred over the rows first. Because skorch divides each batch's
loss by the sum of its weights, only the weights' relative sizes matter, and
centred scores model exactly that (to first order): the returned weights are
normalised to mean one and the predicted gaps are those of the normalised weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class WeightSolution:
    """The result of :func:`solve_weights`.

    Attributes
    ----------
    sample_weight : ndarray of shape (n,)
        Non-negative weights with mean one.
    predicted_gaps : ndarray of shape (k,)
        The gaps to first order after training with ``sample_weight``.
    dual : ndarray of shape (k,)
    n_iter : int
    converged : bool
    n_clipped : int
        Rows whose weight is zero (the bound ``u_i >= -1`` is active).
    """

    sample_weight: np.ndarray
    predicted_gaps: np.ndarray
    dual: np.ndarray
    n_iter: int
    converged: bool
    n_clipped: int


def first_order(scores: np.ndarray, values: np.ndarray, change: np.ndarray) -> np.ndarray:
    """The values after a weight change ``change`` (mean zero), to first order: ``values - a @ change / n``
    with the scores centred over the rows."""
    a = np.asarray(scores, dtype=float)
    return values - (a - a.mean(axis=1, keepdims=True)) @ change / a.shape[1]


def _problem(scores, gaps, base) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scores centred over the rows (a weight change of mean zero moves nothing), the gaps,
    and the base weights (ones when None), as float arrays."""
    a = np.asarray(scores, dtype=float)
    a = a - a.mean(axis=1, keepdims=True)
    base = np.ones(a.shape[1]) if base is None else np.asarray(base, dtype=float)
    return a, np.asarray(gaps, dtype=float), base


def solve_weights(
    scores: np.ndarray,
    gaps: np.ndarray,
    alpha: float,
    *,
    base: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> WeightSolution:
    """Solve for mean-one, non-negative weights that close the gaps.

    With ``base`` (the weights the model was trained with, default one), the
    change ``u`` is added to them, ``w = base + u >= 0``.

    Parameters
    ----------
    scores : ndarray of shape (k, n)
        Influence scores ``a_{F,i}``.
    gaps : ndarray of shape (k,)
        Gaps ``d_F`` at the fitted model.
    alpha : float
        Strength of the penalty on ``||w - 1||^2 / n``; larger means weights
        closer to one and less of the gap closed.
    tol : float
        Stop when the dual gradient is below ``tol * (1 + ||d||)``.
    max_iter : int

    Returns
    -------
    WeightSolution
    """
    a, d, base = _problem(scores, gaps, base)
    k, n = a.shape
    lower = -base

    def primal(c):
        return np.maximum(lower, (c @ a) / alpha)

    def dual_value(c):
        t = c @ a
        free = t >= alpha * lower
        phi = np.where(free, -(t**2) / alpha, alpha * lower**2 - 2 * t * lower)
        return 2 * c @ d - c @ c + phi.sum() / n

    c = np.zeros(k)
    converged = False
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        u = primal(c)
        grad = d - c - a @ u / n  # half the dual gradient
        if np.linalg.norm(grad) <= tol * (1 + np.linalg.norm(d)):
            converged = True
            break
        free = (c @ a) >= alpha * lower
        hess = np.eye(k) + (a[:, free] @ a[:, free].T) / (n * alpha)
        step = np.linalg.solve(hess, grad)
        value, t = dual_value(c), 1.0
        while dual_value(c + t * step) < value + 0.25 * t * (grad @ step) and t > 1e-12:
            t /= 2
        c = c + t * step
    w = base + primal(c)
    w = w / w.mean()
    predicted = d - a @ (w - base) / n
    return WeightSolution(w, predicted, c, n_iter, converged, int(np.sum(w == 0)))


def solve_weights_bounded(
    scores: np.ndarray,
    values: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    base: np.ndarray | None = None,
    tol: float = 1e-9,
    max_iter: int = 500,
) -> WeightSolution:
    """The smallest weight change that puts linear functions of the rates within bounds.

    Solves, for mean-one, non-negative weights ``w = base + u`` (``base``: one by default),

        minimise   ||u||^2 / (2 n)
        subject to lower_j <= values_j - (a_j @ u) / n <= upper_j   for every row j,
                   sum(u) = 0,  w >= 0,

    where row ``j`` is any function of the annotated set whose influence scores are
    ``a_j`` (a gap, a group's rate, a mean of rates); a bound may be infinite. Its
    dual has two bounded variables per row (one per side) and one for the mean:
    ``u_i = max(-base_i, a_i . c + nu)``; the dual is concave and once
    differentiable, and L-BFGS-B solves it with every multiplier capped, an exact
    penalty that keeps unreachable bounds from sending it to infinity (the solution
    then comes as close as the cap allows, and ``converged`` is False). Rows
    already within their bounds give ``u = 0``: the base weights.

    Parameters
    ----------
    scores : ndarray of shape (m, n)
    values : ndarray of shape (m,)
        Each row's value at the fitted model.
    lower, upper : ndarray of shape (m,)
        Bounds on each row's value after reweighting (``-inf``/``inf`` for none).

    Returns
    -------
    WeightSolution
        ``predicted_gaps`` holds the rows' predicted values; ``converged`` says
        whether every bound is met.
    """
    from scipy.optimize import minimize

    a, f, base = _problem(scores, values, base)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    m, n = a.shape
    floor = -base
    if np.all((f >= lo) & (f <= hi)):
        return WeightSolution(base / base.mean(), f.copy(), np.zeros(m), 0, True, int(np.sum(base == 0)))
    # scale so that the dual variables are O(1): t = c @ a is the weight change itself
    scale = np.sqrt((a**2).mean(axis=1)).clip(min=1e-300)
    a_s, f_s = a / scale[:, None], f / scale
    hi_s, lo_s = np.where(np.isfinite(hi), hi, 0) / scale, np.where(np.isfinite(lo), lo, 0) / scale
    cap = 1e6  # in these units a multiplier of 1 moves the weights by about 1

    def negative_dual(z):
        p, q, nu = z[:m], z[m : 2 * m], z[-1]
        t = (p - q) @ a_s + nu
        free = t >= floor
        phi = np.where(free, 0.5 * t**2, t * floor - 0.5 * floor**2)
        value = (p - q) @ f_s - p @ hi_s + q @ lo_s - phi.sum() / n
        u = np.maximum(floor, t)
        g = f_s - a_s @ u / n  # the rows' values at u
        grad = np.concatenate([g - hi_s, lo_s - g, [-u.sum() / n]])
        return -value, -grad

    bounds = [(0.0, cap if np.isfinite(b) else 0.0) for b in (*hi, *lo)] + [(None, None)]
    res = minimize(
        negative_dual,
        np.zeros(2 * m + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "ftol": 1e-15, "gtol": tol},
    )
    z = res.x
    w = base + np.maximum(floor, (z[:m] - z[m : 2 * m]) @ a_s + z[-1])
    w = w / w.mean()
    predicted = f - a @ (w - base) / n
    # met: within the bounds up to a thousandth of the largest move asked for
    need = np.maximum(np.where(np.isfinite(lo), lo - f, 0), np.where(np.isfinite(hi), f - hi, 0))
    slack = 1e-3 * need.max() + 1e-9
    met = bool(np.all((predicted >= lo - slack) & (predicted <= hi + slack)))
    multipliers = (z[:m] - z[m : 2 * m]) / scale
    return WeightSolution(w, predicted, multipliers, int(res.nit), met, int(np.sum(w == 0)))


def solve_weights_within(
    scores: np.ndarray,
    gaps: np.ndarray,
    bound: np.ndarray,
    *,
    base: np.ndarray | None = None,
) -> WeightSolution:
    """The smallest weight change whose predicted gaps are within ``bound`` of zero.

    :func:`solve_weights_bounded` with ``|d_F - (a_F @ u) / n| <= bound_F``, in the
    spirit of fairlearn's ``difference_bound``.
    """
    b = np.asarray(bound, dtype=float)
    return solve_weights_bounded(scores, gaps, -b, b, base=base)


@dataclass
class FairSolution(WeightSolution):
    """A :class:`WeightSolution` of :func:`solve_fair_weights`, with what it did to the rates.

    Attributes
    ----------
    predicted_rates : ndarray of shape (n_cells,)
        Each (rate, group) cell's rate to first order after reweighting.
    closure : float
        The fraction of each chased gap's way to its band that the solution closes:
        the one asked for when every chased gap reaches it; less when levelling up
        (or holding the other gaps) left no solution that closes them all, and the
        solution closes what can be closed within the constraints.
    chased : ndarray of bool of shape (n_gaps,)
    """

    predicted_rates: np.ndarray | None = None
    closure: float = 1.0
    chased: np.ndarray | None = None


def gap_bounds(
    gaps: np.ndarray, threshold: np.ndarray, target: np.ndarray, closure: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each gap may end: ``(lower, upper, chased)``.

    A gap beyond its ``threshold`` is chased: it must end between zero and the near
    edge of its band (``target`` on its own side), never past zero towards the far
    edge; with ``closure`` below one, only that fraction of the way from where it is.
    A gap that is not chased is held: it may shrink towards zero, or grow on its own
    side as far as ``target``, but not past zero.
    """
    d = np.asarray(gaps, dtype=float)
    size = np.abs(d)
    chased = size > threshold
    near = size - closure * (size - np.minimum(target, size))
    # in the gap's own direction (positive = the side it is on): chased [0, near], held [0, max(size, target)]
    own_low = np.zeros(len(d))
    own_high = np.where(chased, near, np.maximum(size, target))
    positive = d >= 0
    lower = np.where(positive, own_low, -own_high)
    upper = np.where(positive, own_high, -own_low)
    return lower, upper, chased


def rate_floors(rates: np.ndarray, anchor: np.ndarray, slack) -> np.ndarray:
    """How low each rate may end when levelling up: its ``anchor`` (the ERM model's rate) less its
    ``slack`` (noise), or where it is now if that is lower already, so that rounds do not add up
    their slacks."""
    return np.minimum(rates, anchor - slack)


def solve_fair_weights(
    rate_scores: np.ndarray,
    rates: np.ndarray,
    gap_rows: np.ndarray,
    threshold: np.ndarray,
    target: np.ndarray,
    *,
    level_up: bool,
    rate_slack: np.ndarray | float = 0.0,
    anchor_rates: np.ndarray | None = None,
    closure: float = 1.0,
    base: np.ndarray | None = None,
    bisections: int = 12,
) -> FairSolution:
    """FairIF's weight solve: close the chased gaps, hold the others, and (optionally) level up.

    The gaps are ``gap_rows @ rates`` with ``rates`` the soft (rate, group) cells of
    the annotated set, whose influence scores are ``rate_scores``. The weights are the
    smallest change (:func:`solve_weights_bounded`) that puts every gap where
    :func:`gap_bounds` says, and with ``level_up`` keeps every cell's rate from
    falling by more than ``rate_slack`` (its noise), to first order: a gap then closes
    by raising the lower side. ``anchor_rates`` (a later round: the ERM model's rates)
    are what the slack is counted from: no cell may end below its anchor less its
    slack, or below where it is when it is already lower, so that rounds do not
    add up their slacks. When these
    constraints leave no solution, the largest ``closure`` (below the one asked for) that
    has one is found by bisection, so that what can be closed without levelling down is
    closed.

    Returns
    -------
    FairSolution
        ``predicted_gaps`` and ``predicted_rates`` to first order; ``converged`` is
        False only when even that failed.
    """
    R = np.asarray(rate_scores, dtype=float)
    r = np.asarray(rates, dtype=float)
    D = np.asarray(gap_rows, dtype=float)
    d = D @ r
    # levelling up: no (rate, group) cell may fall by more than its slack below its anchor (or below r)
    anchor = r if anchor_rates is None else np.asarray(anchor_rates, dtype=float)
    if level_up:
        extra, floors = np.eye(len(r)), rate_floors(r, anchor, rate_slack)
    else:
        extra, floors = np.zeros((0, len(r))), np.zeros(0)
    rows = np.vstack([D, extra])

    def attempt(closure):
        lo, hi, chased = gap_bounds(d, threshold, target, closure)
        lower = np.concatenate([lo, floors])
        upper = np.concatenate([hi, np.full(len(floors), np.inf)])
        return solve_weights_bounded(rows @ R, rows @ r, lower, upper, base=base), chased

    solution, chased = attempt(closure)
    if not solution.converged:  # no solution closes every chased gap: close as much as the constraints allow
        low, high, solution = 0.0, closure, attempt(0.0)[0]  # closure 0: the base weights meet every bound
        for _ in range(bisections):
            trial, _ = attempt(0.5 * (low + high))
            if trial.converged:
                solution, low = trial, 0.5 * (low + high)
            else:
                high = 0.5 * (low + high)
        closure = low
    base_w = np.ones(len(solution.sample_weight)) if base is None else np.asarray(base, dtype=float)
    predicted_rates = first_order(R, r, solution.sample_weight - base_w)
    return FairSolution(
        sample_weight=solution.sample_weight,
        predicted_gaps=D @ predicted_rates,
        dual=solution.dual,
        n_iter=solution.n_iter,
        converged=solution.converged,
        n_clipped=solution.n_clipped,
        predicted_rates=predicted_rates,
        closure=float(closure),
        chased=chased,
    )
