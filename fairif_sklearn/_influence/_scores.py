"""Influence scores as forward-mode directional derivatives.

The influence of up-weighting training sample ``i`` on gap ``F`` is
``a_{F,i} = v_F . grad_theta l(z_i)`` with ``v_F = M^{-1} G_F``. That is the
derivative of the per-sample loss along ``v_F``: one :func:`torch.func.jvp` of
the vector of a batch's losses gives the whole batch's scores, and a
:func:`torch.func.vmap` over the k directions gives all k rows at once. No
per-sample gradient (an n x p matrix) is ever formed. In a job of several
processes each scores its block of rows (:mod:`._shards`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.func import jvp, vmap

from ._shards import my_rows, summed
from ._trees import unflatten


def influence_scores(
    model,
    X,
    y: np.ndarray,
    names: list[str],
    V: torch.Tensor,
    *,
    batch_size: int,
    progress: Callable = lambda it, **kw: it,
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
    """
    sub = {k: model.params[k] for k in names}
    fixed = {k: v for k, v in model.params.items() if k not in sub}
    rows_as_dicts = [unflatten(v.to(device=model.device, dtype=model.dtype), sub) for v in V]
    tangents = {k: torch.stack([d[k] for d in rows_as_dicts]) for k in sub}
    n = len(y)
    mine = my_rows(np.arange(n))  # this process's block of rows; the blocks are summed over the processes
    out = torch.zeros((V.shape[0], n), dtype=torch.float64, device=model.device)
    with model.eval_mode():
        batches = model.batches(X, y, mine, batch_size)
        for positions, x, yb in progress(batches, total=-(-len(mine) // batch_size), desc="influence"):

            def losses(s, x=x, yb=yb):
                return model.losses({**fixed, **s}, x, yb)

            def directional(t, losses=losses):
                return jvp(losses, (sub,), (t,))[1]

            out[:, mine[positions]] = vmap(directional)(tangents).detach().double()
    return summed(out).cpu().numpy()
