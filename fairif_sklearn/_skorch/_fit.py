"""Training a skorch net with per-sample loss weights, without changing the user's net.

:func:`fit_net` passes the weights with the rows (as one more key of a dict
``X``) through skorch's own train/valid split and batching; while the net trains,
its class is temporarily a subclass whose ``infer`` drops the weights before the
module sees them and whose ``get_loss`` returns ``sum(w * l) / sum(w)`` over the
batch. Afterwards the net's class is the user's again, so the fitted net pickles
and predicts like any other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from skorch.utils import to_tensor

_WEIGHT_KEY = "__fairif_sample_weight__"
_DATA_KEY = "__fairif_X__"
_SUPPORTED = (NeuralNetClassifier, NeuralNetBinaryClassifier)


def check_net(estimator: Any) -> None:
    """Raise a clear error unless ``estimator`` is a supported skorch classifier.

    Parameters
    ----------
    estimator : object
        The estimator given to a FairIF meta-estimator.

    Raises
    ------
    TypeError
        If it is not a :class:`skorch.NeuralNetClassifier` or
        :class:`skorch.NeuralNetBinaryClassifier` (or a subclass).
    """
    if not isinstance(estimator, _SUPPORTED):
        raise TypeError(
            "FairIF needs a skorch NeuralNetClassifier or NeuralNetBinaryClassifier "
            f"as `estimator`, got {type(estimator).__name__}. Wrap your torch module "
            "in skorch.NeuralNetClassifier(module, ...) first."
        )


def loss_target(net: Any, codes: np.ndarray) -> np.ndarray:
    """0/1 class codes in the dtype the net's loss expects.

    int64 for :class:`~skorch.NeuralNetClassifier` (class indices), float32 for
    :class:`~skorch.NeuralNetBinaryClassifier` (targets of a logit).
    """
    dtype = np.float32 if isinstance(net, NeuralNetBinaryClassifier) else np.int64
    return np.asarray(codes).astype(dtype)


class _SampleWeightMixin:
    """Training-time behaviour that makes a skorch net honour sample weights."""

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping) and _WEIGHT_KEY in x:
            x = {k: v for k, v in x.items() if k != _WEIGHT_KEY}
            if list(x) == [_DATA_KEY]:
                x = x[_DATA_KEY]
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not (isinstance(X, Mapping) and _WEIGHT_KEY in X):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        with per_sample_criterion(self):
            losses = super().get_loss(y_pred, y_true, X=X, training=training)
        losses = losses.reshape(losses.shape[0], -1).mean(dim=1)
        weight = to_tensor(X[_WEIGHT_KEY], device=losses.device).to(losses.dtype)
        return (weight * losses).sum() / weight.sum().clamp_min(1e-12)


_WEIGHTED_CLASSES: dict[type, type] = {}


def _weighted_class(cls: type) -> type:
    if cls not in _WEIGHTED_CLASSES:
        _WEIGHTED_CLASSES[cls] = type(f"SampleWeighted{cls.__name__}", (_SampleWeightMixin, cls), {})
    return _WEIGHTED_CLASSES[cls]


@contextlib.contextmanager
def per_sample_criterion(net: Any):
    """Switch the net's criterion to ``reduction='none'`` for the duration."""
    criterion = net.criterion_
    if not hasattr(criterion, "reduction"):
        raise TypeError(
            f"FairIF needs a criterion with a `reduction` argument (a torch loss such as "
            f"NLLLoss, CrossEntropyLoss or BCEWithLogitsLoss), got {type(criterion).__name__}."
        )
    old = criterion.reduction
    criterion.reduction = "none"
    try:
        yield
    finally:
        criterion.reduction = old


def fit_net(net: Any, X: Any, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Any:
    """Fit a skorch net, optionally with per-sample loss weights.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier or skorch.NeuralNetBinaryClassifier
        The net to fit (a clone, or a deep copy for a warm start).
    X : array-like or dict of array-like
        Training inputs.
    y : ndarray
        0/1 class codes (cast to the loss's dtype here, see :func:`loss_target`).
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights. Each batch's loss is ``sum(w * l) / sum(w)``.

    Returns
    -------
    net : the same net, fitted, with its original class.
    """
    y = loss_target(net, y)
    if sample_weight is None:
        return net.fit(X, y)
    data = dict(X) if isinstance(X, Mapping) else {_DATA_KEY: X}
    data[_WEIGHT_KEY] = np.asarray(sample_weight, dtype=np.float32)
    original = type(net)
    net.__class__ = _weighted_class(original)
    try:
        net.fit(data, y)
    finally:
        net.__class__ = original
    return net


@contextlib.contextmanager
def seeded(seed: int, device):
    """Seed torch's generators inside (initialisation, shuffling), leaving the caller's untouched."""
    cuda = str(device).startswith("cuda") and torch.cuda.is_available()
    devices = [torch.device(device).index or 0] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
