"""The influence-consistent stage 2: a proximal Bregman fine-tune from the fitted parameters.

With weights ``w = 1 + u``, starting from the fitted parameters ``theta0`` (module
outputs ``f0_i``), the fine-tune minimises

    (1/n) sum_i [ w_i l_i(theta) - b_i g_i . f_i(theta) ]  +  (mu / 2) ||theta - theta0||^2

with ``g_i`` the gradient of row ``i``'s loss in its outputs at ``f0_i`` and
``b`` the weights ``theta0`` was fitted with (one after ERM; a round's weights
when a later round fine-tunes again)
(computed batch by batch with the same arithmetic as the batch's outputs, so
that at ``theta0`` the two cancel to the last bit). Up to a
constant this is ``(1/n) sum_i D(f_i(theta), f0_i) + (1/n) sum_i u_i l_i(theta)
+ (mu / 2) ||theta - theta0||^2``, ``D`` the Bregman divergence of the loss in
the outputs: the proximal Bregman response function of Bae et al. (NeurIPS
2022, "If influence functions are the answer, then what is the question?").
Two facts make it the objective whose response influence predicts:

* with ``u = 0`` its gradient at ``theta0`` is exactly zero for every batch,
  even when the fitted net had not converged, so unit weights leave the model
  where it is;
* its Gauss-Newton curvature at ``theta0`` plus ``mu`` is the matrix the
  influence solve inverts when ``mu`` is the optimizer's weight decay plus the
  damping, so to first order its minimiser moves as influence says.

The net trains with its own optimizer (fresh state, learning rate as set), or
with Nesterov's accelerated gradient at a step set by the curvature
(:func:`nesterov_step`), and with its own iterator, split and callbacks (arrays
are read a batch at a time where the net's iterator reads them as skorch does
by default: :mod:`._batch_read`). The
optimizer's L2 weight decay is part of the training objective, so it moves into
``mu`` (its Bregman divergence is ``weight_decay / 2 * ||theta - theta0||^2``)
and is switched off in the optimizer meanwhile. The result is the average of
the iterates over the last epoch (Polyak averaging), which removes most of the
noise of the last iterate.

BatchNorm layers stay in eval mode throughout (their running statistics frozen
and used in the forward pass): the function the fine-tune moves is then the one
stage 1 linearised (influence is computed in eval mode), not one that normalises
each batch by its own statistics and drifts the running averages as it trains.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.utils import to_tensor

from ._batch_read import batch_read
from ._faults import check_trained, interrupts_propagate
from ._fit import batch_losses, loss_target, prepare_for_training
from ._functional import NetFunctions
from ._rows import KEY_PREFIX, WEIGHT_KEY, module_input, training_data

_BASE_KEY = KEY_PREFIX + "base_weight__"


class _Anchor:
    """The fitted parameters ``theta0``: the proximal term and the outputs' loss gradients there."""

    def __init__(self, net: Any, strength: float):
        self.functions = NetFunctions(net)
        self.functions.params = {k: v.clone() for k, v in self.functions.params.items()}
        self.strength = strength

    def penalty(self) -> torch.Tensor:
        """``(strength / 2) * ||theta - theta0||^2`` over the trainable parameters."""
        params = self.functions.live_params()
        anchor = self.functions.params
        return 0.5 * self.strength * sum(((params[n] - a) ** 2).sum() for n, a in anchor.items())

    def output_gradients(self, x, y_true) -> torch.Tensor:
        """``g_i``: each row's loss gradient in the module's outputs at ``theta0``."""
        f = self.functions
        with torch.enable_grad():
            out = f.output(f.params, x).detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(f.loss_from_output(out, y_true).sum(), out)
        return grad


def bregman_loss(
    anchor: _Anchor, net, y_pred, y_true, X, training: bool, losses: torch.Tensor
) -> torch.Tensor:
    """The fine-tune's batch objective, from the batch's per-sample ``losses``."""
    weight = to_tensor(X[WEIGHT_KEY], device=losses.device).to(losses.dtype)
    x = to_tensor(module_input(X), device=net.device)
    g = anchor.output_gradients(x, to_tensor(y_true, device=net.device))
    base = to_tensor(X[_BASE_KEY], device=losses.device).to(losses.dtype)
    tilt = base * (g.reshape(len(g), -1) * y_pred.reshape(len(g), -1)).sum(dim=1)
    loss = (weight * losses).mean() - tilt.mean()
    if training:
        loss = loss + anchor.penalty()
    return loss


