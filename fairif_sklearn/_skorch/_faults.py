"""What a fit does when training goes wrong: a user's interrupt stops it, a diverged net is an error.

skorch's ``partial_fit`` catches :class:`KeyboardInterrupt` and returns the net
trained so far: its callbacks stop training that way (``EarlyStopping``), and
for a net trained alone that is what a user's Ctrl-C should do. Inside a FairIF
fit it is not: the half-trained net would silently become the ERM model or
stage 2's. :func:`interrupts_propagate` raises a :class:`KeyboardInterrupt`
that no callback raised once skorch has finished with it.

A training loss that becomes NaN or infinite leaves non-finite parameters and
no error; :func:`check_trained` turns that into a :class:`FloatingPointError`
that says which stage diverged and what to try.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
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


def check_trained(net: Any, stage: str, remedy: str) -> None:
    """Raise :class:`FloatingPointError` when training left the net's parameters or its last training
    loss not finite (buffers are not read: a mask may hold infinities by design).

    ``stage`` names what was trained (``"The ERM fit"``), ``remedy`` what to try.
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
    raise FloatingPointError(f"{stage} diverged: {' and '.join(what)}. Try {remedy}.")
