"""Stage 2: rounds of reweighting: solve for weights, train with them, check, re-linearise, again.

Everything here takes its inputs explicitly: stage 1's result, the data, the
annotated set's gaps as functions of a model, and :class:`Stage2Settings` (the
estimators' parameters that say how to solve and train); no estimator is passed
down.

A round starts from a model (the ERM model first) and the weights it was trained
with (one first). If its gaps on the annotated set are within their noise
threshold there is nothing to correct and the rounds stop. Otherwise the weight
solve finds the change of weights that closes them to first order, stage 2
trains with the new weights (by default the proximal Bregman fine-tune that
influence predicts), and the gaps are measured again. What the first order
under-delivered is what the next round, re-linearised at the new model, starts
from. The rounds stop when the gaps are within their threshold or after
``max_rounds``.

Stage 2 is checked against what it was asked to do: a round whose fine-tuned
model leaves any gap on the annotated set larger than it started (beyond the
gap's standard error), or, when levelling up, lowers the lower side of a chased
gap or the lowest group's rate of any rate (beyond its standard error), is shortened to the longest step along
the segment from the previous model that passes, or rejected (step 0: the
previous model is kept, and the rounds stop). The rates' standard errors are
allowances counted from the ERM model in every round, in the solve and in the
check: a later round may not take a rate lower than its ERM value less its
standard error (or lower than it starts, if it is already below that).

A later round measures the soft rates at ``later_temperature``: ``"auto"``
chooses it afresh at the model the previous round ended at
(:func:`~fairif_sklearn._influence.responsive_temperature`), ``"same"`` keeps the
first round's. At a new temperature everything the round is judged by is
measured again at it: its gaps and their bands (from their standard errors),
and the ERM model's rates, from which the allowances count.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.base import clone

from .._influence import InfluenceSettings, compute_influence
from .._runtime import progress_bar, report
from .._skorch import (
    NetFunctions,
    check_trained,
    finetune_net,
    fit_net,
    interpolate_net,
    nesterov_step,
    resolve_finetune_solver,
    seeded,
    unfrozen,
)
from .._validation import FitData
from .._weights import FairSolution, first_order, rate_floors, solve_fair_weights, solve_weights
from ._stage1 import Stage1

logger = logging.getLogger(__name__)


@dataclass
class Round:
    """What one round did, on the annotated set: gaps and (rate, group) cells' rates where it started,
    as predicted, and after stage 2 (``step``: how far towards the fine-tune the round went)."""

    index: int
    gaps: np.ndarray
    predicted_gaps: np.ndarray
    rates: np.ndarray
    predicted_rates: np.ndarray
    weight_std: float
    n_zero_weight: int
    solve_converged: bool
    closure: float = 1.0
    final_gaps: np.ndarray | None = None
    final_rates: np.ndarray | None = None
    final_rates_stderr: np.ndarray | None = None
    full_step_gaps: np.ndarray | None = None
    full_step_rates: np.ndarray | None = None
    step: float = 1.0
    chased: np.ndarray | None = None
    finetune_solver: str | None = None
    finetune_epochs: int | None = None
    temperature: float | None = None

    @property
    def materialization(self) -> np.ndarray:
        """Realised over predicted change of each gap for the step taken (NaN before stage 2, for a
        rejected round, or when no change was predicted)."""
        predicted = self.step * (self.predicted_gaps - self.gaps)
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
            "rates": self.rates,
            "predicted_rates": self.predicted_rates,
            "final_rates": self.final_rates,
            "final_rates_stderr": self.final_rates_stderr,
            "closure": self.closure,
            "step": self.step,
            "full_step_gaps": self.full_step_gaps,
            "full_step_rates": self.full_step_rates,
            "weight_std": self.weight_std,
            "n_zero_weight": self.n_zero_weight,
            "solve_converged": self.solve_converged,
            "finetune_solver": self.finetune_solver,
            "finetune_epochs": self.finetune_epochs,
            "temperature": self.temperature,
        }


@dataclass(frozen=True)
class Stage2Settings:
    """The estimators' parameters that say how the rounds solve and train (the estimators document
    them). ``estimator`` is the user's net (cloned for a retrain from scratch, never modified);
    ``finetune_solver`` and ``finetune_epochs`` may be ``"auto"``, resolved per fit and round
    (:func:`~fairif_sklearn._skorch.resolve_finetune_solver`, :func:`finetune_plan`);
    ``bands`` gives each gap's ``(threshold, target)`` from the gaps' standard errors, for a round
    at a ``later_temperature`` (a number, ``"auto"`` or ``"same"``)."""

    estimator: Any
    retrain: str
    finetune_epochs: int | str
    max_rounds: int
    levelling: str
    closure: float
    alpha: float | None
    verbose: int = 0
    relinearise_below: float | None = None
    finetune_solver: str = "net"
    later_temperature: float | str = "same"
    bands: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None


# ``max_rounds="auto"``: at most this many rounds, a later one only when the previous round's fine-tune
# realised less than this share of the change influence predicted for some chased gap
AUTO_ROUNDS, UNDER_DELIVERED = 2, 0.5


def resolve_max_rounds(max_rounds, *, trains_stage2: bool = True) -> tuple[int, float | None]:
    """``(max_rounds, relinearise_below)`` from the estimators' ``max_rounds``; ``trains_stage2``
    False (the weigher) resolves ``"auto"`` to one round, as it trains no fine-tune to judge.

    ``"auto"``: a round whose fine-tune realised less than half of the predicted change of a chased
    gap is re-linearised where it ended and solved again, two rounds at most; one that realised
    more stops. Influence is a first-order prediction, and the larger the weight change the
    smaller the share of it a fine-tune realises (the response curves away over the step): when
    less than half was realised, a round from where the fine-tune ended corrects what the first
    order missed; when more was, the first order held, and a further round would only chase what
    is left on the same annotated rows (on Adult it gave back part of the EOD cut; the results
    page). Each later round costs a stage 1 and a fine-tune, hence the cap. An integer: that many
    rounds whenever a gap is still beyond its noise.
    """
    if max_rounds == "auto":
        return (AUTO_ROUNDS, UNDER_DELIVERED) if trains_stage2 else (1, None)
    return int(max_rounds), None


def under_delivered(round_: Round, share: float) -> bool:
    """Whether a round's fine-tune realised less than ``share`` of the predicted change of some
    chased gap (a gap with nothing predicted, or a rejected round, counts as not)."""
    ratio = round_.materialization
    chased = np.ones(len(ratio), bool) if round_.chased is None else round_.chased
    ratio = ratio[chased & np.isfinite(ratio)]
    return bool(round_.step > 0 and np.any(ratio < share))


@dataclass(frozen=True)
class FinetunePlan:
    """How one round's fine-tune trains: its proximal ``strength``, ``epochs`` and, for the Nesterov
    fine-tune, its ``(step, momentum)``."""

    strength: float
    epochs: int
    nesterov: tuple[float, float] | None = None


def finetune_plan(
    settings: Stage2Settings,
    net,
    weights: np.ndarray,
    *,
    damping: float,
    largest_eigenvalue: float | None = None,
) -> FinetunePlan:
    """The fine-tune of ``net`` with ``weights`` (``settings.finetune_solver`` resolved).

    ``finetune_epochs="auto"``: one epoch, whose iterates are averaged. The
    objective is strongly convex near the fitted parameters (its curvature is
    at least the damping); on the MLPs more epochs changed the result by less
    than the seed-to-seed noise (the user guide), and on a ResNet, held out,
    five epochs of Nesterov's closed the gaps by lowering the better-off
    group's rate (the results page).
    """
    strength = NetFunctions(net).proximal_strength(damping)
    epochs = 1 if settings.finetune_epochs == "auto" else int(settings.finetune_epochs)
    if settings.finetune_solver != "nesterov":
        return FinetunePlan(strength, epochs)
    return FinetunePlan(strength, epochs, nesterov_step(weights, largest_eigenvalue, strength))


def _log(settings: Stage2Settings, message: str) -> None:
    report(logger, settings.verbose, "[FairIF] %s", message)


def solve_round(
    result, base, threshold, target, rate_slack, settings: Stage2Settings, anchor_rates=None
) -> FairSolution:
    """The weights from a round's influence: the bound form (levelling up or not: no rate may fall
    by more than ``rate_slack``, its standard error, below ``anchor_rates``, the ERM model's), or the
    paper's penalty with ``alpha``."""
    if settings.alpha is None:
        return solve_fair_weights(
            result.rate_scores,
            result.rates,
            result.gap_rows,
            threshold,
            target,
            level_up=settings.levelling == "up",
            rate_slack=rate_slack,
            anchor_rates=anchor_rates,
            closure=settings.closure,
            base=base,
        )
    sol = solve_weights(result.scores, result.gaps, settings.alpha, base=base)
    return FairSolution(
        **vars(sol), predicted_rates=first_order(result.rate_scores, result.rates, sol.sample_weight - base)
    )


