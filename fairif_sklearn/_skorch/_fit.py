"""Training a skorch net with per-sample loss weights, without changing the user's net.

:func:`fit_net` passes the weights with the rows (as one more key of a dict
``X``) through skorch's own train/valid split and batching; while the net trains,
its class is temporarily a subclass whose ``infer`` drops the weights before the
module sees them and whose ``get_loss`` returns ``sum(w * l) / sum(w)`` over the
batch. Afterwards the net's class is the user's again, so the fitted net pickles
and predicts like any other. The fine-tune (:mod:`._finetune`) uses the same
mechanism with a batch loss of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from skorch.utils import to_tensor

from ._faults import interrupts_propagate
from ._rows import WEIGHT_KEY, fit_input, module_input, training_data

_SUPPORTED = (NeuralNetClassifier, NeuralNetBinaryClassifier)


def unfrozen(estimator: Any) -> Any:
    """The net inside a :class:`~sklearn.frozen.FrozenEstimator`, or ``estimator`` itself."""
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def is_frozen(estimator: Any) -> bool:
    """Whether ``estimator`` is a fitted net given as already trained (a FrozenEstimator)."""
    return isinstance(estimator, FrozenEstimator)


def check_net(estimator: Any, n_classes: int | None = None) -> None:
    """Raise a clear error unless ``estimator`` is a supported skorch classifier.

    Parameters
    ----------
    estimator : object
        The estimator given to a FairIF meta-estimator: a skorch classifier, or a
        fitted one wrapped in :class:`~sklearn.frozen.FrozenEstimator`.
    n_classes : int, optional
        The number of classes of the target it will be fitted on.

    Raises
    ------
    TypeError
        If it is not a :class:`skorch.NeuralNetClassifier` or
        :class:`skorch.NeuralNetBinaryClassifier` (or a subclass).
    ValueError
        If a frozen net has not been fitted.
    """
    net = unfrozen(estimator)
    if not isinstance(net, _SUPPORTED):
        raise TypeError(
            "FairIF needs a skorch NeuralNetClassifier or NeuralNetBinaryClassifier "
            f"as `estimator`, got {type(net).__name__}. Wrap your torch module "
            "in skorch.NeuralNetClassifier(module, ...) first."
        )
    if n_classes is not None and n_classes > 2 and isinstance(net, NeuralNetBinaryClassifier):
        raise ValueError(
            f"y has {n_classes} classes, but a NeuralNetBinaryClassifier predicts two; use a "
            "skorch NeuralNetClassifier whose module outputs one score per class."
        )
    if getattr(net, "unwrap_after_train", True) is False:
        raise ValueError(
            "FairIF needs unwrap_after_train=True on a skorch AccelerateMixin net: stage 1 reads the "
            "trained module itself, not the wrapper Accelerate puts around it for training."
        )
    if is_frozen(estimator) and not getattr(net, "initialized_", False):
        raise ValueError(
            "The net inside FrozenEstimator is not fitted: FrozenEstimator marks a net that is already "
            "trained (FairIF then uses it as the ERM model); pass the unfitted net itself otherwise."
        )


def loss_target(net: Any, codes: np.ndarray) -> np.ndarray:
    """0/1 class codes in the dtype the net's loss expects.

    int64 for :class:`~skorch.NeuralNetClassifier` (class indices), float32 for
    :class:`~skorch.NeuralNetBinaryClassifier` (targets of a logit).
    """
    dtype = np.float32 if isinstance(net, NeuralNetBinaryClassifier) else np.int64
    return np.asarray(codes).astype(dtype)


def weighted_mean(net, y_pred, y_true, X, training: bool, losses: torch.Tensor) -> torch.Tensor:
    """The batch loss of a weighted fit: ``sum(w * l) / sum(w)``."""
    weight = to_tensor(X[WEIGHT_KEY], device=losses.device).to(losses.dtype)
    return (weight * losses).sum() / weight.sum().clamp_min(1e-12)


class _TrainingMixin:
    """Training-time behaviour: rows carry extra per-row arrays (weights, and what a
    fine-tune needs) as keys of a dict ``X``; ``infer`` drops them before the module
    sees the batch, and ``get_loss`` turns the batch's per-sample losses into the batch
    loss with the net's ``_fairif_batch_loss`` (a weighted mean unless a fine-tune set it)."""

    def infer(self, x, **fit_params):
        return super().infer(module_input(x), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not (isinstance(X, Mapping) and WEIGHT_KEY in X):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        with per_sample_criterion(self):
            losses = super().get_loss(y_pred, y_true, X=X, training=training)
        losses = losses.reshape(losses.shape[0], -1).mean(dim=1)
        batch_loss = getattr(self, "_fairif_batch_loss", weighted_mean)
        return batch_loss(self, y_pred, y_true, X, training, losses)


_TRAINING_CLASSES: dict[type, type] = {}


def training_class(cls: type) -> type:
    """The subclass of a net's class that a weighted fit or a fine-tune trains as."""
    if cls not in _TRAINING_CLASSES:
        _TRAINING_CLASSES[cls] = type(f"SampleWeighted{cls.__name__}", (_TrainingMixin, cls), {})
    return _TRAINING_CLASSES[cls]


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
    X : array-like, dict of array-like or torch Dataset
        Training inputs (a Dataset of ``(x, y)`` pairs, whose labels are
        replaced by ``y``).
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
        with _class_count_check(y), interrupts_propagate(net):
            return net.fit(fit_input(X, y), y)
    data = training_data(X, y, {WEIGHT_KEY: np.asarray(sample_weight, dtype=np.float32)})
    original = type(net)
    net.__class__ = training_class(original)
    try:
        if net.warm_start and getattr(net, "initialized_", False):
            prepare_for_training(net)
        with _class_count_check(y), interrupts_propagate(net):
            net.fit(data, y)
    finally:
        net.__class__ = original
    return net


def prepare_for_training(net: Any) -> None:
    """Wrap a fitted net's parts for data-parallel training again, as its ``initialize`` does.

    A skorch ``AccelerateMixin`` net has its module, criterion and optimizer
    prepared by its Accelerator in ``initialize`` and unwrapped after training;
    training it further without re-initialising (a fine-tune, a warm start)
    needs them prepared again, or each process would train alone. Nothing for
    other nets.
    """
    if hasattr(net, "_initialize_accelerator"):
        net._initialize_accelerator()


@contextlib.contextmanager
def _class_count_check(y: np.ndarray):
    """Turn torch's "target out of bounds" into an error that says what is wrong with the net."""
    try:
        yield
    except IndexError as error:
        if "out of bounds" not in str(error):
            raise
        n_classes = len(np.unique(y))
        raise ValueError(
            f"y has {n_classes} classes, but the net's module has fewer outputs: give it one output per "
            f"class (e.g. make_mlp_classifier(..., n_classes={n_classes}) or module__n_classes)."
        ) from error


@contextlib.contextmanager
def seeded(seed: int, device):
    """Seed torch's generators inside (initialisation, shuffling), leaving the caller's untouched."""
    cuda = str(device).startswith("cuda") and torch.cuda.is_available()
    devices = [torch.device(device).index or 0] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
