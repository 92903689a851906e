"""Influence scores: every training row's ``V @ grad_theta l(z_i)``, by one of several exact methods.

The influence of up-weighting training sample ``i`` on gap ``F`` is
``a_{F,i} = v_F . grad_theta l(z_i)`` with ``v_F = M^{-1} G_F``. No method ever
forms the n x p matrix of per-sample gradients; in a job of several processes
each scores its block of rows (:mod:`._shards`). The methods give the same
scores (up to float rounding) and differ in cost:

``"jvp"``
    The derivative of the batch's per-sample losses along ``v_F``: one
    :func:`torch.func.jvp`, vmapped over the k directions. It propagates k
    tangents through the whole net: slow through convolutions on a CPU. A
    Linear layer that reads the inputs themselves (an MLP's first) gets its
    tangents from one product for all k directions before the pass, on the
    units whose tangent is not zero (a ReLU unit that no curvature or annotated
    row activates has none: 33 of 64 on the CI-MNIST MLP), where the input is
    wider than the k tangents (:mod:`._input_fed`).
``"per_sample"``
    Per-sample gradients ``vmap(grad(loss of one row))`` on chunks of rows (a
    chunk's gradients held under ``memory_budget`` bytes), then
    ``G_chunk @ V.T``. Its cost does not grow with k, its memory grows with p.
``"double_vjp"``
    Reverse over reverse: ``u -> <J^T u, v>`` is linear in the cotangent ``u``
    of the losses, and its gradient in ``u`` is ``J v``, the scores.
``method="auto"`` (the default) is ``"per_sample"`` when a scored parameter
belongs to a convolution (:class:`torch.nn.modules.conv._ConvNd`), else
``"jvp"``: a rule from the measurements below, where it picks the fastest
method for every net. A convolution's weight is shared over the image's
positions, so that its per-sample gradient costs about one backward pass,
while k tangents cost k forward passes through every convolution; without
sharing (a Linear layer) a per-sample gradient is an n x p outer product, and
k tangents are cheaper. The method used is written into ``info``.

Measured with ``benchmarks/scores.py`` (CPU, one thread, 2048 random 3x32x32
rows, k=4, batches of 1024; seconds, median of 3, and in ERM epochs: one epoch
of forward, backward and Adam steps in batches of 128 on the same rows, in the
same run; a method over 3 times the fastest timed once)::

    net (parameters)       jvp             per_sample      double_vjp      ERM epoch
    default CNN (5k)       3.62 s ( 8.6)   1.03 s ( 2.4)   6.04 s (14.4)   0.42 s
    MLP 3072-64 (197k)     0.08 s ( 1.6)   1.28 s (26.1)   0.08 s ( 1.7)   0.05 s
    ResNet-18-ish (700k)  40.8 s ( 8.8)  10.8 s ( 2.3)  89.1 s (19.1)   4.66 s

("auto", the same method, took 1.25 s and 7.94 s on the conv nets: the two
shared CPU cores make single figures vary by about 30 %.) The scores agree to
float32 rounding (3e-7 relative), except that on the ResNet ``"per_sample"``
differs from ``"jvp"`` by 3e-3 of the largest score: it scores each row alone,
and a ReLU input within rounding of zero can flip between a row alone and a
batch; a row's brute-force gradient (alone) agrees with it.

A fourth method was measured and dropped: one batched forward and backward
pass for the loss's gradient at each layer's output, then per layer the
output's derivative along the layer's slice of ``v`` (exact for standard
layers): as fast as ``"jvp"`` on the MLP, and 3 to 5 times slower than
``"per_sample"`` on the conv nets (CNN 7.7 epochs, ResNet 7.2, against 1.5 and
2.0 in a run on 512 rows). Channels-last layout (batch, conv weights and
directions) made ``"jvp"`` 0.67 times as long on the CNN but ``"per_sample"``
1.42 times as long (ResNet: 0.84 and 1.23), so it is not used; ``"double_vjp"``
cannot run on it under :func:`torch.func.vmap`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, jvp, vmap
from torch.nn.modules.conv import _ConvNd

from ._forward_mode import load_forward_mode
from ._input_fed import added_at_outputs, along, bias_of, input_fed_linears, live_stack
from ._shards import my_rows, summed
from ._trees import unflatten

METHODS = ("jvp", "per_sample", "double_vjp")
DEFAULT_MEMORY_BUDGET = 256 * 2**20  # bytes of per-sample gradients "per_sample" holds at once


@dataclass
class _Problem:
    """What every method needs: the model, the scored parameters and the k directions on them."""

    model: object
    sub: dict[str, torch.Tensor]  # the parameters ``V`` lives on
    fixed: dict[str, torch.Tensor]  # the others
    tangents: dict[str, torch.Tensor]  # name -> (k, *shape): the k directions, parameter by parameter
    memory_budget: int
    _input_fed: dict | None = None

    @property
    def k(self) -> int:
        return next(iter(self.tangents.values())).shape[0]

    def losses(self, sub: dict[str, torch.Tensor], x, yb) -> torch.Tensor:
        """Per-sample losses of the batch with the scored parameters at ``sub``."""
        return self.model.losses({**self.fixed, **sub}, x, yb)

    def input_fed(self, x) -> dict:
        """:func:`_input_fed_layers`, found on the first batch and kept for the others."""
        if self._input_fed is None:
            self._input_fed = _input_fed_layers(self, x)
        return self._input_fed


def influence_scores(
    model,
    X,
    y: np.ndarray,
    names: list[str],
    V: torch.Tensor,
    *,
    batch_size: int,
    progress: Callable = lambda it, **kw: it,
    method: str = "auto",
    info: dict | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> np.ndarray:
    """``V @ grad l(z_i)`` for every training row, shape (k, n).

    Parameters
    ----------
    model : NetFunctions
    X, y : training inputs and encoded targets
    names : list of str
        The parameters ``V`` lives on; the others are held fixed.
    V : tensor of shape (k, p)
        The directions (inverse-curvature times gap gradients).
    batch_size : int
    progress : callable
        Wraps the batch iterator (e.g. tqdm).
    method : {"auto", "jvp", "per_sample", "double_vjp"}, default="auto"
        How the scores are computed (all exact; see the module docstring).
        ``"auto"``: ``"per_sample"`` when a scored parameter belongs to a
        convolution, else ``"jvp"`` (:func:`auto_method`).
    info : dict, optional
        Filled with ``"scores_method"``, the method used.
    memory_budget : int, default=256 MiB
        Bytes of per-sample gradients ``"per_sample"`` holds at once.

    Returns
    -------
    ndarray of shape (k, n), float64
    """
    if method not in ("auto", *METHODS):
        raise ValueError(f"method must be 'auto' or one of {METHODS}, got {method!r}.")
    problem = _problem(model, names, V, memory_budget)
    n = len(y)
    mine = my_rows(np.arange(n))  # this process's block of rows; the blocks are summed over the processes
    out = torch.zeros((V.shape[0], n), dtype=torch.float64, device=model.device)
    chosen = auto_method(model, names) if method == "auto" else method
    with model.eval_mode(), torch.enable_grad():
        batches = model.batches(X, y, mine, batch_size)
        for positions, x, yb in progress(batches, total=-(-len(mine) // batch_size), desc="influence"):
            out[:, mine[positions]] = SCORERS[chosen](problem, x, yb).detach().double()
    if info is not None:
        info["scores_method"] = chosen
    return summed(out).cpu().numpy()


def _problem(model, names: list[str], V: torch.Tensor, memory_budget: int) -> _Problem:
    sub = {k: model.params[k] for k in names}
    fixed = {k: v for k, v in model.params.items() if k not in sub}
    tangents = unflatten(V.to(device=model.device, dtype=model.dtype), sub)  # name -> (k, *shape)
    return _Problem(model, sub, fixed, tangents, memory_budget)


# --- the methods: each maps a batch to its (k, batch) scores -------------------------------------


def jvp_scores(problem: _Problem, x, yb) -> torch.Tensor:
    """Forward mode: the losses' derivative along each direction, vmapped over the k directions.

    A Linear layer that reads the inputs themselves (:mod:`._input_fed`) has its share of the k
    tangents, ``x @ V_j^T`` and its bias's, computed before the forward-mode pass by one matrix
    product for all k directions, on the output units whose tangent is not zero in some direction,
    and added at the layer's output as a tangent; its parameters then carry none through the pass.
    """
    load_forward_mode()
    fed = problem.input_fed(x)
    if not fed:

        def directional(t):
            return jvp(lambda s: problem.losses(s, x, yb), (problem.sub,), (t,))[1]

        return vmap(directional)(problem.tangents)
    taken = {name for layer in fed.values() for name in layer.names}
    sub = {k: v for k, v in problem.sub.items() if k not in taken}
    tangents = {k: v for k, v in problem.tangents.items() if k not in taken}
    held = {**problem.fixed, **{k: problem.sub[k] for k in taken}}
    flat = x.reshape(len(x), -1)
    zeros, injected = [], []
    for layer in fed.values():
        z = along(flat, layer.live, layer.stacked, problem.k, layer.width)
        if layer.bias is not None:
            z += problem.tangents[layer.bias][:, None, :]
        zeros.append(flat.new_zeros((len(x), layer.width)))
        injected.append(z)

    with added_at_outputs([layer.module for layer in fed.values()]) as added:

        def losses(s, extra):
            added[:] = [extra]
            return problem.model.losses({**held, **s}, x, yb)

        def directional(t, extra):
            return jvp(losses, (sub, zeros), (t, extra))[1]

        return vmap(directional)(tangents, injected)


@dataclass
class _InputFed:
    """An input-fed Linear layer's share of the k tangents (see :func:`_input_fed_layers`)."""

    module: torch.nn.Module
    weight: str
    bias: str | None  # the scored bias's name, if the bias is scored
    width: int  # output units
    live: torch.Tensor  # (m,) the output units whose weight tangent is not zero in some direction
    stacked: torch.Tensor  # (k * m, inputs): the k directions' weight tangents on those units, stacked

    @property
    def names(self) -> list[str]:
        """The parameters whose tangents this layer's precomputed share carries."""
        return [self.weight] if self.bias is None else [self.weight, self.bias]


