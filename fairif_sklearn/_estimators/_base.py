"""What the FairIF estimators share: their parameters, stage 1, and the rounds of reweighting."""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator, MetaEstimatorMixin
from sklearn.utils._param_validation import HasMethods, Hidden, Interval, StrOptions
from sklearn.utils.validation import check_memory

from .._influence import CURVATURES, METHODS, AnnotatedGaps, InfluenceSettings
from .._rates import TARGETS
from .._runtime import report
from .._skorch import check_net
from .._validation import FitData, check_fit_data, validate_fit_X_y
from ._stage1 import Stage1, fit_stage1, weights_for_rows
from ._stage2 import Stage2Settings, resolve_max_rounds, run_rounds

_SUBSAMPLE = [Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="right"), None]
# tolerance="auto": a gap is chased only when it is beyond this family-wise significance
# level (two-sided, Bonferroni over the gaps), and then closed to within one standard error
NOISE_LEVEL = 0.05
# the soft rates are means of float32 probabilities: a gap this small is their rounding, not a bias,
# however small its standard error (a net whose probabilities hardly vary over the rows)
ROUNDING_GAP = 1e-6
logger = logging.getLogger(__name__)


def noise_threshold(n_gaps: int) -> float:
    """How many standard errors a gap must exceed to count as real, for ``n_gaps`` gaps at once."""
    return float(norm.ppf(1 - NOISE_LEVEL / (2 * n_gaps)))


