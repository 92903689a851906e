"""FairIFClassifier: the whole FairIF method as one scikit-learn classifier."""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted, check_memory

from ..adapters import SkorchModel, check_skorch_net, fit_weighted
from ..influence._engine import annotated_gaps
from ._data import check_predict_X, prepare_data
from ._weigher import FairIFWeigher, seeded

_WEIGHER_PARAMS = tuple(FairIFWeigher._parameter_constraints)


def _fit_influence(params: dict, data, verbose: int) -> FairIFWeigher:
    """A weigher with the alpha-independent part of stage 1 fitted (what ``memory`` caches)."""
    weigher = FairIFWeigher(**params, verbose=verbose)
    weigher._fit_influence(data)
    return weigher


class FairIFClassifier(ClassifierMixin, FairIFWeigher):
    """A skorch classifier made fairer by influence-balanced reweighting (FairIF).

    ``fit`` runs the whole method of Wang, Wu and He: an ERM fit, the influence
    of every training row on the gaps in true-positive and true-negative rates
    between the groups of a small annotated set, the sample weights that close
    those gaps (all by :class:`FairIFWeigher`), and a final fit of the net with
    those weights. ``predict``, ``predict_proba`` and ``score`` use the final net.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier or skorch.NeuralNetBinaryClassifier
        The net; it is cloned, never modified.
    X_val, y_val, sensitive_val, alpha, target, influence, curvature, damping, \
temperature, hessian_subsample, cg_tol, cg_maxiter, holdout_annotated, \
batch_size, random_state, verbose
        As in :class:`FairIFWeigher`.
    retrain : {"scratch", "warm_start"}, default="scratch"
        Stage 2 trains a fresh clone (the paper's choice) or continues from the
        ERM model.
    memory : str, joblib.Memory or None, default=None
        Cache the part of the fit that does not depend on ``alpha`` (the ERM fit
        and the influence scores), as :class:`~sklearn.pipeline.Pipeline` caches
        transformers. A grid search over ``alpha`` then costs one ERM fit and one
        influence computation per fold plus one weighted fit per value, with the
        same results. A string is a cache folder.

    Attributes
    ----------
    estimator_ : skorch net
        The final net, trained with ``sample_weight_``.
    weigher_ : FairIFWeigher
        The fitted stage 1.
    erm_estimator_, sample_weight_, influence_scores_, gaps_, predicted_gaps_, \
gap_names_, groups_, classes_, train_mask_, influence_info_, n_features_in_
        As in :class:`FairIFWeigher`.
    final_gaps_ : ndarray of shape (n_gaps,)
        The soft-rate gaps on the annotated set at the final model: compare with
        ``gaps_`` and ``predicted_gaps_`` to see whether influence worked.

    Examples
    --------
    >>> import numpy as np
    >>> from fairif_sklearn import FairIFClassifier
    >>> from fairif_sklearn.datasets import make_biased_classification
    >>> from fairif_sklearn.nets import make_mlp_classifier
    >>> X, y, s = make_biased_classification(n_samples=2000, random_state=0)
    >>> groups = s.astype(float)
    >>> groups[500:] = np.nan  # group labels for 500 rows only
    >>> net = make_mlp_classifier(X.shape[1], hidden=(8,), max_epochs=5)
    >>> clf = FairIFClassifier(net, random_state=0).fit(X, y, sensitive_features=groups)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.gap_names_
    ['TPR(1) - TPR(0)', 'TNR(1) - TNR(0)']
    """

    _parameter_constraints = {
        **FairIFWeigher._parameter_constraints,
        "retrain": [StrOptions({"scratch", "warm_start"})],
        "memory": [None, str, HasMethods(["cache"])],
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
        retrain="scratch",
        memory=None,
    ):
        super().__init__(
            estimator,
            X_val=X_val,
            y_val=y_val,
            sensitive_val=sensitive_val,
            alpha=alpha,
            target=target,
            influence=influence,
            curvature=curvature,
            damping=damping,
            temperature=temperature,
            hessian_subsample=hessian_subsample,
            cg_tol=cg_tol,
            cg_maxiter=cg_maxiter,
            holdout_annotated=holdout_annotated,
            batch_size=batch_size,
            random_state=random_state,
            verbose=verbose,
        )
        self.retrain = retrain
        self.memory = memory

    def fit(self, X, y, *, sensitive_features=None):
        """Run FairIF: ERM, influence, weight solve, weighted fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training inputs.
        y : array-like of shape (n_samples,)
            Binary target.
        sensitive_features : array-like of shape (n_samples,), default=None
            Group labels aligned with ``X``, missing (None, NaN or -1) for rows
            without one; see :meth:`FairIFWeigher.fit`.

        Returns
        -------
        self : FairIFClassifier
        """
        self._validate_params()
        check_skorch_net(self.estimator)
        data = prepare_data(self, X, y, sensitive_features)
        params = {k: getattr(self, k) for k in _WEIGHER_PARAMS if k not in ("alpha", "verbose")}
        fit_influence = check_memory(self.memory).cache(_fit_influence, ignore=["verbose"])
        weigher = fit_influence(params, data, self.verbose)
        weigher.set_params(alpha=self.alpha, verbose=self.verbose)
        weigher._solve()
        for name, value in vars(weigher).items():
            if name.endswith("_") and not name.startswith("_"):
                setattr(self, name, value)
        weigher.n_features_in_, weigher._input_shape = self.n_features_in_, self._input_shape
        self.weigher_ = weigher

        if self.retrain == "scratch":
            net = clone(self.estimator)
        else:
            net = copy.deepcopy(weigher.erm_estimator_)
            net.set_params(warm_start=True)
        self._log("weighted fit")
        with seeded(weigher._seeds[0], net.device):  # same init and batch order as ERM
            fit_weighted(net, data.X_train, data.y_train, self.sample_weight_[data.train_mask])
        if self.retrain == "warm_start":
            net.set_params(warm_start=self.estimator.warm_start)
        self.estimator_ = net
        self.final_gaps_ = annotated_gaps(
            SkorchModel(net),
            data.X_val,
            data.y_val,
            data.g_val,
            data.group_names,
            target=self.target,
            temperature=self.temperature,
            batch_size=self.batch_size,
        )
        self._log(f"gaps after reweighting {np.round(self.final_gaps_, 4)}")
        return self

    def _check_X(self, X):
        check_is_fitted(self, "estimator_")
        return check_predict_X(self, X)

    def predict_proba(self, X):
        """Class probabilities of the final net, columns in the order of ``classes_``."""
        X = self._check_X(X)
        return self.estimator_.predict_proba(X).astype(np.float64)

    def predict(self, X):
        """Predicted class labels of the final net."""
        X = self._check_X(X)
        return self.classes_[np.asarray(self.estimator_.predict(X)).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
