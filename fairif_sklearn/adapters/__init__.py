"""Adapters between fairif_sklearn and the training libraries it wraps."""

from ._skorch import (
    SkorchModel,
    check_skorch_net,
    encode_target,
    fit_weighted,
)

__all__ = ["SkorchModel", "check_skorch_net", "encode_target", "fit_weighted"]