class _IterateAverage(Callback):
    """Replace the parameters by the mean of the iterates of the last epoch, at the end of training."""

    def __init__(self, last_epoch: int):
        self.last_epoch = last_epoch

    def initialize(self):
        self.epoch_, self.count_, self.mean_ = 0, 0, None
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epoch_ += 1

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if not training or self.epoch_ < self.last_epoch:
            return
        params = [p.detach() for p in net.module_.parameters() if p.requires_grad]
        if self.mean_ is None:
            self.mean_ = [p.clone() for p in params]
            self.count_ = 1
            return
        self.count_ += 1
        for mean, p in zip(self.mean_, params, strict=True):
            mean += (p - mean) / self.count_

    def on_train_end(self, net, **kwargs):
        if self.mean_ is None:
            return
        with torch.no_grad():
            params = [p for p in net.module_.parameters() if p.requires_grad]
            for p, mean in zip(params, self.mean_, strict=True):
                p.copy_(mean)


def nesterov_step(
    weights: np.ndarray, largest_eigenvalue: float | None, strength: float
) -> tuple[float, float]:
    """``(step, momentum)`` of Nesterov's accelerated gradient on the fine-tune's objective.

    Near ``theta0`` the objective is quadratic with curvature ``(1/n) sum_i w_i
    G_i + mu`` (``G_i`` row ``i``'s Gauss-Newton matrix, ``mu`` the proximal
    ``strength``), whose largest eigenvalue is at most ``L = max(w) lambda +
    mu`` when ``lambda`` is that of ``(1/n) sum_i G_i``, the curvature stage 1
    measured, and whose smallest is at least ``mu``. The step is ``1 / L`` and
    the momentum ``(sqrt(k) - 1) / (sqrt(k) + 1)``, ``k = L / mu``: the
    accelerated method for that condition number. Unlike an adaptive
    optimizer's (Adam's is about its learning rate, whatever the gradient's
    size), its move is proportional to the weight change ``w - 1``, as
    influence's prediction is.
    """
    top = np.nan if largest_eigenvalue is None else float(largest_eigenvalue)
    L = float(np.max(weights)) * max(top, 0.0) + float(strength)
    if not (np.isfinite(L) and strength > 0):
        raise ValueError(
            "finetune_solver='nesterov' needs a positive damping (or weight decay) and the curvature's "
            f"largest eigenvalue, got a proximal strength of {strength:.3g} and an eigenvalue of {top:.3g}."
        )
    root = np.sqrt(L / strength)
    return 1.0 / L, float((root - 1) / (root + 1))


