"""FairIFWeigher: stage 1 of FairIF, from an ERM fit to sample weights."""

from __future__ import annotations

import contextlib
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..adapters import SkorchModel, check_skorch_net, fit_weighted
from ..influence import CURVATURES, METHODS, TARGETS, compute_influence
from ..weights import solve_weights
from ._data import FitData, prepare_data


@contextlib.contextmanager
def seeded(seed: int, device):
    """Seed torch's generators inside, leaving the caller's untouched."""
    cuda = str(device).startswith("cuda") and torch.cuda.is_available()
    devices = [torch.device(device).index or 0] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def progress_bar(verbose: int):
    """A tqdm wrapper when ``verbose`` asks for progress, else the identity."""
    if not verbose:
        return lambda it, **kw: it
    from tqdm.auto import tqdm

    return lambda it, **kw: tqdm(it, leave=False, **kw)


class FairIFWeigher(MetaEstimatorMixin, BaseEstimator):
    """Sample weights that balance a skorch classifier's group rates (FairIF stage 1).

    Fits a clone of ``estimator`` by empirical risk minimisation, measures the
    gaps in soft true-positive and true-negative rates between the groups of a
    small annotated set, computes each training row's influence on those gaps,
    and solves for non-negative, mean-one weights that close them to first order.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier or skorch.NeuralNetBinaryClassifier
        The unfitted (or fitted) net; it is cloned, never modified.
    X_val, y_val, sensitive_val : array-like, default=None
        A fixed annotated set. Alternatively pass ``sensitive_features`` to
        :meth:`fit` (see there); give one or the other.
    alpha : float, default=0.1
        Penalty on ``||w - 1||^2 / n``, the paper's lambda in a form that does not
        depend on the number of rows. Smaller closes more of the gaps with larger
        weights; tune it with :class:`~sklearn.model_selection.GridSearchCV`.
    target : {"equalized_odds", "equal_opportunity"}, default="equalized_odds"
        Balance TPR and TNR (the paper's choice) or TPR only.
    influence : {"auto", "exact", "last_layer", "cg"}, default="auto"
        How the inverse-curvature products are computed: the full matrix solved
        exactly (small models), the exact solve restricted to the final linear
        layer, or conjugate gradient. ``"auto"`` is exact up to 2000 parameters
        and CG beyond.
    curvature : {"hessian", "gauss_newton"}, default="hessian"
        The Hessian of the training objective (the paper's), or the generalised
        Gauss-Newton matrix (always positive semi-definite).
    damping : float, default=1e-3
        Added to the curvature's diagonal, on top of the optimizer's weight decay.
    temperature : float, default=1.0
        Temperature of the softmax behind the soft rates.
    hessian_subsample : int, float or None, default=None
        Estimate the curvature on this many training rows (a float: this
        fraction), drawn at random; None uses all.
    cg_tol : float, default=1e-4
        Relative residual at which CG stops.
    cg_maxiter : int, default=100
    holdout_annotated : bool, default=True
        With ``sensitive_features``, keep the annotated rows out of training (the
        paper's protocol); their weight in ``sample_weight_`` is zero.
    batch_size : int, default=1024
        Rows per batch in stage 1.
    random_state : int, RandomState or None, default=None
        Seeds the ERM fit (initialisation, shuffling) and the curvature subsample.
    verbose : int, default=0
        1 prints the stages and shows progress bars. The net's own ``verbose``
        controls its epoch table.

    Attributes
    ----------
    erm_estimator_ : skorch net
        The net fitted by ERM.
    sample_weight_ : ndarray of shape (n_samples,)
        One weight per row of the ``X`` given to ``fit``: mean one over the
        training rows, never negative, zero for held-out annotated rows.
    influence_scores_ : ndarray of shape (n_gaps, n_train)
        ``a_{F,i}``: up-weighting training row ``i`` by ``u_i`` changes gap ``F``
        by about ``-a_{F,i} * u_i / n_train``.
    gaps_ : ndarray of shape (n_gaps,)
        The soft-rate gaps on the annotated set at the ERM model.
    predicted_gaps_ : ndarray of shape (n_gaps,)
        The gaps the solve predicts (to first order) after reweighting.
    gap_names_ : list of str
    groups_ : ndarray
        The group labels of the annotated set.
    classes_ : ndarray of shape (2,)
    train_mask_ : ndarray of bool of shape (n_samples,)
        The rows trained on.
    influence_info_ : dict
        Diagnostics: method used, solver iterations and residuals, curvature
        rows, weight-solve iterations, rows with zero weight.
    n_features_in_ : int
    """

    _parameter_constraints = {
        "estimator": [object],
        "X_val": ["array-like", None],
        "y_val": ["array-like", None],
        "sensitive_val": ["array-like", None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "target": [StrOptions(set(TARGETS))],
        "influence": [StrOptions(set(METHODS))],
        "curvature": [StrOptions(set(CURVATURES))],
        "damping": [Interval(Real, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "hessian_subsample": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
            None,
        ],
        "cg_tol": [Interval(Real, 0, None, closed="neither")],
        "cg_maxiter": [Interval(Integral, 1, None, closed="left")],
        "holdout_annotated": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
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
        hessian_subsample=None,
        cg_tol=1e-4,
        cg_maxiter=100,
        holdout_annotated=True,
        batch_size=1024,
        random_state=None,
        verbose=0,
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
        self.hessian_subsample = hessian_subsample
        self.cg_tol = cg_tol
        self.cg_maxiter = cg_maxiter
        self.holdout_annotated = holdout_annotated
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, *, sensitive_features=None):
        """Fit the ERM model and solve for the sample weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training inputs.
        y : array-like of shape (n_samples,)
            Binary target.
        sensitive_features : array-like of shape (n_samples,), default=None
            Group labels aligned with ``X``, missing (None, NaN or -1) for rows
            without one. The annotated rows form the annotated set. Routed by
            scikit-learn's metadata routing
            (``set_fit_request(sensitive_features=True)``).

        Returns
        -------
        self : FairIFWeigher
        """
        self._validate_params()
        check_skorch_net(self.estimator)
        self._fit(prepare_data(self, X, y, sensitive_features))
        return self

    def reweight(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Weights for another ``alpha`` from the fitted influence scores, without refitting.

        Only the weight solve depends on ``alpha``; the ERM fit and the
        influence scores do not. This makes a path over ``alpha`` cost one stage
        1 plus one cheap solve per value.

        Parameters
        ----------
        alpha : float

        Returns
        -------
        sample_weight : ndarray of shape (n_samples,)
            As ``sample_weight_`` (zero for held-out annotated rows).
        predicted_gaps : ndarray of shape (n_gaps,)
        """
        check_is_fitted(self, "influence_scores_")
        weight, solution = self._weights(alpha)
        return weight, solution.predicted_gaps

    def _weights(self, alpha: float):
        solution = solve_weights(self.influence_scores_, self.gaps_, alpha)
        weight = np.zeros(len(self.train_mask_))
        weight[self.train_mask_] = solution.sample_weight
        return weight, solution

    def _log(self, message: str) -> None:
        if self.verbose:
            print(f"[FairIF] {message}", flush=True)

    def _fit(self, data: FitData) -> None:
        """Stage 1 on checked data; sets the fitted attributes."""
        self._fit_influence(data)
        self._solve()

    def _fit_influence(self, data: FitData) -> None:
        """The part of stage 1 that does not depend on ``alpha``: ERM fit and influence."""
        rng = check_random_state(self.random_state)
        self._seeds = rng.randint(0, 2**31 - 1, size=1)
        net = clone(self.estimator)
        self._log(f"ERM fit on {len(data.y_train)} rows")
        with seeded(self._seeds[0], net.device):
            fit_weighted(net, data.X_train, data.y_train, None)
        model = SkorchModel(net)
        self._log(f"influence ({self.influence}) on {model.n_params()} parameters")
        result = compute_influence(
            model,
            data.X_train,
            data.y_train,
            data.X_val,
            data.y_val,
            data.g_val,
            data.group_names,
            target=self.target,
            method=self.influence,
            curvature=self.curvature,
            damping=self.damping,
            temperature=self.temperature,
            hessian_subsample=self.hessian_subsample,
            cg_tol=self.cg_tol,
            cg_maxiter=self.cg_maxiter,
            batch_size=self.batch_size,
            random_state=rng,
            progress=progress_bar(self.verbose),
        )
        self.erm_estimator_ = net
        self.train_mask_ = data.train_mask
        self.classes_ = data.classes
        self.groups_ = data.groups
        self.influence_scores_ = result.scores
        self.gaps_ = result.gaps
        self.gap_names_ = result.gap_names
        self.influence_info_ = {
            "method": result.method,
            "curvature": self.curvature,
            "n_params": len(result.directions[0]),
            "solver": result.solve.solver,
            "solver_n_iter": result.solve.n_iter,
            "solver_residual": result.solve.residual,
            "solver_converged": result.solve.converged,
            "negative_curvature": result.solve.negative_curvature,
            "min_eigenvalue": result.solve.min_eigenvalue,
            "n_curvature_rows": result.n_curvature_rows,
            **result.diagnostics,
        }
        if not result.solve.converged:
            remedies = "increase `damping` or `cg_maxiter`"
            if self.curvature == "hessian":
                remedies += ", or use curvature='gauss_newton'"
            warnings.warn(
                f"The {result.solve.solver} solve did not converge (relative residuals "
                f"{np.round(result.solve.residual, 6).tolist()}"
                f"{', negative curvature met' if result.solve.negative_curvature else ''}); "
                f"the influence scores are approximate: {remedies}.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _solve(self) -> None:
        """The weight solve for the current ``alpha``; sets the weights and predicted gaps."""
        self.sample_weight_, solution = self._weights(self.alpha)
        self.predicted_gaps_ = solution.predicted_gaps
        self.influence_info_.update(
            weight_solve_n_iter=solution.n_iter,
            weight_solve_converged=solution.converged,
            n_zero_weight=solution.n_clipped,
        )
        self._log(f"gaps {np.round(self.gaps_, 4)} -> predicted {np.round(self.predicted_gaps_, 4)}")
