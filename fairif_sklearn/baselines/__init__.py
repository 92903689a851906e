"""Same-budget peers of FairIF: DFR and JTT, given exactly FairIF's information.

Each takes the same skorch net and the same ``fit(X, y, sensitive_features=...)``
as :class:`~fairif_sklearn.FairIFClassifier`: group labels on an annotated set
(missing, NaN, None or -1, on every other row), which is held out of training.

* :class:`DFRClassifier`: Deep Feature Reweighting (Kirichenko, Izmailov and
  Wilson 2022): the ERM net's last layer retrained on group-balanced annotated
  rows.
* :class:`JTTClassifier`: Just Train Twice (Liu et al. 2021): a second training
  run that up-weights the rows a short ERM run misclassifies.

``fairif-bench`` compares them with FairIF (``--no-peers`` skips them).
"""

from ._dfr import DFRClassifier
from ._jtt import JTTClassifier

__all__ = ["DFRClassifier", "JTTClassifier"]