def _shown(values) -> str:
    """Gaps as a message shows them: four decimals, and small ones in scientific notation, not zero."""
    return np.array2string(np.asarray(values, dtype=float), precision=4)


def _warn_closure(round_: Round, levelling: str) -> None:
    up = levelling == "up"
    warnings.warn(
        f"Round {round_.index}: no weights close every chased gap to its band "
        + ("without lowering a group's rate beyond its standard error" if up else "")
        + f" (to first order); the weights close {round_.closure:.0%} of the way, predicted gaps "
        f"{_shown(round_.predicted_gaps)}."
        + (" levelling='any' allows closing them by lowering rates." if up else ""),
        UserWarning,
        stacklevel=5,
    )


def _warn_rejected(
    round_: Round, threshold, levelling: str, rate_names: list[str], n_rows: int, solver: str
) -> None:
    """The first round's fine-tune failed the realised check at every step: the ERM model is kept,
    its gaps still beyond their noise. Say so, rather than return the ERM model silently, with each
    cell's rate before and after the fine-tune, so that a user sees what moved (a fine-tune that
    sends every row to one class closes every gap and fails the check)."""
    up = levelling == "up"
    n_beyond = int(np.sum(np.abs(round_.gaps) > threshold))
    moved = ", ".join(
        f"{name} {start:.4f} -> {end:.4f}"
        for name, start, end in zip(rate_names, round_.rates, round_.full_step_rates, strict=True)
    )
    warnings.warn(
        f"FairIF kept the ERM model, whose gaps {_shown(round_.gaps)} ({n_beyond} beyond their "
        f"noise) stay as they were: stage 2's fine-tune, predicted to reach "
        f"{_shown(round_.predicted_gaps)}, reached {_shown(round_.full_step_gaps)}, and no "
        "step tried towards it passed the check on the annotated set (a gap wider than it started"
        + (", or a lower-side rate lower," if up else "")
        + f" beyond its standard error): the first-order prediction did not hold over the weights "
        f"asked for (their standard deviation {round_.weight_std:.3g}, zero on {round_.n_zero_weight} of "
        f"{n_rows} training rows). Each cell's rate on the annotated set at ERM and after the fine-tune: "
        f"{moved}."
        + (
            " Raising the lower rates alone can need weights that the fine-tune does not follow on a "
            "net that leans on a shortcut; levelling='any' allows closing the gaps by lowering rates "
            "(check the worst (class, group) cell)."
            if up
            else ""
        )
        + (
            " An adaptive optimizer (the net's: Adam, ...) moves the parameters by about its learning rate "
            "per step whatever the change of weights; finetune_solver='nesterov' moves them in proportion "
            "to it, as influence predicts."
            if solver == "net"
            else ""
        ),
        UserWarning,
        stacklevel=5,
    )


