"""fairif_sklearn: fairer deep classifiers by influence-balanced reweighting (FairIF).

FairIF (Wang, Wu, He, "Training Fair Deep Neural Networks by Balancing
Influence") trains a model by ERM, uses influence functions to find per-sample
weights that would equalise true-positive and true-negative rates across the
groups of a small group-annotated set, and retrains with those weights.

The public API is what ``doc/api.rst`` lists: the estimators here, and the
modules :mod:`~fairif_sklearn.metrics`, :mod:`~fairif_sklearn.model_selection`,
:mod:`~fairif_sklearn.datasets` and :mod:`~fairif_sklearn.nets`. Modules whose
name starts with an underscore are private.
"""

from ._estimators import FairIFClassifier, FairIFClassifierCV, FairIFWeigher, WeightedNetClassifier
from ._version import __version__

__all__ = ["FairIFClassifier", "FairIFClassifierCV", "FairIFWeigher", "WeightedNetClassifier", "__version__"]
