"""Rounds of reweighting: solve for weights, train stage 2, measure, re-linearise, again.

A round starts from a model (the ERM model first) and the weights it was trained
with (one first). If its gaps on the annotated set are within their noise
threshold there is nothing to correct and the rounds stop. Otherwise the weight
solve finds the change of weights that closes them to first order, stage 2
trains with the new weights (by default the proximal Bregman fine-tune that
influence predicts), and the gaps are measured again. What the first order
under-delivered is what the next round, re-linearised at the new model, starts
from. The rounds stop when the gaps are within their threshold or after
``max_rounds``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from .._influence import compute_influence
from .._runtime import progress_bar
from .._skorch import NetFunctions, finetune_net, fit_net, seeded, unfrozen
from .._validation import FitData
from ._stage1 import Stage1


@dataclass
class Round:
    """What one round did, on the annotated set."""

    index: int
    gaps: np.ndarray
    predicted_gaps: np.ndarray
    weight_std: float
    n_zero_weight: int
    solve_converged: bool
    final_gaps: np.ndarray | None = None

    @property
    def materialization(self) -> np.ndarray:
        """Realised over predicted change of each gap (NaN before stage 2 or when none was predicted)."""
        predicted = self.predicted_gaps - self.gaps
        if self.final_gaps is None:
            return np.full(len(predicted), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(predicted != 0, (self.final_gaps - self.gaps) / predicted, np.nan)

    def as_dict(self) -> dict:
        return {
            "round": self.index,
            "gaps": self.gaps,
            "predicted_gaps": self.predicted_gaps,
            "final_gaps": self.final_gaps,
            "materialization": self.materialization,
            "weight_std": self.weight_std,
            "n_zero_weight": self.n_zero_weight,
            "solve_converged": self.solve_converged,
        }


def finetune_epochs(est) -> int:
    """``finetune_epochs="auto"``: one epoch, whose iterates are averaged. The fine-tune's objective
    is strongly convex near the fitted parameters (its curvature is at least the damping), and one
    pass reaches its minimum on the nets we measured (more epochs change the result by less than
    the seed-to-seed noise; see the user guide)."""
    return 1 if est.finetune_epochs == "auto" else est.finetune_epochs


def train_stage2(est, net, data: FitData, weights, base, *, erm_seed: int, index: int, damping: float):
    """A new net trained with ``weights``, from ``net`` (trained with ``base``) or from scratch."""
    X, y = data.X_train, data.y_train
    if est.retrain == "scratch":  # the paper's: a fresh clone, the ERM fit's initialisation and batch order
        new = clone(unfrozen(est.estimator))
        with seeded(erm_seed, new.device):
            fit_net(new, X, y, weights)
        return new
    new = copy.deepcopy(net)
    with seeded(erm_seed + index, new.device):
        if est.retrain == "warm_start":  # continued training with the weights, no proximal term
            new.set_params(warm_start=True)
            fit_net(new, X, y, weights)
            new.set_params(warm_start=unfrozen(est.estimator).warm_start)
        else:
            strength = NetFunctions(net).weight_decay + damping
            finetune_net(new, X, y, weights, base_weight=base, strength=strength, epochs=finetune_epochs(est))
    return new


def run_rounds(est, data: FitData, stage1: Stage1, *, threshold, target, final_fit: bool):
    """The rounds (module docstring); returns the last net, the weights of the training rows, the rounds.

    ``final_fit`` trains stage 2 after the last solve too (the classifier); the
    weigher stops at the last round's weights.
    """
    gaps_of = est._gaps_of(data)
    result = stage1.influence
    net, weights, rounds = stage1.erm_estimator, np.ones(len(data.y_train)), []
    gaps = result.gaps
    for index in range(1, est.max_rounds + 1):
        if np.all(np.abs(gaps) <= threshold):
            break
        solution = est._solve(result, weights, target)
        round_ = Round(
            index,
            gaps,
            solution.predicted_gaps,
            float(np.std(solution.sample_weight)),
            solution.n_clipped,
            solution.converged,
        )
        rounds.append(round_)
        last = index == est.max_rounds
        if last and not final_fit:
            est._log(est._rounds_summary(round_))
            weights = solution.sample_weight
            break
        net = train_stage2(
            est,
            net,
            data,
            solution.sample_weight,
            weights,
            erm_seed=stage1.seed,
            index=index,
            damping=result.damping,
        )
        weights = solution.sample_weight
        model = NetFunctions(net)
        round_.final_gaps = gaps = gaps_of.values(model)
        est._log(est._rounds_summary(round_))
        if last or np.all(np.abs(gaps) <= threshold):
            break
        result = compute_influence(
            model,
            data.X_train,
            data.y_train,
            gaps_of,
            est._influence_settings(damping=result.damping),
            random_state=np.random.RandomState(stage1.seed + index),
            progress=progress_bar(est.verbose),
        )
    return net, weights, rounds
