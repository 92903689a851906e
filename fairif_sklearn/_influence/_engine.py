"""Stage 1 of FairIF, up to the weight solve: the (rate, group) cells' rates and their gradients, one
inverse-curvature solve per cell, and the influence scores of every training row."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._curvature import (
    CurvatureOperator,
    SolveInfo,
    solve_cg,
    solve_cg_auto_damping,
    solve_dense,
    subsample_rows,
)
from ._gaps import AnnotatedGaps
from ._scores import auto_method, influence_scores

METHODS = ("auto", "exact", "last_layer", "cg")
# "auto" uses the exact solve up to this many parameters, CG beyond: the dense matrix costs one
# curvature product per parameter (assembled 256 columns per vmapped pass), CG about ten per
# gap; at 1474 parameters (an MLP 20-64-2) the exact solve took 20x CG's time
AUTO_EXACT_MAX_PARAMS = 256
# damping="auto": this fraction of the curvature's largest eigenvalue, found by block Lanczos (at
# most this many steps). With CG on the Gauss-Newton matrix (the default) those steps start from the
# cells' rate gradients on the curvature rows and are CG's first iterations too
# (solve_cg_auto_damping); otherwise they use a block of this many random vectors, on at most this
# many of the curvature rows (all of them when their Gauss-Newton factors are kept)
AUTO_DAMPING_FRACTION = 0.02
AUTO_DAMPING_STEPS = 4
AUTO_DAMPING_BLOCK = 4
AUTO_DAMPING_ROWS = 512
# curvature_subsample="auto": the curvature is estimated on this many training rows, and on
# fewer on nets with convolutions, whose products come from per-sample factors (a row's factors
# cost about two of its gradients; see the performance page)
AUTO_CURVATURE_ROWS = 5000
AUTO_CURVATURE_ROWS_FACTORS = 1000


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
    rate_scores : ndarray of shape (n_cells, n_train)
        The same for each (rate, group) cell's soft rate; ``scores = gap_rows @ rate_scores``.
    rates : ndarray of shape (n_cells,)
        The cells' soft rates; ``gaps = gap_rows @ rates``.
    rates_stderr : ndarray of shape (n_cells,)
        Their standard errors over the draw of the annotated rows.
    gaps_stderr : ndarray of shape (n_gaps,)
        The gaps' standard errors.
    rate_names : list of str
    gap_rows : ndarray of shape (n_gaps, n_cells)
    directions : tensor of shape (n_cells, p)
        ``M^{-1} G_c``, the inverse-curvature times the cells' rate gradients.
    param_names : list of str
        The parameters the influence was computed over.
    method : str
        The method actually used (``"auto"`` resolved).
    damping : float
        The damping used (``"auto"`` resolved).
    solve : SolveInfo
    n_curvature_rows : int
    temperature : float
        The soft rates' temperature (``"auto"`` resolved).
    """

    scores: np.ndarray
    gaps: np.ndarray
    gap_names: list[str]
    rate_scores: np.ndarray
    rates: np.ndarray
    rates_stderr: np.ndarray
    gaps_stderr: np.ndarray
    rate_names: list[str]
    gap_rows: np.ndarray
    directions: torch.Tensor
    param_names: list[str]
    method: str
    damping: float
    solve: SolveInfo
    n_curvature_rows: int
    temperature: float
    diagnostics: dict = field(default_factory=dict)


def resolve_method(method: str, model) -> str:
    """Resolve ``"auto"``: exact for small models, CG beyond."""
    if method != "auto":
        return method
    return "exact" if model.n_params() <= AUTO_EXACT_MAX_PARAMS else "cg"


@dataclass(frozen=True)
class InfluenceSettings:
    """How stage 1 computes influence: the estimators' parameters of the same meaning.

    ``method`` is the estimators' ``influence``; the estimators document the rest.
    ``damping="auto"`` is ``AUTO_DAMPING_FRACTION`` times the undamped
    curvature's largest eigenvalue: a damping relative to the scale of the
    curvature, large enough that the fine-tune reaches what influence predicts
    (see the user guide). ``curvature_subsample="auto"`` is
    ``AUTO_CURVATURE_ROWS`` rows (``AUTO_CURVATURE_ROWS_FACTORS`` on a net with
    convolutions, whose Gauss-Newton products come from per-sample factors).
    ``largest_eigenvalue``: estimate the curvature's largest eigenvalue with a
    given damping too (``damping="auto"`` always does), for the fine-tune's step
    with ``finetune_solver="nesterov"`` (the caller resolves the solver on the fitted net).
    """

    method: str
    curvature: str
    damping: float | str
    curvature_subsample: int | float | None
    cg_tol: float
    cg_maxiter: int
    batch_size: int
    largest_eigenvalue: bool = False


