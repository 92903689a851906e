"""What the FairIF estimators share: their parameters and stage 1 with its weight solve."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin
from sklearn.utils._param_validation import HasMethods, Hidden, Interval, StrOptions
from sklearn.utils.validation import check_memory

from .._influence import CURVATURES, METHODS, InfluenceSettings
from .._rates import TARGETS
from .._skorch import check_net
from .._validation import FitData, check_fit_data, validate_fit_X_y
from .._weights import WeightSolution, solve_weights
from ._stage1 import Stage1, fit_stage1, weights_for_rows

_SUBSAMPLE = [Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="right"), None]


class _FairIFBase(MetaEstimatorMixin, BaseEstimator):
    """Parameters, stage 1 and the weight solve of the FairIF estimators."""

    _parameter_constraints = {
        "estimator": [object],  # check_net says what is supported
        "X_val": ["array-like", None],
        "y_val": ["array-like", None],
        "sensitive_val": ["array-like", None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "target": [StrOptions(set(TARGETS))],
        "influence": [StrOptions(set(METHODS))],
        "curvature": [StrOptions(set(CURVATURES))],
        "damping": [Interval(Real, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "curvature_subsample": _SUBSAMPLE,
        "cg_tol": [Interval(Real, 0, None, closed="neither")],
        "cg_maxiter": [Interval(Integral, 1, None, closed="left")],
        "holdout_annotated": ["boolean"],
        "retrain": [StrOptions({"scratch", "warm_start"})],
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
        alpha=0.1,
        target="equalized_odds",
        influence="auto",
        curvature="gauss_newton",
        damping=1e-3,
        temperature=1.0,
        curvature_subsample=None,
        cg_tol=1e-4,
        cg_maxiter=100,
        holdout_annotated=True,
        retrain="scratch",
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
        self.alpha = alpha
        self.target = target
        self.influence = influence
        self.curvature = curvature
        self.damping = damping
        self.temperature = temperature
        self.curvature_subsample = curvature_subsample
        self.cg_tol = cg_tol
        self.cg_maxiter = cg_maxiter
        self.holdout_annotated = holdout_annotated
        self.retrain = retrain
        self.memory = memory
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.hessian_subsample = hessian_subsample

    def _log(self, message: str) -> None:
        if self.verbose:
            print(f"[FairIF] {message}", flush=True)

    def _curvature_subsample(self):
        if self.hessian_subsample == "deprecated":
            return self.curvature_subsample
        warnings.warn(
            "hessian_subsample was renamed curvature_subsample in 0.2 (it subsamples the Gauss-Newton "
            "matrix too) and will be removed in 0.3; use curvature_subsample.",
            FutureWarning,
            stacklevel=4,
        )
        return self.hessian_subsample

    def _influence_settings(self) -> InfluenceSettings:
        """This estimator's parameters that say how stage 1 computes influence."""
        return InfluenceSettings(
            target=self.target,
            method=self.influence,
            curvature=self.curvature,
            damping=self.damping,
            temperature=self.temperature,
            curvature_subsample=self._curvature_subsample(),
            cg_tol=self.cg_tol,
            cg_maxiter=self.cg_maxiter,
            batch_size=self.batch_size,
        )

    def _fit_stage1(self, X, y, sensitive_features) -> tuple[FitData, Stage1]:
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
            holdout_annotated=self.holdout_annotated,
        )
        fit = check_memory(self.memory).cache(fit_stage1, ignore=["verbose"])
        stage1 = fit(
            self.estimator,
            data,
            self._influence_settings(),
            random_state=self.random_state,
            verbose=self.verbose,
        )
        return data, stage1

    def _set_weights(self, data: FitData, stage1: Stage1) -> WeightSolution:
        """Solve for the weights and set the fitted attributes of stage 1."""
        result = stage1.influence
        solution = solve_weights(result.scores, result.gaps, self.alpha)
        self.erm_estimator_ = stage1.erm_estimator
        self.classes_ = data.classes
        self.groups_ = np.array(data.groups.labels + [None], dtype=object)[:-1]  # tuples stay tuples
        self.train_mask_ = data.train_mask
        self.gap_names_ = result.gap_names
        self.gaps_ = result.gaps
        self.influence_scores_ = result.scores
        self.sample_weight_ = weights_for_rows(data.train_mask, solution.sample_weight)
        self.predicted_gaps_ = solution.predicted_gaps
        self.influence_info_ = {
            **stage1.info(),
            "weight_solve_n_iter": solution.n_iter,
            "weight_solve_converged": solution.converged,
            "n_zero_weight": solution.n_clipped,
        }
        self._log(f"gaps {np.round(self.gaps_, 4)} -> predicted {np.round(self.predicted_gaps_, 4)}")
        return solution
