"""torch's forward-mode decompositions, loaded before a forward-mode derivative, quietly."""

from __future__ import annotations

import warnings

import torch


def load_forward_mode() -> None:
    """Load torch's forward-mode decompositions with torch's own warning about them silenced.

    torch loads them on the first forward-mode derivative of a process through ``torch.jit.script``
    (compiling them: about 0.3 s), which torch itself deprecates: a warning a user cannot act on
    (a DeprecationWarning in torch 2.13, a FutureWarning, shown by default, in 2.14), and an error
    in a test suite run with ``-W error``. Called where stage 1 takes a
    forward-mode derivative (the JVP scores, the JVP curvature products), so a stage 1 that takes
    none (a conv net's per-sample road) does not load them. The conditions are torch's
    (``torch.autograd.forward_ad``); after the first call this is a flag check.
    """
    load = getattr(torch.autograd.forward_ad, "_maybe_load_decompositions", None)
    if load is None:
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is (deprecated|not supported)")
        load()
