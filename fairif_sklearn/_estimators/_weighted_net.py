"""WeightedNetClassifier: a skorch classifier whose ``fit`` takes ``sample_weight``."""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import check_random_state

from .._rates import check_target
from .._skorch import (
    check_net,
    check_outputs,
    check_trained,
    fit_net,
    is_frozen,
    probability_output_hint,
    seeded,
)
from .._validation import as_model_input, check_sample_weight, validate_fit_X_y
from ._predict import _NetPredictMixin
from ._stage1 import ERM_REMEDY


class WeightedNetClassifier(_NetPredictMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
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
    estimator_ : skorch net
        The fitted net.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features (the second dimension of ``X``).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from fairif_sklearn import WeightedNetClassifier
    >>> from fairif_sklearn.nets import make_mlp_classifier
    >>> X = np.random.RandomState(0).normal(size=(200, 3))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = WeightedNetClassifier(make_mlp_classifier(3, max_epochs=3), random_state=0)
    >>> clf.fit(X, y, sample_weight=np.where(y == 1, 2.0, 1.0)).predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = {"estimator": [object], "random_state": ["random_state"]}

    def __init__(self, estimator, *, random_state=None):
        self.estimator = estimator
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)  # the net is cloned and checked in fit
    def fit(self, X, y, sample_weight=None):
        """Fit a clone of the net, with per-sample loss weights if given.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            What the net's module takes (cast to float32 from float64, float16,
            integer or boolean arrays).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, not all zero; each batch's loss is
            ``sum(w * l) / sum(w)``.

        Returns
        -------
        self : WeightedNetClassifier
        """
        if is_frozen(self.estimator):
            raise TypeError("WeightedNetClassifier trains its net; a FrozenEstimator cannot be trained.")
        check_net(self.estimator, who=type(self).__name__)
        X, y = validate_fit_X_y(self, X, y)
        self.classes_, codes = check_target(y, who=type(self).__name__)
        check_net(self.estimator, n_classes=len(self.classes_), who=type(self).__name__)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, len(codes))
        net = clone(self.estimator)
        seed = check_random_state(self.random_state).randint(0, 2**31 - 1)
        X = as_model_input(X)
        with seeded(seed, net.device):
            fit_net(net, X, codes, sample_weight)
        check_trained(net, "The weighted fit", ERM_REMEDY, lambda: probability_output_hint(net, X, codes))
        check_outputs(net, X, codes, len(self.classes_))
        self.estimator_ = net
        return self
