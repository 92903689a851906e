"""Cross-validation for FairIF: folds that keep annotated rows of every group and class on both sides."""

from ._split import AnnotatedStratifiedKFold

__all__ = ["AnnotatedStratifiedKFold"]
