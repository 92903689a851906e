"""Kronecker-factored inverse curvature (K-FAC, EK-FAC) with curvlinops: evaluated, not adopted.

The estimators do not use this module: measured against the exact solve
(``benchmarks/curvature.py``, the performance page) its directions are 3 to 13
times too long along the rate gradients (the cross-layer blocks it drops), its
scores' ranking disagrees with the exact solve's on a ResNet (Spearman 0.25 to
0.81), and it cost 4 to 9 ERM epochs there, more than the exact Gauss-Newton
solve on per-sample factors that stage 1 now uses on conv nets. It is kept
for that benchmark and its tests (``pip install fairif-sklearn[kfac]``).

:func:`solve_kronecker` approximates ``V = B (GGN + shift I)^{-1}`` for the k
right-hand sides in the rows of ``B`` without a single Gauss-Newton product: it
builds the Kronecker-factored approximation of the generalised Gauss-Newton
matrix of the mean training loss with ``curvlinops``
(:class:`curvlinops.KFACLinearOperator` or :class:`curvlinops.EKFACLinearOperator`,
one pass over the rows, two for EK-FAC) and applies the exact inverse of the
*damped approximation* (:class:`curvlinops.KFACInverseLinearOperator` with
``use_exact_damping=True``, i.e. ``(A (x) G + shift I)^{-1}`` by the factors'
eigendecompositions, not the factored-damping heuristic).

What is approximated
--------------------
Per layer (``torch.nn.Linear`` and ``torch.nn.Conv2d``), the GGN block of the
weight is ``A (x) G``: ``A`` the uncentred covariance of the layer's inputs
(for ``Conv2d`` its patches averaged over the positions of each row,
"KFAC-reduce" of Eschenhagen et al. 2023, by default), ``G`` that of the
gradients of the loss with respect to the layer's outputs, backpropagated from
the columns of a square root of the loss's Hessian in the outputs (the
"type-2" factors: the exact GGN's Kronecker factors, no sampling; two backward
passes for two classes). Cross-layer blocks are dropped. EK-FAC keeps K-FAC's
eigenbasis and replaces its eigenvalues by the exact GGN's diagonal in that
basis (a second pass over the rows, per-sample projected gradients). For a
network whose only trainable layer is one ``Linear`` without bias, on
type-2 factors, K-FAC is the exact GGN when there is one row (or when the
rows share their inputs, or their output Hessians); in general both are
approximations whose quality the benchmark ``benchmarks/curvature.py`` measures.

Parameters outside ``Linear`` / ``Conv2d``
------------------------------------------
BatchNorm weights and biases (and any other trainable parameter the library
cannot factor) get, by default (``others="diagonal"``), the exact diagonal of
the GGN restricted to them (from per-sample Jacobians of the outputs in those
parameters, :mod:`torch.func`; one more pass over the rows): ``V_o = B_o /
(diag + shift)``. ``others="identity"`` uses the damped identity (``B_o /
shift``: no curvature), ``others="exclude"`` holds them fixed (``V_o = 0``, so
the scores ignore them). The cross terms between them and the layers are
dropped, as K-FAC drops those between layers. On the ResNet of
``benchmarks/curvature.py`` (BatchNorm weights and biases, 0.7% of the
parameters) the three treatments give the same scores' ranking to 0.003 and
predicted gap changes within 2%: the layers' approximation dominates.

Accuracy (measured by ``benchmarks/curvature.py``, CI-MNIST, damping="auto")
---------------------------------------------------------------------------
Block-diagonal, the approximation misses the coupling between layers, which
adds up in the directions of the rates' gradients (functions of the outputs):
its ``V`` is several times too long there (predicted gap changes 3-10x CG's on
the default CNN, 4-8x on the ResNet), and its residual against the exact GGN is
well above 1 even where the scores' ranking agrees. ``rescale=True`` fixes the
length with one exact product per direction (about a third of CG's cost at
damping="auto" on the CNN). The scores' Spearman correlation with CG's on the
CNN: 0.93-0.97 (K-FAC-reduce), 0.94-0.99 (EK-FAC); on the ResNet 0.25-0.81
for all variants. Hence a back end to evaluate, not the engine's default.

The approximation is computed in the net's dtype, as the engine's exact
products are; ``V`` is returned in float64. The whole pass is in one process
(it is not sharded over a torch.distributed job).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.func import jacrev, vmap
from torch.utils._pytree import tree_map

from ._curvature import CurvatureOperator, SolveInfo, reverse_hessian

KINDS = ("kfac", "ekfac")
OTHERS = ("diagonal", "identity", "exclude")
FISHER_TYPES = ("type-2", "mc")
_FACTORED = (torch.nn.Linear, torch.nn.Conv2d)


def _curvlinops():
    try:
        import curvlinops
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Kronecker-factored curvature needs curvlinops: pip install 'fairif-sklearn[kfac]' "
            "(curvlinops-for-pytorch>=3)."
        ) from error
    return curvlinops


def kronecker_loss(net: Any) -> tuple[torch.nn.Module, bool]:
    """The curvlinops loss matching the net's criterion, and whether the output is one logit.

    Parameters
    ----------
    net : fitted skorch.NeuralNetClassifier or skorch.NeuralNetBinaryClassifier

    Returns
    -------
    loss : torch.nn.CrossEntropyLoss or torch.nn.BCEWithLogitsLoss
        A fresh loss with ``reduction="mean"`` (the curvature of the mean loss).
    one_logit : bool
        True for ``BCEWithLogitsLoss``, whose output of shape (n,) is seen as (n, 1).

    Raises
    ------
    ValueError
        For any other criterion (``NLLLoss`` on probabilities included: skorch takes
        their logarithm, a loss curvlinops does not factor), or a weighted one.
    """
    criterion = net.criterion_
    if type(criterion) is torch.nn.CrossEntropyLoss and criterion.weight is None:
        # label smoothing changes the target, not the Hessian in the logits
        return torch.nn.CrossEntropyLoss(reduction="mean"), False
    if (
        type(criterion) is torch.nn.BCEWithLogitsLoss
        and criterion.weight is None
        and criterion.pos_weight is None
    ):
        return torch.nn.BCEWithLogitsLoss(reduction="mean"), True
    raise ValueError(
        "Kronecker-factored curvature supports a net whose criterion is torch.nn.CrossEntropyLoss "
        "(logits) or torch.nn.BCEWithLogitsLoss (one logit), without class weights; this net's "
        f"criterion is {type(criterion).__name__}"
        + (" with class weights" if getattr(criterion, "weight", None) is not None else "")
        + ". Use the exact solvers (influence='cg' or 'exact') for it."
    )


def factored_names(model, names: list[str]) -> list[str]:
    """Those of ``names`` that are a weight or bias of a ``Linear`` or ``Conv2d`` module."""
    wanted = set(names)
    found = set()
    for prefix, module in model._wrapper.named_modules():
        if isinstance(module, _FACTORED):
            for pname, _ in module.named_parameters(recurse=False):
                full = f"{prefix}.{pname}" if prefix else pname
                if full in wanted:
                    found.add(full)
    return [name for name in names if name in found]


class _Outputs(torch.nn.Module):
    """The net's module as curvlinops calls it: ``net.infer``, a tensor of shape (n, C)."""

    def __init__(self, wrapper: torch.nn.Module, one_logit: bool):
        super().__init__()
        self.net = wrapper
        self.one_logit = one_logit

    def forward(self, x):
        out = self.net(x)
        out = out[0] if isinstance(out, tuple) else out
        return out.reshape(-1, 1) if self.one_logit else out


