"""The curvature of the training objective, as products and as solves.

The objective is the mean training loss plus ``weight_decay / 2 * ||theta||^2``.
Its curvature matrix is either the Hessian or the generalised Gauss-Newton
matrix (``J^T H_out J``, always positive semi-definite), plus
``(weight_decay + damping) * I``. Products with it are computed batch by batch
with :mod:`torch.func` (forward-over-reverse), so memory stays O(batch + p);
in a job of several processes each takes a share of the rows (:mod:`._shards`).

Two solvers share those products: a dense one (the matrix is assembled column
block by column block, then solved exactly in float64) and conjugate gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils import gen_batches
from torch.func import grad, jvp, vjp, vmap

from ._shards import my_rows, summed
from ._trees import flatten, unflatten

CURVATURES = ("hessian", "gauss_newton")


class CurvatureOperator:
    """Damped curvature of the training objective over a subset of parameters.

    Parameters
    ----------
    model : NetFunctions
        The fitted net seen as functions of its parameters.
    X, y : training inputs and encoded targets
    rows : ndarray of int
        The rows whose mean loss defines the curvature (all, or a subsample).
    names : list of str
        The parameters the curvature is taken over; the others stay fixed.
    curvature : {"hessian", "gauss_newton"}
    damping : float
        Added to the diagonal, on top of the optimizer's weight decay.
    batch_size : int
    """

    def __init__(self, model, X, y, rows, names, *, curvature, damping, batch_size):
        self.model = model
        self.X, self.y, self.rows = X, y, rows
        self.n = len(rows)
        self.sub = {k: model.params[k] for k in names}
        self.fixed = {k: v for k, v in model.params.items() if k not in self.sub}
        self.curvature = curvature
        self.shift = model.proximal_strength(damping)
        self.batch_size = batch_size
        self.n_params = sum(t.numel() for t in self.sub.values())
        self.n_products = 0

    def _params(self, sub):
        return {**self.fixed, **sub}

    def _product(self, x, y, v):
        """Curvature of the batch's summed loss times ``v`` (a parameter dict)."""
        model = self.model
        if self.curvature == "hessian":

            def total_loss(sub):
                return model.losses(self._params(sub), x, y).sum()

            return jvp(grad(total_loss), (self.sub,), (v,))[1]

        def output(sub):
            return model.output(self._params(sub), x)

        out, jv = jvp(output, (self.sub,), (v,))

        def loss_of_output(o):
            return model.loss_from_output(o, y).sum()

        h_jv = jvp(grad(loss_of_output), (out,), (jv,))[1]
        return vjp(output, self.sub)[1](h_jv)[0]

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        """Products with the rows of ``V`` (shape (m, p), float64), returned as (m, p)."""
        Vm = V.to(device=self.model.device, dtype=self.model.dtype)

        def flat_product(x, y, v):
            return flatten(self._product(x, y, unflatten(v, self.sub)))

        acc = torch.zeros(V.shape, dtype=torch.float64, device=self.model.device)
        with self.model.eval_mode():  # this process's share of the rows, summed over the processes
            for _, x, y in self.model.batches(self.X, self.y, my_rows(self.rows), self.batch_size):
                acc += vmap(flat_product, in_dims=(None, None, 0))(x, y, Vm).to(torch.float64)
        self.n_products += V.shape[0]
        return summed(acc) / self.n + self.shift * V

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """The product with one vector (shape (p,), float64)."""
        return self.matmat(v[None])[0]

    def largest_eigenvalue(self, n_iter: int, rng: np.random.RandomState) -> float:
        """The largest eigenvalue of the undamped curvature, by power iteration.

        An estimate from below that is within a few per cent after a dozen
        iterations for the spread-out spectra of networks. The matrix is
        positive semi-definite for Gauss-Newton; for an indefinite Hessian the
        iteration finds the eigenvalue of largest magnitude.
        """
        v = torch.as_tensor(rng.standard_normal(self.n_params), dtype=torch.float64, device=self.model.device)
        v /= torch.linalg.norm(v)
        value = 0.0
        for _ in range(n_iter):
            w = self.matvec(v) - self.shift * v
            value = float(v @ w)
            v = w / torch.linalg.norm(w).clamp_min(torch.finfo(w.dtype).tiny)
        return value

    def dense(self, chunk: int = 256) -> torch.Tensor:
        """The whole (p, p) matrix in float64, assembled ``chunk`` columns at a time."""
        eye = torch.eye(self.n_params, dtype=torch.float64, device=self.model.device)
        blocks = [self.matmat(eye[s]) for s in gen_batches(self.n_params, chunk)]
        M = torch.cat(blocks)
        return (M + M.T) / 2


