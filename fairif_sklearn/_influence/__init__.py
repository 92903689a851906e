"""The influence engine (private): soft-rate gaps, curvature solves and JVP influence scores."""

from ._curvature import CURVATURES, CurvatureOperator, solve_cg, solve_dense
from ._engine import METHODS, InfluenceResult, InfluenceSettings, annotated_gaps, compute_influence
from ._scores import influence_scores

__all__ = [
    "CURVATURES",
    "METHODS",
    "annotated_gaps",
    "CurvatureOperator",
    "InfluenceResult",
    "InfluenceSettings",
    "compute_influence",
    "influence_scores",
    "solve_cg",
    "solve_dense",
]
