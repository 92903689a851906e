"""Prediction with a fitted skorch net held in ``estimator_``."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_predict_X


class _LogProbaMixin:
    """``predict_log_proba`` from a classifier's ``predict_proba``."""

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (``-inf`` where a probability is zero)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class _NetPredictMixin(_LogProbaMixin):
    """``predict_proba``, ``predict_log_proba`` and ``predict`` of the fitted net ``estimator_``, in
    ``classes_``'s labels."""

    def _check_X(self, X):
        check_is_fitted(self, "estimator_")
        return check_predict_X(self, X)

    def predict_proba(self, X):
        """Class probabilities of the fitted net, columns in the order of ``classes_``."""
        X = self._check_X(X)
        return self.estimator_.predict_proba(X).astype(np.float64)

    def predict(self, X):
        """Predicted class labels of the fitted net."""
        X = self._check_X(X)
        return self.classes_[np.asarray(self.estimator_.predict(X)).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
