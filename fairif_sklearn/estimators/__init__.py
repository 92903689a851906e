"""The FairIF estimators."""

from ._classifier import FairIFClassifier
from ._weigher import FairIFWeigher
from ._weighted_net import WeightedNetClassifier

__all__ = ["FairIFClassifier", "FairIFWeigher", "WeightedNetClassifier"]