def compute_influence(
    model,
    X_train,
    y_train: np.ndarray,
    gaps_of: AnnotatedGaps,
    settings: InfluenceSettings,
    *,
    random_state: np.random.RandomState,
    progress=lambda it, **kw: it,
    sample_weight: np.ndarray | None = None,
) -> InfluenceResult:
    """Run stage 1 on a fitted model: rates and gaps (and their standard errors), one solve per (rate,
    group) cell, influence scores.

    ``y_train`` holds 0/1 classes; ``gaps_of`` measures the gaps on the annotated
    set (its ``temperature="auto"`` resolved here, at the model); ``sample_weight``
    (mean one) weighs the training rows' loss, whose curvature is inverted. Raises
    when the solve failed (see :func:`check_solve`).
    """
    s = settings
    gaps_of = gaps_of.at_temperature_of(model)
    method = resolve_method(s.method, model)
    names = model.last_linear_names() if method == "last_layer" else list(model.params)
    rates, G, rates_stderr = gaps_of.rates_and_gradients(model, names)
    check_finite("the annotated set's rates and their gradients", rates, G, damping=s.damping)
    # conv nets: Gauss-Newton products from per-sample factors, as the scores use per-sample gradients
    scores_method = auto_method(model, names)
    products = "factors" if scores_method == "per_sample" else "jvp"
    subsample = s.curvature_subsample
    if subsample == "auto":
        factored = products == "factors" and s.curvature == "gauss_newton"
        subsample = AUTO_CURVATURE_ROWS_FACTORS if factored else AUTO_CURVATURE_ROWS
    rows = subsample_rows(len(y_train), subsample, random_state)
    diagnostics = {"curvature_products": products if s.curvature == "gauss_newton" else "jvp"}
    damping = s.damping
    common = dict(
        curvature=s.curvature, batch_size=s.batch_size, products=products, sample_weight=sample_weight
    )
    op = CurvatureOperator(model, X_train, y_train, rows, names, damping=0.0, **common)
    own_lanczos = damping == "auto" and method == "cg" and s.curvature == "gauss_newton"
    estimate_top = damping == "auto" or s.largest_eigenvalue
    if own_lanczos:  # CG's first iterations are the damping's Lanczos steps: no pass of its own
        V, info, top = solve_cg_auto_damping(
            op, G, fraction=AUTO_DAMPING_FRACTION, n_steps=AUTO_DAMPING_STEPS, tol=s.cg_tol,
            maxiter=s.cg_maxiter,
        )  # fmt: skip
        spent = 0
    elif estimate_top:  # the dense solves, the Hessian, or a given damping: random-start Lanczos
        spectrum = op
        if op.products == "jvp" and len(rows) > AUTO_DAMPING_ROWS:
            few = np.sort(random_state.choice(rows, AUTO_DAMPING_ROWS, replace=False))
            spectrum = CurvatureOperator(model, X_train, y_train, few, names, damping=0.0, **common)
        top = spectrum.largest_eigenvalue(AUTO_DAMPING_STEPS, AUTO_DAMPING_BLOCK, random_state)
        spent, op.n_products = spectrum.n_products, 0
        if spectrum is not op:
            spectrum.release()
    if estimate_top:
        diagnostics.update(largest_eigenvalue=top, n_damping_products=spent)
    if damping == "auto":
        damping = AUTO_DAMPING_FRACTION * abs(top)
        check_finite("the curvature's largest eigenvalue (for damping='auto')", top, damping=damping)
    if not own_lanczos:
        op.shift = model.proximal_strength(damping)
        V, info = (
            solve_cg(op, G, tol=s.cg_tol, maxiter=s.cg_maxiter) if method == "cg" else solve_dense(op, G)
        )
    op.release()  # before the scores: the kept products are not needed again
    if not (info.solver == "dense" and info.negative_curvature):  # check_solve says what that needs
        check_finite("the inverse-curvature solve", V, damping=damping)
    check_solve(info, curvature=s.curvature, damping=damping, tol=s.cg_tol)
    rate_scores = influence_scores(
        model, X_train, y_train, names, V, batch_size=s.batch_size, progress=progress,
        method=scores_method, info=diagnostics,
    )  # fmt: skip
    check_finite("the influence scores", rate_scores, damping=damping)
    D = gaps_of.D
    return InfluenceResult(
        scores=D @ rate_scores,
        gaps=D @ rates,
        gap_names=gaps_of.names,
        rate_scores=rate_scores,
        rates=rates,
        rates_stderr=rates_stderr,
        gaps_stderr=gaps_of.gap_errors(rates_stderr),
        rate_names=gaps_of.rate_names,
        gap_rows=D,
        directions=V,
        param_names=names,
        method=method,
        damping=float(damping),
        solve=info,
        n_curvature_rows=len(rows),
        temperature=float(gaps_of.temperature),
        diagnostics={
            **diagnostics,
            "n_curvature_products": op.n_products,
            "gap_gradient_norm": torch.linalg.norm(
                torch.as_tensor(D, dtype=G.dtype, device=G.device) @ G, dim=1
            ).tolist(),
        },
    )


def check_finite(what: str, *values, damping) -> None:
    """Raise :class:`FloatingPointError` unless every value is finite: influence computed from NaN or
    infinite values would give the weight solve meaningless scores."""
    for value in values:
        value = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        if not np.all(np.isfinite(value)):
            at = f" (damping {damping:.3g})" if isinstance(damping, float | int) else ""
            raise FloatingPointError(
                f"Influence (stage 1) is not finite: NaN or infinite values in {what} at the fitted "
                f"net{at}. Try more damping (a larger damping), curvature='gauss_newton' (never "
                "indefinite), or a smaller learning rate for the net (a net whose outputs or losses "
                "overflow has no finite influence)."
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
