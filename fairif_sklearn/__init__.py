"""fairif_sklearn: fairer deep classifiers by influence-balanced reweighting (FairIF).

FairIF (Wang, Wu, He, "Training Fair Deep Neural Networks by Balancing
Influence") trains a model by ERM, uses influence functions to find per-sample
weights that would equalise true-positive and true-negative rates across the
groups of a small group-annotated set, and retrains with those weights.
"""

from ._version import __version__
from .estimators import FairIFClassifier, FairIFWeigher, WeightedNetClassifier

__all__ = ["FairIFClassifier", "FairIFWeigher", "WeightedNetClassifier", "__version__"]
