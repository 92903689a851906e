"""Training a skorch net with per-sample loss weights, without changing the user's net.

:func:`fit_net` passes the weights with the rows (as one more key of a dict
``X``) through skorch's own train/valid split and batching; while the net trains
(:func:`batch_losses`), a forward pre-hook on its module drops the weights before
the module sees them, and its criterion is a stand-in that returns
``sum(w * l) / sum(w)`` over the batch from the net's own per-sample losses.
The net's class is never changed; afterwards its module and criterion are its
own again, so the fitted net pickles and predicts like any other. The fine-tune
(:mod:`._finetune`) uses the same mechanism with a batch loss of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from skorch.callbacks import Callback
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


def check_net(estimator: Any, n_classes: int | None = None, who: str = "FairIF") -> None:
    """Raise a clear error unless ``estimator`` is a supported skorch classifier.

    Parameters
    ----------
    estimator : object
        The estimator given to a FairIF meta-estimator: a skorch classifier, or a
        fitted one wrapped in :class:`~sklearn.frozen.FrozenEstimator`.
    n_classes : int, optional
        The number of classes of the target it will be fitted on.
    who : str, default="FairIF"
        The method named in the errors.

    Raises
    ------
    TypeError
        If it is not a :class:`skorch.NeuralNetClassifier` or
        :class:`skorch.NeuralNetBinaryClassifier` (or a subclass).
    ValueError
        If a frozen net has not been fitted, or the net's device is CUDA where torch has none.
    """
    net = unfrozen(estimator)
    if not isinstance(net, _SUPPORTED):
        raise TypeError(
            f"{who} needs a skorch NeuralNetClassifier or NeuralNetBinaryClassifier "
            f"as `estimator`, got {type(net).__name__}. Wrap your torch module "
            "in skorch.NeuralNetClassifier(module, ...) first."
        )
    if n_classes is not None and n_classes > 2 and isinstance(net, NeuralNetBinaryClassifier):
        raise ValueError(
            f"y has {n_classes} classes, but a NeuralNetBinaryClassifier predicts two; use a "
            "skorch NeuralNetClassifier whose module outputs one score per class."
        )
    device = str(getattr(net, "device", "cpu"))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"The net's device is {device!r}, but this torch has no CUDA device (torch.cuda.is_available() "
            "is False): set device='cpu' on the net, or run where torch was built with CUDA and sees a GPU."
        )
    if getattr(net, "unwrap_after_train", True) is False:
        raise ValueError(
            f"{who} needs unwrap_after_train=True on a skorch AccelerateMixin net: it reads the trained "
            "module itself, not the wrapper Accelerate puts around it for training."
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


class _BatchCriterion(torch.nn.Module):
    """Stands in for a net's criterion while its batches carry extra per-row arrays.

    The module's forward pre-hook (:meth:`strip`) takes the extra arrays out of
    the batch before the module sees it and keeps the batch; the call then
    computes the batch's per-sample losses with the net's own ``get_loss`` and
    its own criterion (``reduction='none'``), and turns them into the batch loss
    with ``batch_loss(net, y_pred, y_true, batch, training, losses)``.
    """

    def __init__(self, net: Any, criterion: torch.nn.Module, batch_loss):
        super().__init__()
        self.criterion = criterion
        self.batch_loss = batch_loss
        self.batch = None
        self._net = [net]  # not a submodule

    def strip(self, module, args, kwargs):
        """Forward pre-hook: the batch without its extra arrays, as positional input when it is one array."""
        if WEIGHT_KEY not in kwargs:
            return None
        self.batch = kwargs
        x = module_input(kwargs)
        return ((), dict(x)) if isinstance(x, Mapping) else ((x,), {})

    def forward(self, y_pred, y_true):
        (net,) = self._net
        net.criterion_ = self.criterion  # the net's own loss, for the per-sample losses and the batch loss
        try:
            with per_sample_criterion(net):
                losses = net.get_loss(y_pred, y_true, X=None, training=False)
            losses = losses.reshape(losses.shape[0], -1).mean(dim=1)
            return self.batch_loss(net, y_pred, y_true, self.batch, net.module_.training, losses)
        finally:
            net.criterion_ = self


class _BatchLosses(Callback):
    """Puts a :class:`_BatchCriterion` in place when training begins (after the net's own callbacks,
    which may re-initialise the module or the criterion), and takes it away when training ends."""

    def __init__(self, batch_loss):
        self.batch_loss = batch_loss
        self.installed_ = None

    def on_train_begin(self, net, **kwargs):
        original = net.criterion_
        stand_in = _BatchCriterion(net, original, self.batch_loss)
        handle = net.module_.register_forward_pre_hook(stand_in.strip, with_kwargs=True)
        net.criterion_ = stand_in
        self.installed_ = (handle, original)

    def on_train_end(self, net, **kwargs):
        if self.installed_ is not None:
            handle, original = self.installed_
            handle.remove()
            net.criterion_ = original
            self.installed_ = None


@contextlib.contextmanager
def batch_losses(net: Any, batch_loss=weighted_mean):
    """While inside, the initialised ``net`` trains on batches that carry extra per-row arrays (the
    keys of :func:`~._rows.training_data`): from the start of training, a forward pre-hook on its
    module drops them before the module sees the batch, and its criterion is a
    :class:`_BatchCriterion` that returns ``batch_loss`` of the batch. The net's class is never
    changed, and its module and criterion are its own again afterwards (after an error too)."""
    callback = _BatchLosses(batch_loss)
    net.callbacks_.append(("fairif_batch_losses", callback))
    try:
        yield
    finally:
        callback.on_train_end(net)
        net.callbacks_.remove(("fairif_batch_losses", callback))


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
    # what net.fit does, with the batch losses in place between initialising and training
    if net.warm_start and getattr(net, "initialized_", False):
        prepare_for_training(net)
    else:
        net.initialize()
    with _class_count_check(y), interrupts_propagate(net), batch_losses(net):
        net.partial_fit(data, y)
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
