"""Stage 1 of FairIF, up to the weight solve: gaps, their gradients, two solves,
and the influence scores of every training row."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import jacrev

from ._curvature import CurvatureOperator, SolveInfo, solve_cg, solve_dense, subsample_rows
from ._rates import TARGETS, gap_matrix, rate_counts, soft_rate_sums
from ._scores import influence_scores
from ._trees import batches, take

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


def last_layer_names(model) -> list[str]:
    """The trainable parameter names of the module's last :class:`torch.nn.Linear`."""
    linears = [(name, m) for name, m in model._wrapper.named_modules() if isinstance(m, torch.nn.Linear)]
    for name, module in reversed(linears):
        names = [f"{name}.{p}" for p, t in module.named_parameters() if t.requires_grad]
        if names:
            return names
    raise ValueError("influence='last_layer' needs a module whose last layer is a torch.nn.Linear.")


def resolve_method(method: str, model) -> str:
    """Resolve ``"auto"``: exact for small models, CG beyond."""
    if method not in METHODS:
        raise ValueError(f"influence must be one of {METHODS}, got {method!r}.")
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
        for rows in batches(len(y_val), batch_size):
            x = model.as_tensor(take(X_val, rows))
            yb = model.target_tensor(y_val[rows])
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


def gaps_and_gradients(model, X_val, y_val, g_val, group_names, *, target, temperature, names, batch_size):
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


def compute_influence(
    model,
    X_train,
    y_train: np.ndarray,
    X_val,
    y_val: np.ndarray,
    g_val: np.ndarray,
    group_names: list[str],
    *,
    target: str = "equalized_odds",
    method: str = "auto",
    curvature: str = "hessian",
    damping: float = 1e-3,
    temperature: float = 1.0,
    hessian_subsample: int | float | None = None,
    cg_tol: float = 1e-4,
    cg_maxiter: int = 100,
    batch_size: int = 1024,
    random_state: np.random.RandomState | None = None,
    progress=lambda it, **kw: it,
) -> InfluenceResult:
    """Run stage 1 on a fitted model: gaps, two solves, influence scores.

    ``g_val`` holds group codes in ``range(len(group_names))``; ``y_val`` and
    ``y_train`` are encoded 0/1 targets.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {tuple(TARGETS)}, got {target!r}.")
    method = resolve_method(method, model)
    names = last_layer_names(model) if method == "last_layer" else list(model.params)
    gaps, G, gap_names = gaps_and_gradients(
        model,
        X_val,
        y_val,
        g_val,
        group_names,
        target=target,
        temperature=temperature,
        names=names,
        batch_size=batch_size,
    )
    rng = random_state if random_state is not None else np.random.RandomState()
    rows = subsample_rows(len(y_train), hessian_subsample, rng)
    op = CurvatureOperator(
        model,
        take(X_train, rows),
        y_train[rows],
        names,
        curvature=curvature,
        damping=damping,
        batch_size=batch_size,
    )
    if method == "cg":
        V, info = solve_cg(op, G, tol=cg_tol, maxiter=cg_maxiter)
    else:
        V, info = solve_dense(op, G)
        if info.negative_curvature:
            raise ValueError(
                f"The damped {curvature} is not positive definite (smallest eigenvalue "
                f"{info.min_eigenvalue:.3g}); increase `damping` or use curvature='gauss_newton'."
            )
    scores = influence_scores(model, X_train, y_train, names, V, batch_size=batch_size, progress=progress)
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
