"""The weight solve: from influence scores and gaps to mean-one sample weights."""

from ._solver import WeightSolution, solve_weights

__all__ = ["WeightSolution", "solve_weights"]
