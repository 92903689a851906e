"""fairif_sklearn: fairer deep classifiers by influence-balanced reweighting (FairIF).

FairIF (Wang, Wu, He, "Training Fair Deep Neural Networks by Balancing
Influence") trains a model by ERM, measures the gaps in true-positive and
true-negative rates between the groups of a small group-annotated set, and,
when a gap is beyond its noise, uses influence functions to find the per-sample
weights that close the gaps to within one standard error; by default it then
fine-tunes the ERM model with those weights (one epoch), and when every gap is
within its noise it keeps the ERM model.

The public API is what ``doc/api.rst`` lists: the estimators here, and the
modules :mod:`~fairif_sklearn.metrics`, :mod:`~fairif_sklearn.model_selection`,
:mod:`~fairif_sklearn.datasets` and :mod:`~fairif_sklearn.nets`. Modules whose
name starts with an underscore are private.
"""

import logging

from ._estimators import FairIFClassifier, FairIFClassifierCV, FairIFWeigher, WeightedNetClassifier
from ._version import __version__

# a library's logger: silent unless the application configures logging (``verbose`` shows it, see
# _runtime.report)
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["FairIFClassifier", "FairIFClassifierCV", "FairIFWeigher", "WeightedNetClassifier", "__version__"]
