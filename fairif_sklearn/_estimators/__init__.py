"""The FairIF estimators (private package; the classes are exported by :mod:`fairif_sklearn`)."""

from ._classifier import FairIFClassifier
from ._cv import FairIFClassifierCV
from ._weigher import FairIFWeigher
from ._weighted_net import WeightedNetClassifier

__all__ = ["FairIFClassifier", "FairIFClassifierCV", "FairIFWeigher", "WeightedNetClassifier"]