class _Rows:
    """The rows ``rows`` as ``(x, target)`` batches, re-iterable (curvlinops reads them once or twice)."""

    def __init__(self, model, X, y, rows, batch_size, one_logit):
        self.args = (X, y, rows, batch_size)
        self.model = model
        self.one_logit = one_logit

    def __iter__(self):
        for _, x, target in self.model.batches(*self.args):
            yield x, (target.reshape(-1, 1) if self.one_logit else target)


def _batch_size(x) -> int:
    if isinstance(x, torch.Tensor):
        return x.shape[0]
    return len(next(iter(x.values())))


def ggn_diagonal(model, X, y, rows: np.ndarray, names: list[str], *, batch_size: int) -> torch.Tensor:
    """The exact diagonal of the Gauss-Newton matrix of the mean loss over ``rows``, in ``names``.

    Per batch: the per-sample Jacobians ``J_i`` of the module's output in those
    parameters (:func:`torch.func.jacrev` under :func:`torch.func.vmap`), the
    per-sample Hessians ``H_i`` of the net's loss in the output, and
    ``sum_i diag(J_i^T H_i J_i) / n``. Memory: a batch times the number of
    outputs times ``len(names)``'s parameters.

    Returns
    -------
    tensor of shape (p,), float64, in the flattened order of ``names``
    """
    sub = {k: model.params[k] for k in names}
    fixed = {k: v for k, v in model.params.items() if k not in sub}
    diag = torch.zeros(sum(t.numel() for t in sub.values()), dtype=torch.float64, device=model.device)
    if not sub:
        return diag

    def output_one(s, xi):
        return model.output({**fixed, **s}, tree_map(lambda t: t.unsqueeze(0), xi))[0].reshape(-1)

    def loss_hessian(o, yi):
        def loss(o):
            out = o.reshape(1, *o_shape[1:])
            return model.loss_from_output(out, yi.unsqueeze(0)).sum()

        return reverse_hessian(loss)(o)

    with model.eval_mode():
        for _, x, yb in model.batches(X, y, rows, batch_size):
            with torch.no_grad():
                out = model.output(model.params, x)
            o_shape = out.shape
            J = vmap(jacrev(output_one), in_dims=(None, 0))(sub, x)  # name -> (b, C, *shape)
            H = vmap(loss_hessian)(out.reshape(len(out), -1), yb)  # (b, C, C)
            Jf = torch.cat([J[k].reshape(*H.shape[:2], -1) for k in sub], dim=2)  # (b, C, p)
            diag += torch.einsum("bcp,bcd,bdp->p", Jf, H, Jf).double()
    return diag / len(rows)


