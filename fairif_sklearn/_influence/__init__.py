"""The influence engine (private): soft-rate gaps, curvature solves and JVP influence scores."""

from ._curvature import CURVATURES, CurvatureOperator, solve_cg, solve_cg_auto_damping, solve_dense
from ._engine import METHODS, InfluenceResult, InfluenceSettings, compute_influence, resolve_method
from ._gaps import AnnotatedGaps
from ._scores import influence_scores
from ._shards import same_seed

__all__ = [
    "CURVATURES",
    "METHODS",
    "AnnotatedGaps",
    "CurvatureOperator",
    "InfluenceResult",
    "InfluenceSettings",
    "compute_influence",
    "influence_scores",
    "resolve_method",
    "same_seed",
    "solve_cg",
    "solve_cg_auto_damping",
    "solve_dense",
]