def summary(round_: Round) -> str:
    """One line on a round: where its gaps started, the prediction, and what stage 2 did."""
    after = ""
    if round_.final_gaps is not None:
        after = f" -> after stage 2 {_shown(round_.final_gaps)}"
        if round_.step < 1:
            after += f" (the fine-tune reached {_shown(round_.full_step_gaps)}: " + (
                "rejected, the previous model is kept)" if round_.step == 0 else f"step {round_.step})"
            )
    return (
        f"round {round_.index}: gaps {_shown(round_.gaps)} -> predicted "
        f"{_shown(round_.predicted_gaps)}" + after
    )


def train_stage2(
    settings: Stage2Settings,
    net,
    data: FitData,
    weights,
    base,
    *,
    erm_seed: int,
    index: int,
    plan: FinetunePlan | None = None,
):
    """A new net trained with ``weights``, from ``net`` (trained with ``base``: fine-tuned as ``plan``
    says) or from scratch."""
    X, y = data.X_train, data.y_train
    if (
        settings.retrain == "scratch"
    ):  # the paper's: a fresh clone, the ERM fit's initialisation and batch order
        new = clone(unfrozen(settings.estimator))
        with seeded(erm_seed, new.device):
            fit_net(new, X, y, weights)
        return new
    new = copy.deepcopy(net)
    with seeded(erm_seed + index, new.device):
        if settings.retrain == "warm_start":  # continued training with the weights, no proximal term
            new.set_params(warm_start=True)
            fit_net(new, X, y, weights)
            new.set_params(warm_start=unfrozen(settings.estimator).warm_start)
        else:
            finetune_net(
                new, X, y, weights, base_weight=base, strength=plan.strength, epochs=plan.epochs,
                nesterov=plan.nesterov,
            )  # fmt: skip
    return new