@dataclass
class SolveInfo:
    """What a solve did: iterations, relative residuals, curvature found.

    ``min_eigenvalue`` is the damped matrix's smallest eigenvalue for the dense
    solve, and for CG the smallest Rayleigh quotient ``p^T M p / p^T p`` it met
    (an upper bound on the smallest eigenvalue).
    """

    solver: str
    n_iter: list[int]
    residual: list[float]
    converged: bool
    min_eigenvalue: float | None = None
    negative_curvature: bool = False

    @property
    def max_residual(self) -> float:
        return max(self.residual)


def solve_dense(op: CurvatureOperator, B: torch.Tensor) -> tuple[torch.Tensor, SolveInfo]:
    """Solve ``M X^T = B^T`` exactly for the k right-hand sides in the rows of ``B``."""
    M = op.dense()
    if not bool(torch.isfinite(M).all()):  # the engine says so (eigh would fail to converge)
        nan = [float("nan")] * len(B)
        return torch.full_like(B, float("nan")), SolveInfo("dense", [0] * len(B), nan, False, float("nan"))
    eigvals, eigvecs = torch.linalg.eigh(M)
    min_eig = float(eigvals[0])
    if min_eig <= 0:
        info = SolveInfo("dense", [0] * len(B), [float("nan")] * len(B), False, min_eig, True)
        return torch.full_like(B, float("nan")), info
    X = ((B @ eigvecs) / eigvals) @ eigvecs.T
    residual = torch.linalg.norm(X @ M - B, dim=1) / torch.linalg.norm(B, dim=1).clamp_min(1e-300)
    info = SolveInfo("dense", [0] * len(B), residual.tolist(), True, min_eig)
    return X, info


def solve_cg(
    op: CurvatureOperator, B: torch.Tensor, *, tol: float, maxiter: int
) -> tuple[torch.Tensor, SolveInfo]:
    """Conjugate gradient for the k rows of ``B`` at once, in float64 arithmetic.

    The k systems are independent, but their curvature products share one pass
    over the data per iteration. Each stops at a relative residual of ``tol``,
    after ``maxiter`` iterations, or at the first direction of non-positive
    curvature (reported, never hidden).
    """
    X = torch.zeros_like(B)
    R = B.clone()
    P = R.clone()
    rs = (R * R).sum(dim=1)
    b_norm = torch.sqrt(rs).clamp_min(torch.finfo(B.dtype).tiny)
    iters = torch.zeros(len(B), dtype=torch.long, device=B.device)
    active = torch.sqrt(rs) > tol * b_norm
    negative = False
    min_quotient = float("inf")
    for _ in range(maxiter):
        if not active.any():
            break
        rows = active.nonzero().flatten()
        AP = op.matmat(P[rows])
        pAp = (P[rows] * AP).sum(dim=1)
        min_quotient = min(min_quotient, float((pAp / (P[rows] * P[rows]).sum(dim=1)).min()))
        bad = pAp <= 0
        if bad.any():
            negative = True
            active[rows[bad]] = False
            keep = ~bad
            rows, AP, pAp = rows[keep], AP[keep], pAp[keep]
        step = rs[rows] / pAp
        X[rows] += step[:, None] * P[rows]
        R[rows] -= step[:, None] * AP
        rs_new = (R[rows] * R[rows]).sum(dim=1)
        P[rows] = R[rows] + (rs_new / rs[rows])[:, None] * P[rows]
        rs[rows] = rs_new
        iters[rows] += 1
        active[rows] = torch.sqrt(rs_new) > tol * b_norm[rows]
    residuals = (torch.sqrt(rs) / b_norm).tolist()
    converged = not negative and all(res <= tol for res in residuals)
    return X, SolveInfo("cg", iters.tolist(), residuals, converged, min_quotient, negative)


def subsample_rows(n: int, size: int | float | None, rng: np.random.RandomState) -> np.ndarray:
    """Row indices for a curvature subsample (all rows when ``size`` is None)."""
    if size is None:
        return np.arange(n)
    m = max(1, int(round(size * n)) if isinstance(size, float) else int(size))
    if m >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=m, replace=False))
