"""WeightedNetClassifier: a skorch classifier whose ``fit`` takes ``sample_weight``."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..adapters import check_skorch_net, fit_weighted, loss_target
from ._data import _CHECK, _for_torch, check_predict_X
from ._weigher import seeded


class WeightedNetClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Give a plain skorch classifier a ``fit(X, y, sample_weight=...)``.

    skorch nets take no ``sample_weight``; this wrapper fits a clone of the net
    with the weights reaching its loss batch by batch (``sum(w * l) / sum(w)``),
    as FairIF's second stage does. Use it to train a net on FairIF's
    ``sample_weight_``, or to hand a net to anything that reweights, such as
    fairlearn's :class:`~fairlearn.reductions.ExponentiatedGradient`.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier or skorch.NeuralNetBinaryClassifier
        Cloned, never modified.
    random_state : int, RandomState or None, default=None
        Seeds the fit (initialisation, shuffling).

    Attributes
    ----------
    estimator_ : the fitted skorch net
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    """

    def __init__(self, estimator, *, random_state=None):
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Fit a clone of the net, with per-sample loss weights if given.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : array-like of shape (n_samples,)
            Binary target.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : WeightedNetClassifier
        """
        check_skorch_net(self.estimator)
        X, y = validate_data(self, X, y, reset=True, **_CHECK)
        self.n_features_in_ = X.shape[1] if X.ndim > 1 else 1
        self._input_shape = X.shape[1:]
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(
                f"WeightedNetClassifier needs a binary target, got {len(self.classes_)} classes."
            )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=float)
            if sample_weight.shape != (len(y),):
                raise ValueError(f"sample_weight has shape {sample_weight.shape}, expected ({len(y)},).")
            if not np.all(np.isfinite(sample_weight)) or sample_weight.min() < 0:
                raise ValueError("sample_weight must be finite and non-negative.")
        net = clone(self.estimator)
        seed = check_random_state(self.random_state).randint(0, 2**31 - 1)
        with seeded(seed, net.device):
            fit_weighted(net, _for_torch(X), loss_target(net, codes), sample_weight)
        self.estimator_ = net
        return self

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(check_predict_X(self, X)).astype(np.float64)

    def predict(self, X):
        """Predicted class labels."""
        check_is_fitted(self, "estimator_")
        X = check_predict_X(self, X)
        return self.classes_[np.asarray(self.estimator_.predict(X)).astype(int)]
