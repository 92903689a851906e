"""Stage 1 of FairIF up to the weight solve: the ERM fit and the influence scores.

:func:`fit_stage1` is a pure function of its arguments, so that ``memory=``
can cache it as :class:`~sklearn.pipeline.Pipeline` caches transformers: a grid
over the weight solve's parameters then fits ERM and computes influence once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from .._influence import InfluenceResult, InfluenceSettings, compute_influence
from .._runtime import progress_bar
from .._skorch import NetFunctions, fit_net, seeded
from .._validation import FitData


@dataclass
class Stage1:
    """The part of a FairIF fit that the weight solve does not change.

    Attributes
    ----------
    erm_estimator : skorch net
        The net fitted by ERM.
    influence : InfluenceResult
        Gaps, their names, influence scores and what the solve did.
    seed : int
        The torch seed of the ERM fit (initialisation, batch order), reused by
        any later fit so that the weights are the only difference.
    """

    erm_estimator: Any
    influence: InfluenceResult
    seed: int

    def info(self) -> dict:
        """Diagnostics of the influence computation, for ``influence_info_``."""
        result = self.influence
        return {
            "method": result.method,
            "n_params": int(result.directions.shape[1]),
            "solver": result.solve.solver,
            "solver_n_iter": result.solve.n_iter,
            "solver_residual": result.solve.residual,
            "solver_converged": result.solve.converged,
            "negative_curvature": result.solve.negative_curvature,
            "min_eigenvalue": result.solve.min_eigenvalue,
            "n_curvature_rows": result.n_curvature_rows,
            **result.diagnostics,
        }


def fit_stage1(
    estimator, data: FitData, settings: InfluenceSettings, *, random_state, verbose: int = 0
) -> Stage1:
    """Fit a clone of ``estimator`` by ERM on the training rows, then compute influence."""
    rng = check_random_state(random_state)
    seed = int(rng.randint(0, 2**31 - 1))
    net = clone(estimator)
    log = print if verbose else (lambda *a, **k: None)
    log(f"[FairIF] ERM fit on {len(data.y_train)} rows", flush=True)
    with seeded(seed, net.device):
        fit_net(net, data.X_train, data.y_train)
    model = NetFunctions(net)
    log(f"[FairIF] influence ({settings.method}) on {model.n_params()} parameters", flush=True)
    result = compute_influence(
        model,
        data.X_train,
        data.y_train,
        data.X_val,
        data.y_val,
        data.g_val,
        data.groups.names,
        settings,
        random_state=rng,
        progress=progress_bar(verbose),
    )
    return Stage1(net, result, seed)


def weights_for_rows(train_mask: np.ndarray, train_weights: np.ndarray) -> np.ndarray:
    """One weight per row of the ``X`` given to ``fit``: zero for rows not trained on."""
    weight = np.zeros(len(train_mask))
    weight[train_mask] = train_weights
    return weight
