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


def solve_weights(
    scores: np.ndarray, gaps: np.ndarray, alpha: float, *, tol: float = 1e-10, max_iter: int = 100
) -> WeightSolution:
    """Solve for mean-one, non-negative weights that close the gaps.

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
    a = np.asarray(scores, dtype=float)
    d = np.asarray(gaps, dtype=float)
    k, n = a.shape
    a = a - a.mean(axis=1, keepdims=True)

    def primal(c):
        return np.maximum(-1.0, (c @ a) / alpha)

    def dual_value(c):
        t = c @ a
        free = t >= -alpha
        phi = np.where(free, -(t**2) / alpha, alpha + 2 * t)
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
        free = (c @ a) >= -alpha
        hess = np.eye(k) + (a[:, free] @ a[:, free].T) / (n * alpha)
        step = np.linalg.solve(hess, grad)
        value, t = dual_value(c), 1.0
        while dual_value(c + t * step) < value + 0.25 * t * (grad @ step) and t > 1e-12:
            t /= 2
        c = c + t * step
    u = primal(c)
    w = 1.0 + u
    w = w / w.mean()
    predicted = d - a @ (w - 1.0) / n
    return WeightSolution(w, predicted, c, n_iter, converged, int(np.sum(w == 0)))