# the steps tried, longest first, from the previous model towards a fine-tune whose realised gaps fail
# the check (a fit from scratch is not on a segment from the previous model: accepted or rejected whole)
STEPS = (1.0, 0.5, 0.25, 0.125)


@dataclass
class RealisedCheck:
    """What stage 2 must not do, judged on the annotated set after it: leave a gap larger than it
    started, or, when levelling up, lower the lower side of a chased gap or the lowest group's rate
    of any rate (each beyond its standard error). A later round is judged against ``anchor_rates``
    too (the ERM model's; the round's start when None): it may not take a rate below its ERM value
    less its standard error, nor a gap wider than at ERM by more than its standard error (nor,
    as every round, worse than where it started beyond that), so the rounds' allowances do not
    add up."""

    gap_rows: np.ndarray
    start_rates: np.ndarray
    gap_noise: np.ndarray
    rate_noise: np.ndarray
    chased: np.ndarray | None
    n_groups: int
    level_up: bool
    anchor_rates: np.ndarray | None = None

    @property
    def anchor(self) -> np.ndarray:
        """The rates the allowances count from: the ERM model's, or the round's start."""
        return self.start_rates if self.anchor_rates is None else self.anchor_rates

    def _floor(self, weights: np.ndarray) -> np.ndarray:
        """Rows of ``weights`` over the cells (sides, or single cells): how low each may end."""
        noise = np.sqrt(weights**2 @ self.rate_noise**2)
        return rate_floors(weights @ self.start_rates, weights @ self.anchor, noise)

    def _lower_sides(self) -> np.ndarray:
        """Rows over the cells: the mean of each chased gap's lower side (the cells its row weighs
        with the sign opposite to the gap's)."""
        gaps = self.gap_rows @ self.start_rates
        chased = np.zeros(len(gaps), bool) if self.chased is None else self.chased
        sides = [
            np.maximum(-np.sign(d) * row, 0)
            for row, d in zip(self.gap_rows[chased], gaps[chased], strict=True)
        ]
        return np.array([side / side.sum() for side in sides]).reshape(-1, len(self.start_rates))

    def passes(self, rates: np.ndarray) -> bool:
        start, gaps = np.abs(self.gap_rows @ self.start_rates), self.gap_rows @ rates
        anchor = np.abs(self.gap_rows @ self.anchor)
        # no wider than at the round's start, nor than at ERM, beyond the gap's standard error
        if np.any(
            np.abs(gaps) > np.minimum(start + self.gap_noise, np.maximum(start, anchor + self.gap_noise))
        ):
            return False
        if not self.level_up:
            return True
        sides = self._lower_sides()
        if np.any(sides @ rates < self._floor(sides)):
            return False
        blocks = np.arange(len(rates)).reshape(-1, self.n_groups)  # cells are rate-major
        lowest = blocks[np.arange(len(blocks)), np.argmin(self.start_rates[blocks], axis=1)]
        return bool(np.all(rates[blocks].min(axis=1) >= self._floor(np.eye(len(rates))[lowest])))


