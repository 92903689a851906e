"""Stage 1 of FairIF, up to the weight solve: gaps, their gradients, two solves,
and the influence scores of every training row."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches
from torch.func import jacrev

from .._rates import TARGETS
from ._curvature import CurvatureOperator, SolveInfo, solve_cg, solve_dense, subsample_rows
from ._gaps import gap_matrix, rate_counts, soft_rate_sums
from ._scores import influence_scores

METHODS = ("auto", "exact", "last_layer", "cg")
# "auto" uses the exact solve up to this many parameters, CG beyond
AUTO_EXACT_MAX_PARAMS = 2000


@dataclass
class InfluenceResult:
    """What stage 1 computed.

    Attributes
    ----------
    scores : ndarray of shape (n_gaps, n_train)
        ``a_{F,i}``: the derivative of gap ``F`` with respect to *down*-weighting
        row ``i`` by ``1/n``; up-weighting by ``u_i / n`` changes the gap by
        ``-a_{F,i} u_i / n`` to first order.
    gaps : ndarray of shape (n_gaps,)
        The soft-rate gaps on the annotated set at the fitted model.
    gap_names : list of str
    directions : tensor of shape (n_gaps, p)
        ``M^{-1} G_F``, the inverse-curvature times the gap gradients.
    param_names : list of str
        The parameters the influence was computed over.
    method : str
        The method actually used (``"auto"`` resolved).
    solve : SolveInfo
    n_curvature_rows : int
    """

    scores: np.ndarray
    gaps: np.ndarray
    gap_names: list[str]
    directions: torch.Tensor
    param_names: list[str]
    method: str
    solve: SolveInfo
    n_curvature_rows: int
    diagnostics: dict = field(default_factory=dict)


def resolve_method(method: str, model) -> str:
    """Resolve ``"auto"``: exact for small models, CG beyond."""
    if method != "auto":
        return method
    return "exact" if model.n_params() <= AUTO_EXACT_MAX_PARAMS else "cg"


def _rate_sums(model, X_val, y_val, g_val, n_groups, rates, temperature, names, batch_size, with_jacobian):
    """Soft rate sums over the annotated set and, optionally, their Jacobian."""
    sub = {k: model.params[k] for k in names}
    fixed = {k: v for k, v in model.params.items() if k not in sub}
    n_sums = len(rates) * n_groups
    sums = torch.zeros(n_sums, dtype=torch.float64, device=model.device)
    jac = None
    if with_jacobian:
        n_sub = sum(t.numel() for t in sub.values())
        jac = torch.zeros(n_sums, n_sub, dtype=torch.float64, device=model.device)
    with model.eval_mode():
        for rows in gen_batches(len(y_val), batch_size):
            x = model.inputs(X_val, rows)
            yb = model.targets(y_val, rows)
            gb = torch.as_tensor(g_val[rows], device=model.device)

            def batch_sums(s, x=x, yb=yb, gb=gb):
                proba = model.proba({**fixed, **s}, x)
                return soft_rate_sums(proba, yb, gb, n_groups, rates, temperature)

            with torch.no_grad():
                sums += batch_sums(sub).double()
            if with_jacobian:
                jac_b = jacrev(batch_sums)(sub)
                jac += torch.cat([jac_b[k].reshape(n_sums, -1) for k in sub], dim=1).double()
    return sums, jac


def gaps_and_gradients(model, X_val, y_val, g_val, group_names, target, temperature, names, batch_size):
    """The soft-rate gaps on the annotated set, their gradients and names.

    Returns arrays of shape (k,) and (k, p) (a float64 tensor) and a list of k names.
    """
    rates = TARGETS[target]
    n_groups = len(group_names)
    C, gap_names = gap_matrix(rate_counts(y_val, g_val, n_groups, rates), n_groups, rates, group_names)
    sums, jac = _rate_sums(model, X_val, y_val, g_val, n_groups, rates, temperature, names, batch_size, True)
    C_t = torch.as_tensor(C, dtype=torch.float64, device=model.device)
    return (C_t @ sums).cpu().numpy(), C_t @ jac, gap_names


def annotated_gaps(model, X_val, y_val, g_val, group_names, *, target, temperature, batch_size) -> np.ndarray:
    """The soft-rate gaps on the annotated set at the model's parameters, shape (k,)."""
    rates = TARGETS[target]
    n_groups = len(group_names)
    C, _ = gap_matrix(rate_counts(y_val, g_val, n_groups, rates), n_groups, rates, group_names)
    sums, _ = _rate_sums(model, X_val, y_val, g_val, n_groups, rates, temperature, [], batch_size, False)
    return C @ sums.cpu().numpy()


