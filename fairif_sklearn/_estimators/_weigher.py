"""FairIFWeigher: stage 1 of FairIF, from an ERM fit to sample weights."""

from __future__ import annotations

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils.validation import check_is_fitted

from .._runtime import keeps_torch_rng
from .._weights import solve_weights
from ._base import _FairIFBase
from ._docs import fill_doc
from ._stage1 import weights_for_rows


@fill_doc
class FairIFWeigher(_FairIFBase):
    """Sample weights that balance a skorch classifier's group rates (FairIF stage 1).

    Fits a clone of ``estimator`` by empirical risk minimisation, measures the
    gaps in soft true-positive and true-negative rates between the groups of a
    small annotated set, computes each training row's influence on those gaps,
    and solves for non-negative, mean-one weights that close them to first order.
    Pass ``sample_weight_`` to any estimator's ``fit``, or use
    :class:`FairIFClassifier` for the whole method.

    Parameters
    ----------
    {{parameters}}

    Attributes
    ----------
    {{attributes}}

    See Also
    --------
    FairIFClassifier : Stage 1 and the weighted fit, as one classifier.
    WeightedNetClassifier : A skorch net with ``fit(X, y, sample_weight=...)``.

    Examples
    --------
    An annotated set of 500 rows, given in the constructor; the weights feed
    any estimator that takes ``sample_weight``:

    >>> from sklearn.linear_model import LogisticRegression
    >>> from fairif_sklearn import FairIFWeigher
    >>> from fairif_sklearn.datasets import make_biased_classification
    >>> from fairif_sklearn.nets import make_mlp_classifier
    >>> X, y, s = make_biased_classification(n_samples=2000, random_state=0)
    >>> weigher = FairIFWeigher(
    ...     make_mlp_classifier(X.shape[1], hidden=(8,), max_epochs=5),
    ...     X_val=X[:500], y_val=y[:500], sensitive_val=s[:500], random_state=0,
    ... ).fit(X[500:], y[500:])
    >>> weigher.sample_weight_.shape, round(float(weigher.sample_weight_.mean()), 6)
    ((1500,), 1.0)
    >>> LogisticRegression().fit(X[500:], y[500:], sample_weight=weigher.sample_weight_).score(X, y) > 0.7
    True
    """

    @_fit_context(prefer_skip_nested_validation=False)  # the net is cloned and checked in fit
    @keeps_torch_rng  # a Dataset's rows are read through DataLoaders, which draw from it
    def fit(self, X, y, *, sensitive_features=None, sample_weight=None):
        """Fit the ERM model and solve for the sample weights.

        {{fit_sections}}
        """
        data, stage1 = self._fit_stage1(X, y, sensitive_features, sample_weight)
        self._reweight(data, stage1, final_fit=False)
        return self

    def reweight(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Weights for another ``alpha`` from the fitted influence scores, without refitting.

        Only the weight solve depends on ``alpha``; the ERM fit and the
        influence scores do not. This makes a path over ``alpha`` cost one stage
        1 plus one cheap solve per value.

        Parameters
        ----------
        alpha : float
            Positive.

        Returns
        -------
        sample_weight : ndarray of shape (n_samples,)
            As ``sample_weight_`` (zero for held-out annotated rows).
        predicted_gaps : ndarray of shape (n_gaps,)
        """
        check_is_fitted(self, "influence_scores_")
        if not alpha > 0:
            raise ValueError(f"alpha must be positive, got {alpha!r}.")
        solution = solve_weights(self.influence_scores_, self.gaps_, alpha, base=self._base_weight)
        return weights_for_rows(self.train_mask_, solution.sample_weight), solution.predicted_gaps