class _FairIFBase(MetaEstimatorMixin, BaseEstimator):
    """Parameters, stage 1 and the rounds of reweighting of the FairIF estimators."""

    _parameter_constraints = {
        "estimator": [object],  # check_net says what is supported
        "X_val": ["array-like", None],
        "y_val": ["array-like", None],
        "sensitive_val": ["array-like", None],
        "tolerance": [StrOptions({"auto"}), Interval(Real, 0, None, closed="both")],  # inf: keep ERM
        "alpha": [Interval(Real, 0, None, closed="neither"), None],
        "levelling": [StrOptions({"up", "any"})],
        "closure": [Interval(Real, 0, 1, closed="right")],
        "target": [StrOptions(set(TARGETS))],
        "pos_label": "no_validation",  # a label or a list of labels, checked against y in fit
        "retrain": [StrOptions({"finetune", "scratch", "warm_start"})],
        "finetune_epochs": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "finetune_solver": [StrOptions({"auto", "net", "nesterov"})],
        "max_rounds": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "influence": [StrOptions(set(METHODS))],
        "curvature": [StrOptions(set(CURVATURES))],
        "damping": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "later_temperature": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto", "same"})],
        "curvature_subsample": [StrOptions({"auto"}), *_SUBSAMPLE],
        "cg_tol": [Interval(Real, 0, None, closed="neither")],
        "cg_maxiter": [Interval(Integral, 1, None, closed="left")],
        "holdout_annotated": ["boolean"],
        "memory": [None, str, HasMethods(["cache"])],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "hessian_subsample": [Hidden(StrOptions({"deprecated"})), *_SUBSAMPLE],
    }

    def __init__(
        self,
        estimator,
        *,
        X_val=None,
        y_val=None,
        sensitive_val=None,
        tolerance="auto",
        alpha=None,
        levelling="up",
        closure=1.0,
        target="equalized_odds",
        pos_label=None,
        retrain="finetune",
        finetune_epochs="auto",
        finetune_solver="auto",
        max_rounds="auto",
        influence="auto",
        curvature="gauss_newton",
        damping="auto",
        temperature=1.0,
        later_temperature="auto",
        curvature_subsample="auto",
        cg_tol=1e-2,
        cg_maxiter=100,
        holdout_annotated=True,
        memory=None,
        batch_size=1024,
        random_state=None,
        verbose=0,
        hessian_subsample="deprecated",
    ):
        self.estimator = estimator
        self.X_val = X_val
        self.y_val = y_val
        self.sensitive_val = sensitive_val
        self.tolerance = tolerance
        self.alpha = alpha
        self.levelling = levelling
        self.closure = closure
        self.target = target
        self.pos_label = pos_label
        self.retrain = retrain
        self.finetune_epochs = finetune_epochs
        self.finetune_solver = finetune_solver
        self.max_rounds = max_rounds
        self.influence = influence
        self.curvature = curvature
        self.damping = damping
        self.temperature = temperature
        self.later_temperature = later_temperature
        self.curvature_subsample = curvature_subsample
        self.cg_tol = cg_tol
        self.cg_maxiter = cg_maxiter
        self.holdout_annotated = holdout_annotated
        self.memory = memory
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.hessian_subsample = hessian_subsample

    def _log(self, message: str) -> None:
        report(logger, self.verbose, "[FairIF] %s", message)

    def _curvature_subsample(self):
        if self.hessian_subsample == "deprecated":
            return self.curvature_subsample
        warnings.warn(
            "hessian_subsample was renamed curvature_subsample (it subsamples the Gauss-Newton matrix "
            "too); the old name is deprecated and will be removed in a future release.",
            FutureWarning,
            stacklevel=4,
        )
        return self.hessian_subsample

    def _influence_settings(self) -> InfluenceSettings:
        """This estimator's parameters that say how stage 1 computes influence."""
        return InfluenceSettings(
            method=self.influence,
            curvature=self.curvature,
            damping=self.damping,
            curvature_subsample=self._curvature_subsample(),
            cg_tol=self.cg_tol,
            cg_maxiter=self.cg_maxiter,
            batch_size=self.batch_size,
        )

    def _gaps_of(self, data: FitData) -> AnnotatedGaps:
        """The target's soft-rate gaps on the annotated set of ``data``, as functions of a model."""
        return AnnotatedGaps(
            data.X_val,
            data.y_val,
            data.g_val,
            data.groups.names,
            rates=data.rates,
            temperature=self.temperature,
            batch_size=self.batch_size,
            sample_weight=data.w_val,
        )

    def _fit_stage1(self, X, y, sensitive_features, sample_weight=None) -> tuple[FitData, Stage1]:
        """Check the inputs, then the ERM fit and influence (cached with ``memory``)."""
        check_net(self.estimator)
        X, y = validate_fit_X_y(self, X, y)
        data = check_fit_data(
            X,
            y,
            sensitive_features,
            X_val=self.X_val,
            y_val=self.y_val,
            sensitive_val=self.sensitive_val,
            target=self.target,
            pos_label=self.pos_label,
            holdout_annotated=self.holdout_annotated,
            sample_weight=sample_weight,
        )
        check_net(self.estimator, n_classes=len(data.classes))
        # the Nesterov fine-tune's step needs the curvature's largest eigenvalue, which stage 1 then
        # estimates (the solver resolved on the fitted net); damping="auto" estimates it anyway (one
        # cache key whatever the solver)
        solver = self.finetune_solver if self.retrain == "finetune" and self.damping != "auto" else None
        stage1 = fit_stage1(
            self.estimator,
            data,
            self._gaps_of(data),
            self._influence_settings(),
            random_state=self.random_state,
            memory=check_memory(self.memory),
            verbose=self.verbose,
            finetune_solver=solver,
        )
        return data, stage1

    def _bounds(self, stderr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """When a gap is chased, and how far it is closed: ``(threshold, target)`` per gap."""
        if self.tolerance == "auto":
            return np.maximum(noise_threshold(len(stderr)) * stderr, ROUNDING_GAP), stderr
        bound = np.full(len(stderr), float(self.tolerance))
        return bound, bound

    def _stage2_settings(self, *, final_fit: bool) -> Stage2Settings:
        """This estimator's parameters that say how stage 2 solves and trains (``final_fit``: whether
        the rounds train stage 2 after their last solve)."""
        max_rounds, relinearise_below = resolve_max_rounds(self.max_rounds, trains_stage2=final_fit)
        return Stage2Settings(
            estimator=self.estimator,
            retrain=self.retrain,
            finetune_epochs=self.finetune_epochs,
            finetune_solver=self.finetune_solver,
            max_rounds=max_rounds,
            relinearise_below=relinearise_below,
            levelling=self.levelling,
            closure=self.closure,
            alpha=self.alpha,
            verbose=self.verbose,
            later_temperature=self.later_temperature,
            bands=self._bounds,
        )

    def _reweight(self, data: FitData, stage1: Stage1, *, final_fit: bool):
        """Run the rounds of reweighting and set the fitted attributes; return the final net."""
        threshold, target = self._bounds(stage1.gaps_stderr)
        result = stage1.influence
        net, weights, rounds = run_rounds(
            data,
            stage1,
            replace(self._gaps_of(data), temperature=result.temperature),  # "auto" as stage 1 resolved it
            self._influence_settings(),
            self._stage2_settings(final_fit=final_fit),
            threshold=threshold,
            target=target,
            final_fit=final_fit,
        )
        self.erm_estimator_ = stage1.erm_estimator
        self.classes_ = data.classes
        self.groups_ = np.array(data.groups.labels + [None], dtype=object)[:-1]  # tuples stay tuples
        self.train_mask_ = data.train_mask
        self.gap_names_ = result.gap_names
        self.gaps_ = result.gaps
        self.gaps_stderr_ = stage1.gaps_stderr
        self.gaps_threshold_ = threshold
        self.damping_ = result.damping
        self.temperature_ = result.temperature
        self.influence_scores_ = result.scores
        self.rate_names_ = result.rate_names
        self.group_rates_ = result.rates
        self.group_rates_stderr_ = stage1.rates_stderr
        self.sample_weight_ = weights_for_rows(data.train_mask, weights)
        self._base_weight = data.w_train  # the user's weights of the training rows (mean one), or None
        self.rounds_ = [r.as_dict() for r in rounds]
        self.reweighted_ = any(r.step > 0 for r in rounds)
        # the last prediction on gaps_' scale: a later round at another temperature (later_temperature)
        # predicts soft rates of another scale, kept in its rounds_ entry
        same_scale = [r for r in rounds if r.temperature == result.temperature]
        self.predicted_gaps_ = same_scale[-1].predicted_gaps if same_scale else result.gaps.copy()
        self.predicted_group_rates_ = same_scale[-1].predicted_rates if same_scale else result.rates.copy()
        self.materialization_ = rounds[0].materialization if rounds else np.full(len(result.gaps), np.nan)
        self.influence_info_ = {**stage1.info(), "n_rounds": len(rounds)}
        if not rounds:
            self._log(
                f"gaps {np.round(result.gaps, 4)} are within their noise ({np.round(threshold, 4)}): "
                "nothing to correct, the ERM model is kept"
            )
        return net
