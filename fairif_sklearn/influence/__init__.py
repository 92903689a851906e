"""The influence engine: soft-rate gaps, curvature solves and JVP influence scores."""

from ._curvature import CURVATURES, CurvatureOperator, solve_cg, solve_dense
from ._engine import METHODS, InfluenceResult, annotated_gaps, compute_influence, last_layer_names
from ._rates import TARGETS
from ._scores import influence_scores

__all__ = [
    "CURVATURES",
    "METHODS",
    "TARGETS",
    "annotated_gaps",
    "CurvatureOperator",
    "InfluenceResult",
    "compute_influence",
    "influence_scores",
    "last_layer_names",
    "solve_cg",
    "solve_dense",
]
