"""The skorch adapter (private): the only part of the package that knows skorch's internals."""

from ._faults import check_outputs, check_trained, interrupts_propagate, probability_output_hint
from ._finetune import finetune_net, interpolate_net, nesterov_step, resolve_finetune_solver
from ._fit import check_net, fit_net, is_frozen, loss_target, per_sample_criterion, seeded, unfrozen
from ._functional import NetFunctions
from ._rows import check_dataset, is_dataset, take

__all__ = [
    "NetFunctions",
    "check_dataset",
    "check_net",
    "check_outputs",
    "check_trained",
    "finetune_net",
    "fit_net",
    "interrupts_propagate",
    "interpolate_net",
    "nesterov_step",
    "resolve_finetune_solver",
    "is_dataset",
    "is_frozen",
    "loss_target",
    "per_sample_criterion",
    "probability_output_hint",
    "seeded",
    "take",
    "unfrozen",
]
