"""Stage 1 of FairIF up to the weight solve: the ERM fit and the influence scores.

:func:`fit_stage1` is a pure function of its arguments, so that ``memory=``
can cache it as :class:`~sklearn.pipeline.Pipeline` caches transformers: a grid
over the weight solve's parameters then fits ERM and computes influence once.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from .._influence import (
    AnnotatedGaps,
    InfluenceResult,
    InfluenceSettings,
    compute_influence,
    resolve_method,
    same_seed,
)
from .._runtime import progress_bar, report
from .._skorch import (
    NetFunctions,
    check_outputs,
    check_trained,
    fit_net,
    is_frozen,
    probability_output_hint,
    resolve_finetune_solver,
    seeded,
    unfrozen,
)
from .._validation import FitData

logger = logging.getLogger(__name__)
ERM_REMEDY = (
    "a smaller learning rate (the net's lr), gradient clipping (skorch's GradientNormClipping callback), "
    "and check that X holds no NaN or infinite values"
)


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

    @property
    def gaps_stderr(self) -> np.ndarray:
        """The standard error of each gap over the draw of the annotated rows, shape (n_gaps,)."""
        return self.influence.gaps_stderr

    @property
    def rates_stderr(self) -> np.ndarray:
        """The same for each (rate, group) cell's rate, shape (n_cells,)."""
        return self.influence.rates_stderr

    def info(self) -> dict:
        """Diagnostics of the influence computation, for ``influence_info_``."""
        result = self.influence
        return {
            "method": result.method,
            "damping": result.damping,
            "n_params": int(result.directions.shape[1]),
            "n_directions": int(result.directions.shape[0]),
            "solver": result.solve.solver,
            "solver_n_iter": result.solve.n_iter,
            "solver_residual": result.solve.residual,
            "solver_converged": result.solve.converged,
            "negative_curvature": result.solve.negative_curvature,
            "min_eigenvalue": result.solve.min_eigenvalue,
            "n_curvature_rows": result.n_curvature_rows,
            **result.diagnostics,
        }


@functools.cache
def source_digest() -> str:
    """A digest of this package's source code, part of every ``memory`` key of stage 1.

    joblib's :class:`~joblib.Memory` notices a change of the cached function's own
    code only, not of the code it calls (the influence engine, the skorch adapter,
    the results' classes). Without the digest a cache written by another version
    would be read back: an error where a result's fields changed, and worse, a
    silently stale result where only the arithmetic did.
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fit_erm(estimator, X, y: np.ndarray, seed: int, verbose: int = 0, sample_weight=None, code: str = ""):
    """A clone of ``estimator`` fitted by ERM (on the loss weighted by ``sample_weight``, when given),
    with torch seeded by ``seed``; ``code`` (:func:`source_digest`) is read by ``memory``'s key only."""
    net = clone(estimator)
    report(logger, verbose, "[FairIF] ERM fit on %d rows", len(y))
    with seeded(seed, net.device):
        fit_net(net, X, y, sample_weight)
    check_trained(net, "The ERM fit", ERM_REMEDY, lambda: probability_output_hint(estimator, X, y))
    return net


def influence_at(
    net,
    data: FitData,
    gaps_of: AnnotatedGaps,
    settings: InfluenceSettings,
    seed: int,
    verbose: int = 0,
    code: str = "",
    finetune_solver: str | None = None,
) -> InfluenceResult:
    """Influence at a fitted net (with the standard errors of the gaps and of the cells' rates there;
    ``code`` as :func:`fit_erm` takes it).

    ``finetune_solver`` (the fine-tune's, None without one) is resolved here, on the fitted net: the
    curvature's largest eigenvalue is estimated when it is Nesterov's, whose step needs it."""
    check_outputs(net, data.X_train, data.y_train, len(data.classes))
    if finetune_solver is not None and resolve_finetune_solver(finetune_solver, net) == "nesterov":
        settings = replace(settings, largest_eigenvalue=True)
    model = NetFunctions(net)
    method = resolve_method(settings.method, model)
    report(logger, verbose, "[FairIF] influence (%s) on %d parameters", method, model.n_params())
    return compute_influence(
        model,
        data.X_train,
        data.y_train,
        gaps_of,
        settings,
        random_state=np.random.RandomState(seed),
        progress=progress_bar(verbose),
        sample_weight=data.w_train,
    )


def fit_stage1(
    estimator,
    data: FitData,
    gaps_of: AnnotatedGaps,
    settings: InfluenceSettings,
    *,
    random_state,
    memory,
    verbose: int = 0,
    finetune_solver: str | None = None,
) -> Stage1:
    """The ERM fit on the training rows, then influence; ``memory`` caches each of the two.

    The ERM fit depends on the training rows only, not on the annotated set:
    fits that differ in their annotated set alone (the folds of
    :class:`FairIFClassifierCV`) share it through the cache. A net given as
    already trained (a :class:`~sklearn.frozen.FrozenEstimator`) is the ERM
    model itself: no fit, and the net is only read. ``finetune_solver``: the
    fine-tune's, when a given damping leaves stage 1 to decide whether to
    estimate the curvature's largest eigenvalue for it (:func:`influence_at`).
    """
    # every process of a distributed job takes process 0's seed: same initialisation and subsamples
    seed = same_seed(int(check_random_state(random_state).randint(0, 2**31 - 1)))
    if is_frozen(estimator):
        net = unfrozen(estimator)
        check_trained(
            net,
            "The net given as trained (FrozenEstimator)",
            "training it again: " + ERM_REMEDY,
            lambda: probability_output_hint(net, data.X_train, data.y_train),
        )
        influence = memory.cache(influence_at, ignore=["verbose"])
        result = influence(net, data, gaps_of, settings, seed, verbose, source_digest(), finetune_solver)
        return Stage1(net, result, seed)
    # influence is cached under what the ERM net is a function of, not the net itself: a net read
    # back from the cache does not hash as the one that was stored
    influence = memory.cache(_erm_then_influence, ignore=["memory", "verbose"])
    net, result = influence(
        estimator, data, gaps_of, settings, seed, memory, verbose, source_digest(), finetune_solver
    )
    return Stage1(net, result, seed)


def _erm_then_influence(
    estimator, data, gaps_of, settings, seed, memory, verbose=0, code="", finetune_solver=None
):
    """The ERM fit (cached apart through ``memory``, for fits that share the training rows) and influence
    at it (``code`` and ``finetune_solver`` as :func:`fit_erm` and :func:`influence_at` take them)."""
    erm = memory.cache(fit_erm, ignore=["verbose"])
    net = erm(estimator, data.X_train, data.y_train, seed, verbose, data.w_train, code)
    return net, influence_at(net, data, gaps_of, settings, seed, verbose, finetune_solver=finetune_solver)


def weights_for_rows(train_mask: np.ndarray, train_weights: np.ndarray) -> np.ndarray:
    """One weight per row of the ``X`` given to ``fit``: zero for rows not trained on."""
    weight = np.zeros(len(train_mask))
    weight[train_mask] = train_weights
    return weight
