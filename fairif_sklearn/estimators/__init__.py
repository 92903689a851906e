"""The FairIF estimators."""

from ._classifier import FairIFClassifier
from ._weigher import FairIFWeigher

__all__ = ["FairIFClassifier", "FairIFWeigher"]
