"""What a fit does when training goes wrong: a user's interrupt stops it, a diverged net is an error.

skorch's ``partial_fit`` catches :class:`KeyboardInterrupt` and returns the net
trained so far: its callbacks stop training that way (``EarlyStopping``), and
for a net trained alone that is what a user's Ctrl-C should do. Inside a FairIF
fit it is not: the half-trained net would silently become the ERM model or
stage 2's. :func:`interrupts_propagate` raises a :class:`KeyboardInterrupt`
that no callback raised once skorch has finished with it.

A training loss that becomes NaN or infinite leaves non-finite parameters and
no error; :func:`check_trained` turns that into a :class:`FloatingPointError`
that says which stage diverged and what to try. The commonest cause of a NaN loss
from the first epoch is not divergence but a module that outputs logits under
skorch's default criterion for :class:`~skorch.NeuralNetClassifier`
(``NLLLoss``, to which skorch gives the log of the module's output):
:func:`probability_output_hint` looks for it, only once a fit has failed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback


def _raised_by_callback(error: BaseException) -> bool:
    """Whether ``error`` was raised in a skorch callback's own code (a deliberate stop)."""
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return isinstance(tb.tb_frame.f_locals.get("self"), Callback)


class _RecordInterrupts:
    """The net's ``fit_loop``, recording the KeyboardInterrupts that no callback raised."""

    def __init__(self, fit_loop):
        self.fit_loop = fit_loop
        self.interrupts: list[KeyboardInterrupt] = []

    def __call__(self, *args, **kwargs):
        try:
            return self.fit_loop(*args, **kwargs)
        except KeyboardInterrupt as error:
            if not _raised_by_callback(error):
                self.interrupts.append(error)
            raise


@contextlib.contextmanager
def interrupts_propagate(net: Any):
    """Raise again, after the block, a KeyboardInterrupt that skorch's fit caught and no callback raised."""
    record = _RecordInterrupts(net.fit_loop)
    net.fit_loop = record  # an instance attribute, shadowing the method for the duration
    try:
        yield
    finally:
        del net.fit_loop
    if record.interrupts:
        raise record.interrupts[0]


def _last_train_loss(net: Any) -> float | None:
    history = getattr(net, "history", None)
    if not history:
        return None
    loss = history[-1].get("train_loss")
    return None if loss is None else float(loss)


def check_trained(net: Any, stage: str, remedy: str, diagnose: Callable[[], str] | None = None) -> None:
    """Raise :class:`FloatingPointError` when training left the net's parameters or its last training
    loss not finite (buffers are not read: a mask may hold infinities by design).

    ``stage`` names what was trained (``"The ERM fit"``), ``remedy`` what to try;
    ``diagnose``, called only when there is an error, may name a cause (and its
    fix) to say instead.
    """
    bad = [name for name, value in net.module_.named_parameters() if not bool(torch.isfinite(value).all())]
    loss = _last_train_loss(net)
    if not bad and (loss is None or math.isfinite(loss)):
        return
    what = []
    if loss is not None and not math.isfinite(loss):
        what.append(f"its training loss is {loss}")
    if bad:
        names = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        what.append(f"parameters {names} are not finite")
    cause = diagnose() if diagnose is not None else ""
    raise FloatingPointError(f"{stage} diverged: {' and '.join(what)}. {cause or f'Try {remedy}.'}")


def _uses_nll_loss(net: Any) -> bool:
    criterion = net.criterion
    kind = criterion if isinstance(criterion, type) else type(criterion)
    return isinstance(net, NeuralNetClassifier) and issubclass(kind, torch.nn.NLLLoss)


def _outputs(net: Any, X: Any, y: np.ndarray, n_rows: int) -> torch.Tensor:
    """The module's outputs on the first ``n_rows`` rows, in eval mode, without gradients."""
    from ._functional import NetFunctions  # noqa: PLC0415 (the adapter's modules import this one)

    model = NetFunctions(net)
    rows = np.arange(min(n_rows, len(y)))
    with torch.no_grad(), model.eval_mode():
        _, x, _ = next(iter(model.batches(X, y, rows, len(rows))))
        return model.output(model.params, x)


def probability_output_hint(net: Any, X: Any, y: np.ndarray, n_rows: int = 64) -> str:
    """What to change when a NeuralNetClassifier's criterion is NLLLoss but its module outputs no
    probabilities (negative values, or rows that do not sum to one); ``""`` otherwise.

    skorch's :class:`~skorch.NeuralNetClassifier` gives the log of the module's
    output to ``NLLLoss`` (its default criterion), so a module that ends in a
    linear layer makes the training loss NaN from the first batch. The check runs
    the module of a fresh clone of ``net`` (initialised, untrained: the failed
    net's parameters may not be finite) on the first ``n_rows`` rows.
    """
    if not _uses_nll_loss(net):
        return ""
    out = _outputs(clone(net).initialize(), X, y, n_rows)
    if out.ndim != 2 or not bool(torch.isfinite(out).all()):
        return ""
    negative = bool((out < 0).any())
    off_one = float((out.sum(dim=1) - 1).abs().max())
    if not negative and off_one < 1e-3:
        return ""
    what = "some are negative" if negative else f"rows sum to up to {off_one + 1:.3g}, not 1"
    return (
        "The net's criterion is NLLLoss (skorch NeuralNetClassifier's default), to which skorch gives the "
        f"log of the module's output, but the module's outputs are not probabilities ({what}): if the "
        "module outputs logits, give the net criterion=torch.nn.CrossEntropyLoss; otherwise end the "
        "module with a softmax."
    )


def check_outputs(net: Any, X: Any, y: np.ndarray, n_classes: int) -> None:
    """Raise when a trained :class:`~skorch.NeuralNetClassifier`'s module returns more outputs per row
    than ``y`` has classes.

    skorch trains such a net without complaint (the extra outputs are pushed
    down), but its ``predict_proba`` then has a column for no class, which no
    scikit-learn scorer or ``classes_`` expects. (Fewer outputs fail in
    training; see ``_class_count_check``.) One row goes through the module.
    """
    if not isinstance(net, NeuralNetClassifier) or len(y) == 0:
        return
    n_outputs = _outputs(net, X, y, 1).shape[-1]
    if n_outputs > n_classes:
        raise ValueError(
            f"The net's module returns {n_outputs} outputs per row, but y has {n_classes} classes: give it "
            f"one output per class (e.g. make_mlp_classifier(..., n_classes={n_classes}) or "
            f"module__n_classes={n_classes}); its predict_proba would have a column for no class."
        )
