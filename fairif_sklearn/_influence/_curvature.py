"""The curvature of the training objective, as products and as solves.

The objective is the mean training loss plus ``weight_decay / 2 * ||theta||^2``.
Its curvature matrix is either the Hessian or the generalised Gauss-Newton
matrix (``J^T H_out J``, always positive semi-definite), plus
``(weight_decay + damping) * I``. Products with it are computed batch by batch
with :mod:`torch.func`, so memory stays O(batch + p) beyond what is kept
(below); in a job of several processes each takes a share of the rows
(:mod:`._shards`).

A batch's Gauss-Newton product ``J^T H J v`` is forward mode (``J v``) then
reverse mode (``J^T``) through the net, at parameters that do not change from
one product to the next. So each batch of curvature rows runs forward once:
its pullback ``u -> J^T u`` (:func:`torch.func.vjp`) and, the pullback being
linear, its transpose ``v -> J v`` (a reverse-mode derivative of the pullback)
are kept when all the batches' fit in ``LINEARISED_MEMORY`` bytes, and every
later product runs tangents through the kept graphs only; otherwise each
product linearises each batch again. A Linear layer that reads the inputs
themselves (an MLP's first, on flattened images) is held fixed in those passes
and its weight's shares are taken outside them, one matrix product each for all
the directions on the units they reach (:mod:`._input_fed`). The Hessian's
products are forward-over-reverse, the net run forward on every product.

On nets with convolutions the Gauss-Newton products are taken another way
(``products="factors"``, chosen by the same rule as the influence scores'
method, :func:`._scores.auto_method`): forward-mode through a convolution is
slow on a CPU, while a row's gradient is cheap (its weights are shared over the
image). Each curvature row's Gauss-Newton term ``J_i^T H_i J_i`` is written
``U_i^T U_i`` with ``U_i = L_i^T J_i`` (``H_i = L_i L_i^T``, the loss's
Hessian in the C outputs, factored by its eigendecomposition, without the
directions that are null on every row), ``U_i`` computed by per-sample reverse
mode; the products of a pass are then ``U^T (U V^T)`` for
all the directions at once, and when every row's factors fit in
``FACTOR_MEMORY`` bytes they are computed once and kept, so that the
damping's estimate and every CG iteration cost matrix products only.

Two solvers share those products: a dense one (the matrix is assembled column
block by column block, then solved exactly in float64) and conjugate gradient,
whose first iterations, with ``damping="auto"``, are the block Lanczos steps
that estimate the damping (:func:`solve_cg_auto_damping`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils import gen_batches
from torch.func import grad, jacrev, jvp, vjp, vmap

from ._forward_mode import load_forward_mode
from ._input_fed import added_at_outputs, along, input_fed_linears, live_stack, weight_cotangent
from ._shards import my_rows, summed
from ._trees import flatten, unflatten

CURVATURES = ("hessian", "gauss_newton")
PRODUCTS = ("jvp", "factors")
# the per-sample Gauss-Newton factors of all the curvature rows are kept when they fit in this many
# bytes, else recomputed on each pass (in chunks of this size)
FACTOR_MEMORY = 512 * 2**20
# products="jvp" on the Gauss-Newton matrix: each batch of curvature rows is run forward once and its
# linearisation kept (its inputs and the graph of saved activations: counted as every module's output
# for the row, twice) when all of this process's curvature rows fit in this many bytes
LINEARISED_MEMORY = 512 * 2**20
# the number of directions a Gauss-Newton product usually carries (CG's block: one per (rate, group)
# cell, four with two groups), for whether an input-fed Linear layer is taken outside its passes
TYPICAL_BLOCK = 4
# a per-sample factor column is left out when its eigenvalue of the loss's Hessian in the outputs is
# at most this fraction of the largest on every row of the chunk (it adds nothing but rounding)
NULL_EIGENVALUE = 1e-7
# solve_cg_auto_damping: Lanczos stops early once its largest Ritz value moved by less than this
# fraction in a step (and the solve is done)
SETTLED = 0.01


def reverse_hessian(f):
    """The Hessian of ``f`` in its first argument, reverse mode over reverse mode.

    For the loss's Hessian in a row's C outputs (C x C, tiny): on the per-sample
    road (``products="factors"``) stage 1 then takes no forward-mode derivative,
    and a process does not load torch's forward-mode decompositions (compiled by
    TorchScript on their first use: about 0.3 s; see the performance page).
    """
    return jacrev(jacrev(f))


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
    products : {"jvp", "factors"}, default="jvp"
        How Gauss-Newton products are computed (module docstring); the
        Hessian's are always forward-over-reverse.
    sample_weight : ndarray of shape (n_samples,), optional
        The training rows' loss weights (aligned with ``y``): the curvature is
        then that of the weighted mean loss over ``rows``.
    """

    def __init__(
        self, model, X, y, rows, names, *, curvature, damping, batch_size, products="jvp", sample_weight=None
    ):
        self.model = model
        self.X, self.y, self.rows = X, y, rows
        self.n, self._weight = len(rows), None
        if sample_weight is not None:  # the weighted mean loss; the weights of this process's rows, in order
            weight = np.asarray(sample_weight, dtype=np.float64)
            self.n = float(weight[rows].sum())
            self._weight = torch.as_tensor(weight[my_rows(rows)], dtype=model.dtype, device=model.device)
        self.sub = {k: model.params[k] for k in names}
        self.fixed = {k: v for k, v in model.params.items() if k not in self.sub}
        self.curvature = curvature
        self.shift = model.proximal_strength(damping)
        self.batch_size = batch_size
        self.n_params = sum(t.numel() for t in self.sub.values())
        self.n_products = 0
        self.products = products if curvature == "gauss_newton" else "jvp"
        self._factors = None  # the kept per-sample factors (products="factors"), once computed
        self._linearised = None  # the kept batches' products (products="jvp", Gauss-Newton), once made
        self._keep = None  # whether they are kept: decided on the first Gauss-Newton batch
        self._per_row = None
        self._L: dict[int, torch.Tensor] = {}  # batch -> its rows' loss-Hessian factors (tiny), kept
        self._fed = None  # the weights of Linear layers that read the inputs, taken outside the passes
        self._stacks = None  # this product's live units and stacked rows of V per input-fed layer

    def _params(self, sub):
        return {**self.fixed, **sub}

    def release(self) -> None:
        """Drop what the products keep (linearised batches, per-sample factors) once the solves are
        done. The linearised batches' closures hold this operator: without this, the operator, the
        training rows it reads and the kept products would wait for Python's cycle collector."""
        self._linearised = None
        self._factors = None
        self._stacks = None
        self._L.clear()

    def _batch_weight(self, positions):
        """The loss weights of a batch of this process's curvature rows (``positions`` among them);
        None without weights."""
        return None if self._weight is None else self._weight[positions]

    def _hessian_products(self, x, y, w=None):
        """The batch's Hessian products with the rows of ``V`` (m, p): forward-over-reverse, the net
        run forward on each call (``w``: the rows' loss weights)."""
        model = self.model

        def total_loss(sub):
            losses = model.losses(self._params(sub), x, y)
            return losses.sum() if w is None else (losses * w).sum()

        def flat_product(v):
            return flatten(jvp(grad(total_loss), (self.sub,), (unflatten(v, self.sub),))[1])

        return vmap(flat_product)

    def _linearised_product(self, x, y, w=None):
        """The batch's Gauss-Newton products with the rows of ``V`` (m, p) from one forward pass:
        its pullback ``u -> J^T u`` and, as that is linear in ``u``, the pullback's transpose ``v ->
        J v`` (a reverse-mode derivative of the pullback), both kept for every later call (``w``:
        the rows' loss weights). A Linear layer that reads the inputs themselves is taken outside
        the passes (:meth:`_linearised_input_fed`)."""
        model = self.model
        if self._fed is None:
            self._fed = input_fed_linears(model, self.sub, self._params(self.sub), x, TYPICAL_BLOCK)
        if self._fed:
            return self._linearised_input_fed(x, y, w)

        def output(sub):
            return model.output(self._params(sub), x)

        out, pullback = vjp(output, self.sub)
        out = out.detach()
        _, transpose = vjp(lambda u: pullback(u)[0], torch.zeros_like(out))
        loss_of_output = self._loss_of_output(y, w)

        def flat_product(v):
            (jv,) = transpose(unflatten(v, self.sub))
            h_jv = jvp(grad(loss_of_output), (out,), (jv,))[1]
            return flatten(pullback(h_jv)[0])

        return vmap(flat_product)

    def _loss_of_output(self, y, w):
        def loss_of_output(o):
            losses = self.model.loss_from_output(o, y)
            return losses.sum() if w is None else (losses * w).sum()

        return loss_of_output

    def _linearised_input_fed(self, x, y, w=None):
        """:meth:`_linearised_product` with the weights of the Linear layers that read the inputs
        (``self._fed``, :mod:`._input_fed`) held fixed in the passes: along ``V`` such a layer's
        output moves by ``x @ V_W^T``, added at its output, and the cotangent ``g`` that reaches its
        output gives the weight ``g^T x``; each is one matrix product for all the rows of ``V``, on
        the output units where it is not zero (the units that the batch's rows activate)."""
        model, names = self.model, list(self._fed)
        rest = {k: v for k, v in self.sub.items() if k not in self._fed}
        held = {**self.fixed, **{k: self.sub[k] for k in names}}
        flat = x.reshape(len(x), -1)
        zeros = [flat.new_zeros((len(x), self.sub[name].shape[0])) for name in names]
        with added_at_outputs([self._fed[name] for name in names]) as added:

            def output(sub, extra):
                added[:] = [extra]
                return model.output({**held, **sub}, x)

            out, pullback = vjp(output, rest, zeros)
        out = out.detach()
        _, transpose = vjp(pullback, torch.zeros_like(out))
        loss_of_output = self._loss_of_output(y, w)

        def one_product(v_rest, v_fed):
            (jv,) = transpose((v_rest, v_fed))
            h_jv = jvp(grad(loss_of_output), (out,), (jv,))[1]
            return pullback(h_jv)

        products = vmap(one_product)

        def product(V):
            m, parts = len(V), unflatten(V, self.sub)
            if self._stacks is None:  # once a product (matmat resets it), for all its batches
                self._stacks = [live_stack(parts[name]) for name in names]
            moved = [
                along(flat, live, stacked, m, self.sub[name].shape[0])
                for name, (live, stacked) in zip(names, self._stacks, strict=True)
            ]
            g_rest, g_fed = products({k: parts[k] for k in rest}, moved)
            g_rest.update({name: weight_cotangent(flat, g) for name, g in zip(names, g_fed, strict=True)})
            return torch.cat([g_rest[name].reshape(m, -1) for name in self.sub], dim=1)

        return product

    def _linearised_first(self, x, y, w=None):
        """The first batch's :meth:`_linearised_product`, and about what keeping a row's
        linearisation holds in bytes: its input and every module's output for it, twice (counted
        by hooks on that product's one forward pass)."""
        inputs = list(x.values()) if isinstance(x, dict) else [x]
        held = [sum(t.numel() * t.element_size() for t in inputs)]

        def count(module, args, out):
            for t in out if isinstance(out, tuple | list) else (out,):
                if isinstance(t, torch.Tensor):
                    held[0] += 2 * t.numel() * t.element_size()

        handles = [m.register_forward_hook(count) for m in self.model.net.module_.modules()]
        try:
            product = self._linearised_product(x, y, w)
        finally:
            for handle in handles:
                handle.remove()
        return product, held[0] / max(len(inputs[0]), 1)

    def _jvp_products(self):
        """Per batch of this process's curvature rows, a function giving its products with the rows
        of ``V``. Gauss-Newton: the batch linearised by one forward pass, and kept across products
        when all of them fit in ``LINEARISED_MEMORY`` (decided on the first batch, by what its
        linearisation holds); else linearised again for each product. The Hessian: streamed."""
        load_forward_mode()  # every product below takes a forward-mode derivative
        if self._linearised is not None:
            yield from self._linearised
            return
        kept = []
        for positions, x, y in self.model.batches(self.X, self.y, my_rows(self.rows), self.batch_size):
            w = self._batch_weight(positions)
            if self.curvature != "gauss_newton":
                yield self._hessian_products(x, y, w)
                continue
            if self._keep is None:
                product, per_row = self._linearised_first(x, y, w)
                self._keep = len(my_rows(self.rows)) * per_row <= LINEARISED_MEMORY
            else:
                product = self._linearised_product(x, y, w)
            if self._keep:
                kept.append(product)
            yield product
        if self._keep:
            self._linearised = kept

    def _row_factors(self, x, L: torch.Tensor) -> torch.Tensor:
        """``U_i = L_i^T J_i`` for each row of the batch, flattened: shape (rows * r, p).

        ``L`` (rows, C, r) comes from the rows' outputs (:meth:`_loss_factors`), with
        its r <= C columns that are not null on every row (r = C - 1 for softmax
        cross-entropy); then each of the r rows of ``L_i^T J_i`` is the per-sample gradient of
        ``L_i[:, c] . f_i`` (r passes of ``vmap(grad)``, each about a backward
        pass: nested vmaps of a pullback are several times slower through
        convolutions).
        """
        model = self.model

        def along(sub, xi, li):  # li . f_i, one row
            return (model.output(self._params(sub), _rows_of(xi, None)).reshape(-1) * li).sum()

        per_row = vmap(grad(along), in_dims=(None, 0, 0))
        rows = len(L)
        U = torch.empty(rows, L.shape[2], self.n_params, dtype=L.dtype, device=L.device)
        for c in range(L.shape[2]):
            start = 0
            for k, g in per_row(self.sub, x, L[:, :, c]).items():  # name -> (rows, *shape)
                U[:, c, start : start + self.sub[k].numel()] = g.reshape(rows, -1)
                start += self.sub[k].numel()
        return U.reshape(-1, self.n_params)

    def _loss_factors(self, x, y) -> torch.Tensor:
        """``L`` (rows, C, r) with ``L_i L_i^T`` the loss's Hessian in the batch's row i's outputs,
        without the columns null on every row of the batch (softmax cross-entropy's all-ones
        direction: r = 1 for two classes). One forward pass; see :meth:`_batch_loss_factors`."""
        model = self.model

        def loss_of_output(o, yi):
            return model.loss_from_output(o[None], yi[None]).sum()

        with torch.no_grad():
            out = model.output(self._params(self.sub), x)
            out = out.reshape(len(out), -1)
            values, vectors = torch.linalg.eigh(vmap(reverse_hessian(loss_of_output))(out, y))
            values = values.clamp_min(0)
            live = values.amax(dim=0) > NULL_EIGENVALUE * values.max()  # eigh sorts each row's values
            return (vectors * values.sqrt()[:, None, :])[:, :, live]

    def _batch_loss_factors(self, i: int, x, y, positions=None) -> torch.Tensor:
        """:meth:`_loss_factors` of this process's i-th batch of curvature rows (``positions`` among
        them), each row's times the square root of its loss weight, computed once: a pass that
        recomputes the factors (they did not fit in memory) or the memory estimate does not run the
        net forward again for them."""
        if i not in self._L:
            L = self._loss_factors(x, y)
            w = self._batch_weight(positions)
            self._L[i] = L if w is None else L * w.to(L.dtype).sqrt()[:, None, None]
        return self._L[i]

    def _factor_bytes_per_row(self) -> int:
        """The bytes of a curvature row's factors: r x p in the net's dtype, with r the loss Hessian's
        columns that are not null on this process's first batch of curvature rows (a later chunk
        with more would hold at most C / r times as many bytes)."""
        if self._per_row is None:
            r = 1  # a process with no curvature rows of its own holds no factors
            for positions, x, y in self.model.batches(self.X, self.y, my_rows(self.rows), self.batch_size):
                with self.model.eval_mode():
                    r = self._batch_loss_factors(0, x, y, positions).shape[2]
                break
            self._per_row = max(r, 1) * self.n_params * torch.finfo(self.model.dtype).bits // 8
        return self._per_row

    def _factor_batches(self, per_row: int):
        """The per-sample factors, chunk by chunk of this process's curvature rows."""
        if self._factors is not None:
            yield self._factors
            return
        chunk = max(1, FACTOR_MEMORY // per_row)
        batches = self.model.batches(self.X, self.y, my_rows(self.rows), self.batch_size)
        for i, (positions, x, y) in enumerate(batches):
            L = self._batch_loss_factors(i, x, y, positions)
            for start in range(0, len(y), chunk):
                picked = slice(start, start + chunk)
                yield self._row_factors(_rows_of(x, picked), L[picked])

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        """Products with the rows of ``V`` (shape (m, p), float64), returned as (m, p)."""
        Vm = V.to(device=self.model.device, dtype=self.model.dtype)
        if self.products == "factors":
            acc = torch.zeros(V.shape, dtype=torch.float64, device=self.model.device)
            with self.model.eval_mode(), torch.enable_grad():
                per_row = self._factor_bytes_per_row()
                if self._factors is None and len(my_rows(self.rows)) * per_row <= FACTOR_MEMORY:
                    self._factors = torch.cat(list(self._factor_batches(per_row)))  # kept
                for U in self._factor_batches(per_row):
                    acc += ((Vm @ U.T) @ U).to(torch.float64)
            self.n_products += V.shape[0]
            return summed(acc) / self.n + self.shift * V

        acc = torch.zeros(V.shape, dtype=torch.float64, device=self.model.device)
        self._stacks = None  # the input-fed layers' live units of V: found by the first batch's product
        with self.model.eval_mode():  # this process's share of the rows, summed over the processes
            for product in self._jvp_products():
                acc += product(Vm).to(torch.float64)
        self.n_products += V.shape[0]
        return summed(acc) / self.n + self.shift * V

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """The product with one vector (shape (p,), float64)."""
        return self.matmat(v[None])[0]

    def largest_eigenvalue(self, n_steps: int, block: int, rng: np.random.RandomState) -> float:
        """The largest eigenvalue of the undamped curvature, by block Lanczos.

        ``n_steps`` products with a block of ``block`` random vectors build a
        Krylov basis of ``n_steps * block`` vectors (kept orthonormal); the
        largest Ritz value of the curvature on that basis is the estimate, from
        below. A block's products share one pass over the rows (vmapped, as CG's
        are), so a few steps of a block cost less than as many single products,
        and a Krylov basis finds the top of the spectrum much faster than power
        iteration (see the performance page for the figures). The matrix is
        positive semi-definite for Gauss-Newton; for an indefinite Hessian the
        estimate is the largest Ritz value of magnitude.
        """
        dtype, device = torch.float64, self.model.device
        Q = torch.linalg.qr(
            torch.as_tensor(rng.standard_normal((self.n_params, block)), dtype=dtype, device=device)
        )[0]
        for step in self.krylov(Q.T, n_steps):
            if step is None:
                return float("nan")  # the engine says what that means
        ritz = torch.linalg.eigvalsh(step[2])
        return float(ritz[ritz.abs().argmax()])

    def krylov(self, Q: torch.Tensor, n_steps: int):
        """Block Lanczos on the undamped curvature, started from the orthonormal rows ``Q`` (b, p).

        After each of at most ``n_steps`` products (one pass over the rows for
        the block) it yields ``(V, MV, T)``: the basis so far in rows (j, p),
        kept orthonormal (:func:`next_block`), the undamped curvature's products
        with it (j, p), and the projected matrix ``V M V^T`` (j, j); it yields
        None and stops when a product is not finite, and stops early when the
        basis spans an invariant subspace. ``V`` and ``MV`` are the first rows
        of buffers that later steps fill further (valid as long as the
        generator is), so no step copies the basis. The shift is subtracted as
        it is at each step, so a caller may change it in between.
        """
        most = n_steps * len(Q)
        V, MV = Q.new_empty((most, Q.shape[1])), Q.new_empty((most, Q.shape[1]))
        T = Q.new_zeros((most, most))
        j = 0
        for _ in range(n_steps):
            W = self.matmat(Q) - self.shift * Q  # undamped products, shape (b, p)
            if not bool(torch.isfinite(W).all()):
                yield None
                return
            i, j = j, j + len(Q)
            V[i:j], MV[i:j] = Q, W
            C = V[:j] @ W.T  # (j, b): the basis against the new images, T's new columns
            T[:j, i:j] = C
            T[i:j, :i] = Q @ MV[:i].T
            yield V[:j], MV[:j], (T[:j, :j] + T[:j, :j].T) / 2
            Q = next_block(V[:j], W, C)
            if Q is None:
                return  # the basis spans an invariant subspace

    def dense(self, chunk: int = 256) -> torch.Tensor:
        """The whole (p, p) matrix in float64, assembled ``chunk`` columns at a time."""
        eye = torch.eye(self.n_params, dtype=torch.float64, device=self.model.device)
        blocks = [self.matmat(eye[s]) for s in gen_batches(self.n_params, chunk)]
        M = torch.cat(blocks)
        return (M + M.T) / 2


def next_block(V: torch.Tensor, W: torch.Tensor, VW: torch.Tensor | None = None) -> torch.Tensor | None:
    """The next block of a Krylov basis: the rows of ``W`` (m, p) orthonormalised against the basis
    ``V`` (j, p; orthonormal rows) and each other, those with nothing new left out; None when none has.

    Against the basis the whole block is projected out twice (block Gram-Schmidt, the second pass
    for what rounding left), ``VW`` being ``V @ W.T`` where the caller has it; then each row against
    the rows kept before it, twice. A row is left out when less than ``1e-10`` of its norm is new: a
    QR of such a block would fill that row with rounding noise that is not orthogonal to ``V``.
    """
    scales = torch.linalg.norm(W, dim=1).tolist()
    for again in range(2):
        VW = V @ W.T if again or VW is None else VW
        W = W - VW.T @ V
    kept = []
    for w, scale in zip(W, scales, strict=True):
        for _ in range(2):
            for q in kept:
                w = w - q * (q @ w)
        norm = float(torch.linalg.norm(w))
        if norm > 1e-10 * scale:
            kept.append(w / norm)
    return torch.stack(kept) if kept else None


def _rows_of(x, rows):
    """Rows ``rows`` of a batch's inputs (a tensor or a dict of tensors); one row (no batch
    dimension, under vmap) gets its batch dimension back with ``rows=None``."""
    if isinstance(x, dict):
        return {k: _rows_of(v, rows) for k, v in x.items()}
    return x.unsqueeze(0) if rows is None else x[rows]


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
    op: CurvatureOperator,
    B: torch.Tensor,
    *,
    tol: float,
    maxiter: int,
    start: tuple[torch.Tensor, torch.Tensor, int] | None = None,
) -> tuple[torch.Tensor, SolveInfo]:
    """Conjugate gradient for the k rows of ``B`` at once, in float64 arithmetic.

    The k systems are independent, but their curvature products share one pass
    over the data per iteration. Each stops at a relative residual of ``tol``,
    after ``maxiter`` iterations, or at the first direction of non-positive
    curvature (reported, never hidden). ``start`` is ``(X0, R0, n_done)``: a
    first solution, its residual ``B - M X0`` and the iterations it cost (they
    count towards ``maxiter``); zero by default.
    """
    X0, R0, done = start if start is not None else (torch.zeros_like(B), B, 0)
    X = X0.clone()
    R = R0.clone()
    P = R.clone()
    rs = (R * R).sum(dim=1)
    b_norm = torch.linalg.norm(B, dim=1).clamp_min(torch.finfo(B.dtype).tiny)
    iters = torch.full((len(B),), done, dtype=torch.long, device=B.device)
    active = torch.sqrt(rs) > tol * b_norm
    negative = False
    min_quotient = float("inf")
    maxiter -= done
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


