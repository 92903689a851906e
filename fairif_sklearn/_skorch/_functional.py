"""A fitted skorch classifier seen as pure functions of its parameters, for :mod:`torch.func`."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ._fit import loss_target, per_sample_criterion
from ._rows import array_rows, batches


class _InferModule(torch.nn.Module):
    """Calls ``net.infer`` so that :func:`torch.func.functional_call` reaches it.

    Holds the net's module as it is when the view is made (unwrapped: a skorch
    ``AccelerateMixin`` net unwraps it after training).
    """

    def __init__(self, net: Any):
        super().__init__()
        self.module = net.module_
        self._net = net

    def forward(self, x):
        if self._net.module_ is self.module:
            return self._net.infer(x)
        # the net's module is wrapped for data-parallel training (a skorch AccelerateMixin net while
        # it trains): call the module itself, as the wrapper's forward would synchronise processes
        return self.module(**x) if isinstance(x, Mapping) else self.module(x)


class NetFunctions:
    """A fitted skorch classifier seen as pure functions of its parameters.

    The influence engine reads the net only through this view: its parameters
    as a dict, the per-sample loss and the class probabilities as functions of
    those parameters, batches of inputs and targets on the net's device, and the
    optimizer's L2 weight decay (part of the training objective, hence of its
    curvature).

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

    def proximal_strength(self, damping: float) -> float:
        """The optimizer's weight decay plus ``damping``: the shift of the curvature that influence
        inverts, and so the strength of the fine-tune's proximal term whose response it predicts."""
        return float(self.weight_decay) + float(damping)

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

    def inputs(self, X: Any, rows) -> torch.Tensor:
        """The rows ``rows`` (a slice or indices) of an array ``X``, on the net's device and dtype."""
        return array_rows(X, rows, self.device, self.dtype)

    def batches(self, X: Any, y: np.ndarray, rows: np.ndarray | None, batch_size: int):
        """The rows ``rows`` of ``(X, y)`` (all when None) in batches: ``(positions, x, targets)``.

        ``X`` is an array or a torch Dataset (read through the net's
        ``iterator_valid``, see :mod:`._rows`); ``positions`` is the batch's slice
        of ``rows``, ``x`` and ``targets`` are on the net's device.
        """
        for positions, x, codes in batches(
            self.net, X, y, rows, batch_size, device=self.device, dtype=self.dtype
        ):
            yield positions, x, torch.as_tensor(loss_target(self.net, codes), device=self.device)

    def targets(self, y: np.ndarray, rows) -> torch.Tensor:
        """The 0/1 class codes of rows ``rows``, in the dtype the net's loss expects."""
        return torch.as_tensor(loss_target(self.net, y[rows]), device=self.device)

    def last_linear_names(self) -> list[str]:
        """The trainable parameter names of the module's last :class:`torch.nn.Linear`."""
        linears = [m for m in self._wrapper.named_modules() if isinstance(m[1], torch.nn.Linear)]
        for name, module in reversed(linears):
            names = [f"{name}.{p}" for p, t in module.named_parameters() if t.requires_grad]
            if names:
                return names
        raise ValueError("influence='last_layer' needs a module whose last layer is a torch.nn.Linear.")

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

    def live_params(self) -> dict:
        """The net's trainable parameters themselves (not copies), by the names of ``params``."""
        return {name: p for name, p in self._wrapper.named_parameters() if p.requires_grad}

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
