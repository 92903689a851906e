"""The skorch adapter: weighted training and a functional view of a fitted net.

Two jobs live here, and nothing else in the package imports skorch:

* :func:`fit_weighted` trains a skorch net with per-sample loss weights without
  the user changing their net. The weights travel with the rows (as one more key
  of a dict ``X``) through skorch's own train/valid split and batching; while the
  net trains, its class is temporarily a subclass whose ``infer`` drops the
  weights before the module sees them and whose ``get_loss`` returns
  ``sum(w * l) / sum(w)`` over the batch. Afterwards the net's class is the
  user's again, so the fitted net pickles and predicts like any other.
* :class:`SkorchModel` exposes a fitted net to :mod:`torch.func`: its parameters
  as a dict, the per-sample loss and the class probabilities as pure functions
  of those parameters, and the optimizer's L2 weight decay (part of the training
  objective, hence of its Hessian).
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


def check_skorch_net(estimator: Any) -> None:
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


def fit_weighted(net: Any, X: Any, y: np.ndarray, sample_weight: np.ndarray | None) -> Any:
    """Fit a skorch net, optionally with per-sample loss weights.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier or skorch.NeuralNetBinaryClassifier
        The net to fit (a clone, or a deep copy for a warm start).
    X : array-like or dict of array-like
        Training inputs.
    y : ndarray
        Encoded target (see :func:`encode_target`).
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights. Each batch's loss is ``sum(w * l) / sum(w)``.

    Returns
    -------
    net : the same net, fitted, with its original class.
    """
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


class _InferModule(torch.nn.Module):
    """Calls ``net.infer`` so that :func:`torch.func.functional_call` reaches it."""

    def __init__(self, net: Any):
        super().__init__()
        self.module = net.module_
        self._net = net

    def forward(self, x):
        return self._net.infer(x)


class SkorchModel:
    """A fitted skorch classifier seen as pure functions of its parameters.

    Parameters
    ----------
    net : fitted skorch.NeuralNetClassifier or skorch.NeuralNetBinaryClassifier

    Attributes
    ----------
    params : dict of str to torch.Tensor
        Detached copies of the trainable parameters (name to tensor).
    weight_decay : float
        The L2 weight decay of the net's optimizer (0 when it has none): the
        training objective is the mean loss plus ``weight_decay / 2 * ||theta||^2``.
    device : torch.device
    """

    def __init__(self, net: Any):
        self.net = net
        self._wrapper = _InferModule(net)
        self.params = {name: p.detach() for name, p in self._wrapper.named_parameters() if p.requires_grad}
        first = next(iter(self.params.values()))
        self.device = first.device
        self.dtype = first.dtype
        self.weight_decay = _weight_decay(net)
        self._nonlinearity = net._get_predict_nonlinearity()

    @contextlib.contextmanager
    def eval_mode(self):
        """Evaluate the module in eval mode (BatchNorm statistics, no dropout)."""
        module = self.net.module_
        was_training = module.training
        module.eval()
        try:
            yield
        finally:
            module.train(was_training)

    def as_tensor(self, X: Any) -> torch.Tensor:
        """Move a batch of inputs to the net's device and dtype."""
        x = torch.as_tensor(np.asarray(X), device=self.device)
        return x.to(self.dtype) if x.is_floating_point() else x

    def target_tensor(self, y: np.ndarray) -> torch.Tensor:
        """Move a batch of encoded targets to the net's device."""
        return torch.as_tensor(y, device=self.device)

    def output(self, params: dict, x: torch.Tensor) -> torch.Tensor:
        """The module's output (what the criterion sees) at ``params``."""
        out = torch.func.functional_call(self._wrapper, params, (x,))
        return out[0] if isinstance(out, tuple) else out

    def loss_from_output(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample training losses given the module's output, shape (batch,)."""
        with per_sample_criterion(self.net):
            losses = self.net.get_loss(out, y, X=None, training=False)
        return losses.reshape(losses.shape[0], -1).mean(dim=1)

    def losses(self, params: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample training losses at ``params``, shape (batch,)."""
        return self.loss_from_output(self.output(params, x), y)

    def proba(self, params: dict, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities, shape (batch, 2), differentiable in ``params``."""
        return self._nonlinearity(self.output(params, x))

    def n_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.params.values())


def _weight_decay(net: Any) -> float:
    optimizer = getattr(net, "optimizer_", None)
    if optimizer is None:
        return 0.0
    decays = {float(g.get("weight_decay", 0.0)) for g in optimizer.param_groups}
    if len(decays) > 1:
        raise ValueError(
            "FairIF needs one weight decay for all parameters; the net's optimizer "
            f"has several ({sorted(decays)})."
        )
    return decays.pop() if decays else 0.0