def solve_cg_auto_damping(
    op: CurvatureOperator, B: torch.Tensor, *, fraction: float, n_steps: int, tol: float, maxiter: int
) -> tuple[torch.Tensor, SolveInfo, float]:
    """CG on the Gauss-Newton curvature whose first iterations also find the damping.

    ``damping="auto"`` is ``fraction`` times the undamped curvature's largest
    eigenvalue. Krylov spaces do not change when the matrix is shifted, so the
    first ``n_steps`` products are block Lanczos on the undamped curvature
    started from the right-hand sides ``B`` (kept orthonormal): the largest Ritz
    value on that basis estimates the eigenvalue (from below), which sets the
    damping, and the same basis and products give the damped system's Galerkin
    solution, the iterate block CG would have reached in as many iterations, and
    its residual exactly, with no further product. CG goes on from there
    (:func:`solve_cg`) while a residual is above ``tol``. The damping's estimate
    therefore costs no pass over the rows of its own, and is taken on the very
    curvature rows that the solve inverts.

    ``op`` carries the optimizer's weight decay only (``damping=0``); on return
    its shift includes the damping found. Returns the solutions, what the solve
    did, and the largest eigenvalue (NaN, with NaN solutions, when a product
    was not finite; 0 when every right-hand side is zero, and so the solutions).
    """
    dtype = torch.float64
    B = B.to(dtype)
    base = op.shift
    Q = next_block(B.new_zeros((0, B.shape[1])), B)  # k x p, dependent right-hand sides left out
    b_norm = torch.linalg.norm(B, dim=1).clamp_min(torch.finfo(B.dtype).tiny)
    X, R, n_done, top, ritz = torch.zeros_like(B), B, 0, None, None
    galerkin = None  # the last step whose shifted T was positive definite: (V, MV, Y, shift)
    for step in op.krylov(Q, min(n_steps, maxiter)) if Q is not None else ():  # steps are iterations
        if step is None:
            nan = [float("nan")] * len(B)
            return torch.full_like(B, float("nan")), SolveInfo("cg", [0] * len(B), nan, False), float("nan")
        V, MV, T = step
        n_done += 1
        ritz = torch.linalg.eigvalsh(T)
        top, previous = float(ritz[-1]), top
        op.shift = base + fraction * abs(top)
        # Galerkin: X = Y^T V with (T + shift I) Y = V B^T, its residual from the kept products; a
        # shifted T that is not positive definite (no curvature, no damping) leaves it to CG to report.
        # Formed (a pass over the basis) only where the loop may stop, and once it has.
        factor, failed = torch.linalg.cholesky_ex(
            T + op.shift * torch.eye(len(T), dtype=dtype, device=T.device)
        )
        if not failed:
            galerkin = (V, MV, torch.cholesky_solve(V @ B.T, factor), op.shift)
        settled = previous is not None and abs(top - previous) <= SETTLED * abs(top)
        if settled:
            if galerkin is not None:
                X, R = _galerkin(B, *galerkin)
                galerkin = None
            if bool((torch.linalg.norm(R, dim=1) <= tol * b_norm).all()):
                break  # the eigenvalue has settled and the damped system is solved
    if galerkin is not None:
        X, R = _galerkin(B, *galerkin)
    X, info = solve_cg(op, B, tol=tol, maxiter=maxiter, start=(X, R, n_done))
    if ritz is not None:  # the smallest Ritz value and CG's Rayleigh quotients bound it from above
        info.min_eigenvalue = min(info.min_eigenvalue, float(ritz[0]) + op.shift)
    return X, info, 0.0 if top is None else top  # no top without a right-hand side: nothing to damp


def _galerkin(B, V, MV, Y, shift):
    """The Galerkin solution ``X = Y^T V`` on the basis rows ``V`` and its residual ``B - M X``, from
    the undamped products ``MV`` and the shift."""
    X = Y.T @ V
    return X, B - Y.T @ MV - shift * X


def subsample_rows(n: int, size: int | float | None, rng: np.random.RandomState) -> np.ndarray:
    """Row indices for a curvature subsample (all rows when ``size`` is None)."""
    if size is None:
        return np.arange(n)
    m = max(1, int(round(size * n)) if isinstance(size, float) else int(size))
    if m >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=m, replace=False))
