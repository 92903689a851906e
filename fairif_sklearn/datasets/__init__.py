"""Data sets: an embedded generator of biased data."""

from ._synthetic import BIASES, make_biased_classification

__all__ = ["BIASES", "make_biased_classification"]