def settle(previous, trained, gaps_of, check: RealisedCheck, *, segment: bool):
    """The longest step from ``previous`` towards ``trained`` whose realised rates pass ``check``:
    ``(step, net, rates, rates_stderr, full_step_rates)``; step 0 keeps ``previous`` (the round is
    rejected; its rates and standard errors are then None: the caller has them)."""
    full = None
    for step in STEPS if segment else STEPS[:1]:
        net = trained if step == 1 else interpolate_net(previous, trained, step)
        rates, rates_stderr = gaps_of.rates_and_errors(NetFunctions(net))
        full = rates if full is None else full
        if check.passes(rates):
            return step, net, rates, rates_stderr, full
    return 0.0, previous, None, None, full


@dataclass(frozen=True)
class Yardstick:
    """What a round is measured and judged by, at one temperature: ``gaps_of`` (the annotated set's
    soft rates at it), the ERM model's rates there and their standard errors (the allowances), the
    gaps' standard errors, and each gap's band (``threshold``: chased beyond it; ``target``: the
    near edge it is closed to)."""

    gaps_of: Any
    erm_rates: np.ndarray
    rates_stderr: np.ndarray
    gaps_stderr: np.ndarray
    threshold: np.ndarray
    target: np.ndarray

    def at_later_temperature(self, temperature, net, erm_net, bands) -> Yardstick:
        """This yardstick for a later round at ``temperature`` (``"auto"``: chosen at ``net``, where
        the previous round ended; ``"same"``: itself), measured again when the temperature changes."""
        if temperature == "same":
            return self
        gaps_of = replace(self.gaps_of, temperature=temperature).at_temperature_of(NetFunctions(net))
        if gaps_of.temperature == self.gaps_of.temperature:
            return self
        erm_rates, rates_stderr = gaps_of.rates_and_errors(NetFunctions(erm_net))
        gaps_stderr = gaps_of.gap_errors(rates_stderr)
        return Yardstick(gaps_of, erm_rates, rates_stderr, gaps_stderr, *bands(gaps_stderr))


