"""The FairIF estimators."""

from ._classifier import FairIFClassifier
from ._weighted_net import WeightedNetClassifier
from ._weigher import FairIFWeigher

__all__ = ["FairIFClassifier", "FairIFWeigher", "WeightedNetClassifier"]