def kronecker_operator(
    model,
    X,
    y: np.ndarray,
    rows: np.ndarray,
    names: list[str],
    *,
    kind: str = "kfac",
    batch_size: int,
    fisher_type: str = "type-2",
    mc_samples: int = 1,
    kfac_approx: str = "expand",
):
    """curvlinops' (E)K-FAC operator of the undamped GGN of the mean loss over ``rows``, in ``names``.

    ``names`` must all be weights or biases of ``Linear`` / ``Conv2d`` modules
    (:func:`factored_names`). The operator acts on columns laid out as ``names``
    (shape (p, m)); its Kronecker factors are computed at its first product,
    which must run under ``model.eval_mode()`` and with gradients enabled (as
    :func:`solve_kronecker` does). See :func:`solve_kronecker` for the options.
    """
    cl = _curvlinops()
    loss_func, one_logit = kronecker_loss(model.net)
    live = model.live_params()
    operator = cl.EKFACLinearOperator if kind == "ekfac" else cl.KFACLinearOperator
    return operator(
        _Outputs(model._wrapper, one_logit),
        loss_func,
        [live[k] for k in names],
        _Rows(model, X, y, rows, batch_size, one_logit),
        check_deterministic=False,  # eval mode; the check costs passes over the rows
        fisher_type=fisher_type,
        mc_samples=mc_samples if fisher_type == "mc" else 1,
        kfac_approx=kfac_approx,
        num_per_example_loss_terms=1,
        num_data=len(rows),
        batch_size_fn=_batch_size,
    )