@dataclass(frozen=True)
class InfluenceSettings:
    """How stage 1 computes influence: the estimators' parameters of the same meaning.

    ``method`` is the estimators' ``influence``; the estimators document the rest.
    """

    target: str
    method: str
    curvature: str
    damping: float
    temperature: float
    curvature_subsample: int | float | None
    cg_tol: float
    cg_maxiter: int
    batch_size: int


def compute_influence(
    model,
    X_train,
    y_train: np.ndarray,
    X_val,
    y_val: np.ndarray,
    g_val: np.ndarray,
    group_names: list[str],
    settings: InfluenceSettings,
    *,
    random_state: np.random.RandomState,
    progress=lambda it, **kw: it,
) -> InfluenceResult:
    """Run stage 1 on a fitted model: gaps, two solves, influence scores.

    ``g_val`` holds group codes in ``range(len(group_names))``; ``y_val`` and
    ``y_train`` are encoded 0/1 targets. Raises when the solve failed (see
    :func:`check_solve`).
    """
    s = settings
    method = resolve_method(s.method, model)
    names = model.last_linear_names() if method == "last_layer" else list(model.params)
    gaps, G, gap_names = gaps_and_gradients(
        model, X_val, y_val, g_val, group_names, s.target, s.temperature, names, s.batch_size
    )
    rows = subsample_rows(len(y_train), s.curvature_subsample, random_state)
    op = CurvatureOperator(
        model,
        X_train,
        y_train,
        rows,
        names,
        curvature=s.curvature,
        damping=s.damping,
        batch_size=s.batch_size,
    )
    if method == "cg":
        V, info = solve_cg(op, G, tol=s.cg_tol, maxiter=s.cg_maxiter)
    else:
        V, info = solve_dense(op, G)
    check_solve(info, curvature=s.curvature, damping=s.damping, tol=s.cg_tol)
    scores = influence_scores(model, X_train, y_train, names, V, batch_size=s.batch_size, progress=progress)
    return InfluenceResult(
        scores=scores,
        gaps=gaps,
        gap_names=gap_names,
        directions=V,
        param_names=names,
        method=method,
        solve=info,
        n_curvature_rows=len(rows),
        diagnostics={
            "n_curvature_products": op.n_products,
            "gap_gradient_norm": torch.linalg.norm(G, dim=1).tolist(),
        },
    )


def _damping_advice(info: SolveInfo, curvature: str, damping: float) -> str:
    """What damping would make the damped curvature positive definite, and the other remedies."""
    advice = ""
    if info.min_eigenvalue is not None and info.min_eigenvalue <= 0:
        needed = damping - info.min_eigenvalue
        if info.solver == "dense":
            advice = f"damping above {needed:.3g} makes it positive definite"
        else:  # CG saw part of the spectrum: its smallest Rayleigh quotient bounds the eigenvalue from above
            advice = f"damping must be above {needed:.3g} at the very least to make it positive definite"
    if curvature == "hessian":
        advice += (", or " if advice else "") + "use curvature='gauss_newton' (never indefinite)"
    elif advice:
        advice += (
            " (the Gauss-Newton matrix is never indefinite: a non-positive eigenvalue means it is "
            "singular up to rounding, which any damping well above that, e.g. 1e-3, removes)"
        )
    return advice


def check_solve(info: SolveInfo, *, curvature: str, damping: float, tol: float) -> None:
    """Raise when the inverse-curvature solve failed; warn when it is approximate.

    A solve fails when the damped curvature is not positive definite (the exact
    solve) or leaves a relative residual above 1, i.e. worse than the zero
    solution (CG); it is approximate when CG stopped above ``tol``.
    """
    residuals = np.round(info.residual, 4).tolist()
    if info.solver == "dense" and info.negative_curvature:
        raise ValueError(
            f"The damped {curvature} is not positive definite (smallest eigenvalue "
            f"{info.min_eigenvalue:.3g} with damping={damping:g}): "
            f"{_damping_advice(info, curvature, damping)}."
        )
    met = (
        f", negative curvature met (Rayleigh quotient {info.min_eigenvalue:.3g})"
        if info.negative_curvature
        else ""
    )
    if info.solver == "cg" and not np.all(np.array(info.residual) <= 1):
        remedies = _damping_advice(info, curvature, damping) or "increase damping"
        raise ValueError(
            f"The CG solve failed: relative residuals {residuals}{met}, worse than the zero solution. "
            f"The influence scores would be meaningless: {remedies}."
        )
    if not info.converged:
        remedies = "increase cg_maxiter or damping"
        advice = _damping_advice(info, curvature, damping)
        warnings.warn(
            f"The CG solve stopped at relative residuals {residuals} (tolerance {tol:g}){met}; the "
            f"influence scores are approximate: {remedies}{'; ' + advice if advice else ''}.",
            ConvergenceWarning,
            stacklevel=4,
        )