def _input_fed_layers(problem: _Problem, x) -> dict[str, _InputFed]:
    """The scored input-fed Linear layers whose tangents are computed before the pass, where that pays
    (:func:`._input_fed.input_fed_linears`), with their live units and stacked tangents."""
    found = input_fed_linears(problem.model, problem.sub, {**problem.fixed, **problem.sub}, x, problem.k)
    fed = {}
    for name, module in found.items():
        tangent = problem.tangents[name]  # (k, width, inputs)
        live, stacked = live_stack(tangent)
        fed[name] = _InputFed(module, name, bias_of(name, problem.sub), tangent.shape[1], live, stacked)
    return fed


def per_sample_scores(problem: _Problem, x, yb) -> torch.Tensor:
    """Per-sample gradients ``vmap(grad(...))`` on chunks of rows, times the directions."""

    def loss_of_row(s, xi, yi):
        return problem.losses(s, _tree_map(lambda t: t.unsqueeze(0), xi), yi.unsqueeze(0))[0]

    gradients = vmap(grad(loss_of_row), in_dims=(None, 0, 0))
    n_rows = len(yb)
    per_row = sum(t.numel() for t in problem.sub.values()) * _itemsize(problem.sub)
    chunk = max(1, min(n_rows, problem.memory_budget // max(per_row, 1)))
    parts = []
    for start in range(0, n_rows, chunk):
        rows = slice(start, start + chunk)
        G = gradients(problem.sub, _tree_map(lambda t, rows=rows: t[rows], x), yb[rows])
        parts.append(_dot(G, problem.tangents))
    return torch.cat(parts, dim=1)


def double_vjp_scores(problem: _Problem, x, yb) -> torch.Tensor:
    """Reverse over reverse: the gradient in the losses' cotangent ``u`` of ``<J^T u, v>``."""
    sub = {k: v.detach().requires_grad_(True) for k, v in problem.sub.items()}
    losses = problem.losses(sub, x, yb)
    u = torch.zeros_like(losses, requires_grad=True)
    Jt_u = torch.autograd.grad(losses, list(sub.values()), grad_outputs=u, create_graph=True)
    along = sum(
        (g.unsqueeze(0) * problem.tangents[k]).reshape(problem.k, -1).sum(1)
        for k, g in zip(sub, Jt_u, strict=True)
    )  # (k,): <J^T u, v_j>, linear in u
    eye = torch.eye(problem.k, dtype=along.dtype, device=along.device)
    return torch.autograd.grad(along, u, grad_outputs=eye, is_grads_batched=True)[0]


SCORERS: dict[str, Callable] = {
    "jvp": jvp_scores,
    "per_sample": per_sample_scores,
    "double_vjp": double_vjp_scores,
}


# --- the selector ---------------------------------------------------------------------------------


def auto_method(model, names: list[str]) -> str:
    """The method ``"auto"`` uses: ``"per_sample"`` when a scored parameter belongs to a convolution,
    else ``"jvp"`` (see the module docstring for the measurements behind the rule)."""
    root = getattr(model, "_wrapper", None)  # NetFunctions' module tree, the names' root
    if not isinstance(root, torch.nn.Module):
        return "jvp"
    owners = {name.rpartition(".")[0] for name in names}
    convolutions = any(isinstance(root.get_submodule(prefix), _ConvNd) for prefix in owners)
    return "per_sample" if convolutions else "jvp"


# --- helpers --------------------------------------------------------------------------------------


def _dot(G: dict[str, torch.Tensor], tangents: dict[str, torch.Tensor]) -> torch.Tensor:
    """``(k, rows)``: per-sample gradients (rows, *shape) dotted with the directions (k, *shape)."""
    rows = next(iter(G.values())).shape[0]
    return sum(tangents[k].reshape(tangents[k].shape[0], -1) @ G[k].reshape(rows, -1).T for k in tangents)


def _tree_map(fn: Callable, x):
    """``fn`` on a tensor, or on each value of a dict of tensors (a batch's inputs)."""
    if isinstance(x, Mapping):
        return {k: _tree_map(fn, v) for k, v in x.items()}
    return fn(x)


def _itemsize(params: dict[str, torch.Tensor]) -> int:
    return next(iter(params.values())).element_size()