def solve_kronecker(
    model,
    X,
    y: np.ndarray,
    rows: np.ndarray,
    names: list[str],
    B: torch.Tensor,
    *,
    shift: float,
    kind: str = "kfac",
    batch_size: int,
    others: str = "diagonal",
    fisher_type: str = "type-2",
    mc_samples: int = 1,
    kfac_approx: str = "reduce",
    residual: bool = True,
    rescale: bool = False,
) -> tuple[torch.Tensor, SolveInfo]:
    """Approximate ``(GGN + shift I)^{-1}`` applied to the rows of ``B`` by (E)K-FAC.

    Parameters
    ----------
    model : NetFunctions
        The fitted net seen as functions of its parameters.
    X, y : training inputs and encoded targets
    rows : ndarray of int
        The rows whose mean loss defines the curvature (all, or a subsample).
    names : list of str
        The parameters the curvature is taken over (in the order of ``V``'s columns,
        as :func:`._trees.flatten` concatenates them); the others stay fixed.
    B : tensor of shape (k, p)
        The right-hand sides (p the size of ``names``' parameters).
    shift : float
        The damping added to the diagonal: the optimizer's weight decay plus the
        damping (``model.proximal_strength(damping)``); must be positive.
    kind : {"kfac", "ekfac"}, default="kfac"
        K-FAC, or EK-FAC (K-FAC's eigenbasis with the exact GGN's eigenvalues in it;
        a second pass over the rows).
    batch_size : int
    others : {"diagonal", "identity", "exclude"}, default="diagonal"
        The treatment of the parameters of ``names`` outside ``Linear`` and
        ``Conv2d`` modules (BatchNorm's): the exact GGN diagonal, the damped
        identity, or held fixed (see the module docstring).
    fisher_type : {"type-2", "mc"}, default="type-2"
        The gradient factors from the exact square root of the loss's Hessian in
        the outputs (one backward pass per class), or from ``mc_samples`` labels
        sampled from the model's predictive distribution per row (MC-Fisher, equal
        to the GGN in expectation for these losses).
    mc_samples : int, default=1
    kfac_approx : {"expand", "reduce"}, default="reduce"
        curvlinops' treatment of convolutions' weight sharing: every position a
        row of the factors ("expand", Grosse & Martens' KFC), or the positions
        averaged per row ("reduce"). On the benchmark's CNN "reduce" took 0.44x
        the time of "expand" and agreed better with CG (Spearman 0.93-0.97
        against 0.77-0.84); on its ResNet 0.5x the time, agreement alike.
    residual : bool, default=True
        Measure ``||M V_c - B_c|| / ||B_c||`` against the exact damped GGN ``M``
        (one exact product per right-hand side: the cost of one CG iteration);
        NaN when False.
    rescale : bool, default=False
        Scale each ``V_c`` by ``c = (V_c . B_c) / (V_c . M V_c)``, the step that
        minimises the error in ``M``'s norm along it (the first step of conjugate
        gradient preconditioned by the approximation), from the same exact
        products as the residual (so it measures the residual too). The Kronecker
        approximation, block-diagonal, misjudges the curvature's overall scale in
        the directions of ``B`` (several-fold on conv nets), which the scores'
        ranking does not see but the predicted gap changes do.

    Returns
    -------
    V : tensor of shape (k, p), float64
    info : SolveInfo
        ``solver`` is ``kind``; ``n_iter`` zeros (a direct solve of the approximate
        system); ``residual`` against the exact GGN (or NaN); ``converged`` True
        when ``V`` is finite (the approximate system is solved exactly: the
        residual says how far it is from the exact one); ``min_eigenvalue`` None
        (the approximation is positive semi-definite by construction, so the
        damped one's smallest eigenvalue is at least ``shift``).

    Raises
    ------
    ValueError
        For an unsupported criterion (:func:`kronecker_loss`), an unknown option,
        ``shift <= 0``, or no ``Linear`` / ``Conv2d`` parameter in ``names`` with
        ``others="exclude"``.
    """
    cl = _curvlinops()
    for value, allowed, what in (
        (kind, KINDS, "kind"),
        (others, OTHERS, "others"),
        (fisher_type, FISHER_TYPES, "fisher_type"),
    ):
        if value not in allowed:
            raise ValueError(f"{what} must be one of {allowed}, got {value!r}.")
    if not shift > 0:
        raise ValueError(f"Kronecker-factored solves need a positive shift (damping), got {shift}.")
    kronecker_loss(model.net)  # the criterion's check, before any pass over the rows
    sub = {k: model.params[k] for k in names}
    factored = factored_names(model, names)
    rest = [k for k in names if k not in factored]
    if not factored and others == "exclude":
        raise ValueError("None of the parameters is in a torch.nn.Linear or torch.nn.Conv2d module.")

    B = B.to(dtype=torch.float64)
    out: dict[str, torch.Tensor] = {}
    if factored:
        approx = kronecker_operator(
            model, X, y, rows, factored, kind=kind, batch_size=batch_size, fisher_type=fisher_type,
            mc_samples=mc_samples, kfac_approx=kfac_approx,
        )  # fmt: skip
        inverse = cl.KFACInverseLinearOperator(approx, damping=float(shift), use_exact_damping=True)
        with model.eval_mode(), torch.enable_grad():  # the factors are computed at the first product
            solved = inverse @ _columns(B, sub, factored).to(model.dtype)  # (p_factored, k)
        start = 0
        for k in factored:
            size = sub[k].numel()
            out[k] = solved[start : start + size].T.to(torch.float64)
            start += size
    if rest:
        B_rest = _columns(B, sub, rest).T  # (k, p_rest)
        if others == "diagonal":
            diag = ggn_diagonal(model, X, y, rows, rest, batch_size=batch_size)
            V_rest = B_rest / (diag + shift)
        elif others == "identity":
            V_rest = B_rest / shift
        else:
            V_rest = torch.zeros_like(B_rest)
        start = 0
        for k in rest:
            size = sub[k].numel()
            out[k] = V_rest[:, start : start + size]
            start += size
    V = torch.cat([out[k] for k in names], dim=1)
    finite = bool(torch.isfinite(V).all())
    if (residual or rescale) and finite:
        op = CurvatureOperator(
            model, X, y, rows, names, curvature="gauss_newton", damping=0.0, batch_size=batch_size
        )
        MV = op.matmat(V) + (shift - op.shift) * V
        if rescale:
            c = (V * B).sum(dim=1) / (V * MV).sum(dim=1)
            V, MV = c[:, None] * V, c[:, None] * MV
        res = (torch.linalg.norm(MV - B, dim=1) / torch.linalg.norm(B, dim=1).clamp_min(1e-300)).tolist()
    else:
        res = [float("nan")] * len(B)
    return V, SolveInfo(kind, [0] * len(B), res, finite, None, False)


def _columns(B: torch.Tensor, like: dict[str, torch.Tensor], names: list[str]) -> torch.Tensor:
    """The columns of ``B`` (laid out as ``like``) of the parameters ``names``, transposed: (p_names, k)."""
    pieces, start = {}, 0
    for name, t in like.items():
        pieces[name] = B[:, start : start + t.numel()]
        start += t.numel()
    return torch.cat([pieces[k] for k in names], dim=1).T.contiguous()


__all__ = [
    "KINDS",
    "OTHERS",
    "factored_names",
    "ggn_diagonal",
    "kronecker_loss",
    "kronecker_operator",
    "solve_kronecker",
]