def run_rounds(
    data: FitData,
    stage1: Stage1,
    gaps_of,
    influence_settings: InfluenceSettings,
    settings: Stage2Settings,
    *,
    threshold,
    target,
    final_fit: bool,
):
    """The rounds (module docstring); returns the last net, the weights of the training rows, the rounds.

    ``gaps_of`` measures the annotated set's rates and gaps at a model (an
    :class:`~fairif_sklearn._influence.AnnotatedGaps`, at stage 1's
    temperature); ``influence_settings`` say how later rounds re-linearise.
    ``final_fit`` trains stage 2 after the last solve too (the classifier), and
    checks each round's realised gaps (:class:`RealisedCheck`): a round that
    fails is shortened along the segment from the previous model to its
    fine-tune, or rejected; the weigher stops at the last round's weights.
    """
    result = stage1.influence
    solver = resolve_finetune_solver(settings.finetune_solver, stage1.erm_estimator)
    settings = replace(settings, finetune_solver=solver)
    base = np.ones(len(data.y_train)) if data.w_train is None else data.w_train  # what ERM trained with
    net, weights, rounds = stage1.erm_estimator, base, []
    rates, rates_stderr = result.rates, stage1.rates_stderr  # at the current model
    yardstick = Yardstick(gaps_of, result.rates, stage1.rates_stderr, stage1.gaps_stderr, threshold, target)
    # the curvature's largest eigenvalue (with damping="auto", or asked for): later rounds keep stage 1's
    top = result.diagnostics.get("largest_eigenvalue")
    for index in range(1, settings.max_rounds + 1):
        gaps = result.gap_rows @ rates
        if np.all(np.abs(gaps) <= yardstick.threshold):
            break
        solution = solve_round(
            result, weights, yardstick.threshold, yardstick.target, yardstick.rates_stderr, settings,
            yardstick.erm_rates,
        )  # fmt: skip
        round_ = Round(
            index,
            gaps,
            solution.predicted_gaps,
            rates,
            solution.predicted_rates,
            float(np.std(solution.sample_weight)),
            solution.n_clipped,
            solution.converged,
            closure=solution.closure,
            chased=solution.chased,
            temperature=float(yardstick.gaps_of.temperature),
        )
        rounds.append(round_)
        if settings.alpha is None and solution.closure < settings.closure:
            _warn_closure(round_, settings.levelling)
        last = index == settings.max_rounds
        if last and not final_fit:
            _log(settings, summary(round_))
            weights = solution.sample_weight
            break
        plan = None
        if settings.retrain == "finetune":
            plan = finetune_plan(
                settings, net, solution.sample_weight, damping=result.damping, largest_eigenvalue=top
            )
            round_.finetune_solver, round_.finetune_epochs = settings.finetune_solver, plan.epochs
        trained = train_stage2(
            settings, net, data, solution.sample_weight, weights, erm_seed=stage1.seed, index=index, plan=plan
        )
        check_trained(
            trained, f"Stage 2 (retrain={settings.retrain!r})", "a smaller learning rate or closure"
        )
        check = RealisedCheck(
            result.gap_rows,
            rates,
            yardstick.gaps_stderr,
            yardstick.rates_stderr,
            solution.chased,
            n_groups=len(data.groups.names),
            level_up=settings.levelling == "up",
            anchor_rates=yardstick.erm_rates,
        )
        step, net, settled, settled_stderr, full = settle(
            net, trained, yardstick.gaps_of, check, segment=settings.retrain != "scratch"
        )
        if step > 0:
            rates, rates_stderr = settled, settled_stderr
        round_.step = step
        round_.full_step_gaps, round_.full_step_rates = result.gap_rows @ full, full
        round_.final_rates, round_.final_rates_stderr = rates, rates_stderr
        round_.final_gaps = gaps = result.gap_rows @ rates
        weights = weights + step * (solution.sample_weight - weights)
        _log(settings, summary(round_))
        if last or step == 0 or np.all(np.abs(gaps) <= yardstick.threshold):
            break
        if settings.relinearise_below is not None and not under_delivered(round_, settings.relinearise_below):
            break
        later = yardstick.at_later_temperature(
            settings.later_temperature, net, stage1.erm_estimator, settings.bands
        )
        if later is not yardstick:  # the round starts where the last ended, measured at its temperature
            yardstick = later
            rates, rates_stderr = yardstick.gaps_of.rates_and_errors(NetFunctions(net))
            _log(settings, f"round {index + 1} measures the soft rates at temperature "
                           f"{yardstick.gaps_of.temperature:.3g}")  # fmt: skip
        result = compute_influence(
            NetFunctions(net),
            data.X_train,
            data.y_train,
            yardstick.gaps_of,
            replace(influence_settings, damping=result.damping, largest_eigenvalue=False),
            random_state=np.random.RandomState(stage1.seed + index),
            progress=progress_bar(settings.verbose),
            sample_weight=data.w_train,
        )
    if final_fit and len(rounds) == 1 and rounds[0].step == 0:
        names, solver = stage1.influence.rate_names, settings.finetune_solver
        _warn_rejected(rounds[0], threshold, settings.levelling, names, len(weights), solver)
    return net, weights, rounds