def batchnorm_layers(module: torch.nn.Module) -> list[torch.nn.Module]:
    """The BatchNorm layers (any ``_BatchNorm``: 1d, 2d, 3d, SyncBatchNorm) of ``module``."""
    return [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def resolve_finetune_solver(finetune_solver: str, net: Any) -> str:
    """``finetune_solver="auto"``: ``"nesterov"`` on a net with BatchNorm layers, the net's own
    optimizer (``"net"``) otherwise.

    On a briefly trained ResNet with BatchNorm the net's Adam moved the
    annotated gaps many times further than influence predicted, and the wrong
    way, and stage 2's check rejected its first round on every seed (on
    held-out annotated rows, the one round it kept levelled down); Nesterov's
    accelerated gradient kept the rounds and levelled up. On the MLPs, held
    out over ten seeds, the net's own optimizer did as well or better (the
    results page, "The fine-tune's optimizer").
    """
    if finetune_solver != "auto":
        return finetune_solver
    return "nesterov" if batchnorm_layers(net.module_) else "net"


@contextlib.contextmanager
def _finetune_optimizer(net: Any, nesterov: tuple[float, float] | None = None):
    """The fine-tune's optimizer for the duration: the net's own, fresh, its L2 weight decay off (it
    is in ``mu``); with ``nesterov`` (``(step, momentum)``), Nesterov's accelerated gradient on the
    same parameters instead, the net's own left fresh for afterwards."""
    net.initialize_optimizer()
    own = net.optimizer_
    decays = [g.get("weight_decay", 0.0) for g in own.param_groups]
    for g in own.param_groups:
        g["weight_decay"] = 0.0
    if nesterov is not None:
        step, momentum = nesterov
        params = [p for g in own.param_groups for p in g["params"]]
        net.optimizer_ = torch.optim.SGD(params, lr=step, momentum=momentum, nesterov=momentum > 0)
    try:
        yield
    finally:
        for g, decay in zip(own.param_groups, decays, strict=True):
            g["weight_decay"] = decay
        if nesterov is not None:
            net.optimizer_ = own


@contextlib.contextmanager
def frozen_batchnorm(module: torch.nn.Module):
    """BatchNorm layers of ``module`` in eval mode for the duration, whatever ``module.train()`` says.

    skorch puts the module in training mode at every training batch; a forward
    pre-hook on each BatchNorm layer switches that layer back to eval mode
    (running statistics, not updated) just before it runs.
    """

    def to_eval(layer, args):
        layer.training = False

    norms = batchnorm_layers(module)
    handles = [m.register_forward_pre_hook(to_eval) for m in norms]
    modes = [m.training for m in norms]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in zip(norms, modes, strict=True):
            m.training = mode


@contextlib.contextmanager
def _max_epochs(net: Any, epochs: int):
    """``partial_fit`` trains for ``max_epochs``; set it for the duration (no re-initialisation)."""
    old = net.max_epochs
    net.max_epochs = epochs
    try:
        yield
    finally:
        net.max_epochs = old


def finetune_net(
    net: Any,
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray,
    *,
    base_weight: np.ndarray | None = None,
    strength: float,
    epochs: int,
    nesterov: tuple[float, float] | None = None,
) -> Any:
    """Fine-tune a fitted net in place with the proximal Bregman objective (module docstring).

    Parameters
    ----------
    net : fitted skorch net
        A copy of the model to move (its parameters are ``theta0``).
    X : array-like or torch Dataset
        Training inputs.
    y : ndarray
        0/1 class codes.
    sample_weight : ndarray of shape (n_samples,)
        Mean-one, non-negative weights.
    base_weight : ndarray of shape (n_samples,), default=None
        The weights ``theta0`` was fitted with (one when None): the Bregman term
        is taken on the loss weighted by them, so that ``sample_weight =
        base_weight`` leaves ``theta0`` a stationary point.
    strength : float
        ``mu``: the optimizer's weight decay plus the damping.
    epochs : int
        Passes over the training rows.
    nesterov : (step, momentum) or None, default=None
        Train with Nesterov's accelerated gradient at this step and momentum
        (:func:`nesterov_step`) instead of the net's optimizer.

    Returns
    -------
    net : the same net, its module and criterion its own again.
    """
    base = np.ones(len(y)) if base_weight is None else base_weight
    extras = {WEIGHT_KEY: sample_weight, _BASE_KEY: base}
    y = loss_target(net, y)
    data = training_data(X, y, {k: np.asarray(v, dtype=np.float32) for k, v in extras.items()})
    average = ("fairif_iterate_average", _IterateAverage(last_epoch=epochs).initialize())
    loss = functools.partial(bregman_loss, _Anchor(net, strength))
    net.callbacks_.append(average)
    try:
        with _finetune_optimizer(net, nesterov), _max_epochs(net, epochs), interrupts_propagate(net):
            prepare_for_training(net)  # data-parallel (an AccelerateMixin net): after the fresh optimizer
            with batch_losses(net, loss), frozen_batchnorm(net.module_), batch_read(net, data, y) as rows:
                net.partial_fit(rows, y)  # runs the callbacks' on_train_begin/end too
    finally:
        net.callbacks_.remove(average)
    check_trained(
        net,
        "The fine-tune (stage 2)",
        "a smaller learning rate (the net's lr), more damping (FairIF's damping: the fine-tune's proximal "
        f"strength is the weight decay plus the damping, {strength:.3g} here), or a smaller closure (weights "
        "further from one move the net further)",
    )
    return net


def interpolate_net(start: Any, end: Any, step: float) -> Any:
    """A copy of ``end`` whose module holds ``start + step * (end - start)``, parameters and
    floating-point buffers (BatchNorm statistics) alike: a point on the segment between two fits of
    the same net (``step`` 0 is ``start``, 1 is ``end``)."""
    new = copy.deepcopy(end)
    before = start.module_.state_dict()
    with torch.no_grad():
        for name, value in new.module_.state_dict().items():
            if value.is_floating_point():
                value.copy_(before[name] + step * (value - before[name]))
    return new
