"""The k-dimensional weight solve, in mean-one weights.

With influence scores ``a`` (shape (k, n)) and gaps ``d`` (shape (k,)), training
with weights ``w = 1 + u`` changes the gaps by ``-(a @ u) / n`` to first order.
The solve is

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


def solve_weights_within(
    scores: np.ndarray,
    gaps: np.ndarray,
    bound: np.ndarray,
    *,
    base: np.ndarray | None = None,
    tol: float = 1e-9,
    max_iter: int = 500,
) -> WeightSolution:
    """The smallest weight change whose predicted gaps are within ``bound``.

    Solves, for mean-one, non-negative weights ``w = 1 + u``,

        minimise   ||u||^2 / (2 n)
        subject to |d_F - (a_F @ u) / n| <= bound_F   for every gap F,
                   sum(u) = 0,  w = base + u >= 0  (base: one by default),

    in the spirit of fairlearn's ``difference_bound``. Its dual has ``k + 1``
    variables (``c`` for the gaps, ``nu`` for the mean): ``u_i = max(-base_i,
    a_i . c + nu)``; the dual is concave and once differentiable, and L-BFGS-B solves it
    with ``|c|`` capped, an exact penalty that keeps an unreachable bound from
    sending ``c`` to infinity (the solution then closes as much as the cap
    allows, and ``converged`` is False). Gaps already within their bound give
    ``u = 0``: the base weights.

    Parameters
    ----------
    scores : ndarray of shape (k, n)
    gaps : ndarray of shape (k,)
    bound : ndarray of shape (k,)
        Non-negative bound on each gap after reweighting.

    Returns
    -------
    WeightSolution
    """
    from scipy.optimize import minimize

    a, d, base = _problem(scores, gaps, base)
    b = np.asarray(bound, dtype=float)
    k, n = a.shape
    lower = -base
    if np.all(np.abs(d) <= b):
        return WeightSolution(base / base.mean(), d.copy(), np.zeros(k), 0, True, int(np.sum(base == 0)))
    # scale so that the dual variables are O(1): t = c @ a is the weight change itself
    scale = np.sqrt((a**2).mean(axis=1)).clip(min=1e-300)
    a_s = a / scale[:, None]
    cap = 1e6  # in these units a multiplier of 1 moves the weights by about 1

    def negative_dual(z):
        cp, cm, nu = z[:k], z[k : 2 * k], z[-1]
        c = cp - cm
        t = c @ a_s + nu
        free = t >= lower
        phi = np.where(free, 0.5 * t**2, t * lower - 0.5 * lower**2)
        value = c @ (d / scale) - b / scale @ (cp + cm) - phi.sum() / n
        u = np.maximum(lower, t)
        grad_c = d / scale - a_s @ u / n
        grad_nu = -u.sum() / n
        grad = np.concatenate([grad_c - b / scale, -grad_c - b / scale, [grad_nu]])
        return -value, -grad

    bounds = [(0.0, cap)] * (2 * k) + [(None, None)]
    res = minimize(
        negative_dual,
        np.zeros(2 * k + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "ftol": 1e-15, "gtol": tol},
    )
    z = res.x
    t = (z[:k] - z[k : 2 * k]) @ a_s + z[-1]
    w = base + np.maximum(lower, t)
    w = w / w.mean()
    predicted = d - a @ (w - base) / n
    met = bool(np.all(np.abs(predicted) <= b * (1 + 1e-3) + 1e-9))
    return WeightSolution(w, predicted, z[:k] - z[k : 2 * k], int(res.nit), met, int(np.sum(w == 0)))
