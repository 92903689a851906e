"""Adapters between fairif_sklearn and the training libraries it wraps."""

from ._skorch import (
    SkorchModel,
    check_skorch_net,
    fit_weighted,
    loss_target,
)

__all__ = ["SkorchModel", "check_skorch_net", "fit_weighted", "loss_target"]
