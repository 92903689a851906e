"""AnnotatedStratifiedKFold: K-fold stratified by annotation, group and class."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sklearn.model_selection._split import _BaseKFold

from .._rates import read_groups

_NO_GROUPS = (
    "AnnotatedStratifiedKFold needs the group labels (sensitive_features) to stratify by. In a "
    "search, scikit-learn's metadata routing carries them: call sklearn.set_config("
    "enable_metadata_routing=True) and pass sensitive_features= to the search's fit. Called "
    "directly, pass split(X, y, sensitive_features=...)."
)


class AnnotatedStratifiedKFold(_BaseKFold):
    """K-fold cross-validation for FairIF: every fold has annotated rows of every group and class.

    A FairIF fit learns from the annotated rows of its training fold, and a
    fairness scorer judges it on the annotated rows of its test fold; both need
    rows of every group in every class. Plain :class:`~sklearn.model_selection.KFold`
    on data whose annotated rows come first gives folds with none. This splitter
    stratifies the rows by (annotated, group, class) for annotated rows and by
    class for the others, as :class:`~sklearn.model_selection.StratifiedKFold`
    does by class, so each fold gets its share of each.

    It requests ``sensitive_features`` through metadata routing, so inside
    :class:`~sklearn.model_selection.GridSearchCV` it receives the same array as
    the estimator and the scorers.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Shuffle each stratum's rows before splitting.
    random_state : int, RandomState or None, default=None
        Seeds the shuffling (only with ``shuffle=True``).

    Examples
    --------
    >>> import numpy as np
    >>> from fairif_sklearn.model_selection import AnnotatedStratifiedKFold
    >>> y = np.array([0, 1] * 10)
    >>> s = np.array([0, 0, 1, 1] * 5, dtype=float)
    >>> s[8:] = np.nan  # the first 8 rows are annotated
    >>> cv = AnnotatedStratifiedKFold(n_splits=2)
    >>> [int(np.isfinite(s[test]).sum()) for _, test in cv.split(np.zeros((20, 1)), y, sensitive_features=s)]
    [4, 4]
    """

    __metadata_request__split = {"sensitive_features": True}

    def __init__(self, n_splits: int = 5, *, shuffle: bool = False, random_state=None):
        super().__init__(n_splits=n_splits, shuffle=shuffle, random_state=random_state)

    def split(self, X, y, groups=None, sensitive_features=None):
        """Generate indices to split the data into training and test folds.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Only its length is used.
        y : array-like of shape (n_samples,)
            The target.
        groups : None
            Not used; present for the scikit-learn splitter interface.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
            Group labels, missing where a row has none.

        Yields
        ------
        train, test : ndarray
            The row indices of each fold's training and test sides.
        """
        if sensitive_features is None:
            raise ValueError(_NO_GROUPS)
        yield from super().split(X, y, sensitive_features)

    def get_n_splits(self, X=None, y=None, groups=None, sensitive_features=None):
        """The number of folds, ``n_splits``; the arguments are not used."""
        return self.n_splits

    def _iter_test_masks(self, X, y, sensitive_features):
        strata = self._strata(y, sensitive_features)
        with warnings.catch_warnings():  # small unannotated strata do not matter; annotated ones are checked
            warnings.filterwarnings("ignore", "The least populated class", UserWarning)
            inner = StratifiedKFold(self.n_splits, shuffle=self.shuffle, random_state=self.random_state)
            for _, test in inner.split(np.zeros(len(strata)), strata):
                mask = np.zeros(len(strata), dtype=bool)
                mask[test] = True
                yield mask

    def _strata(self, y, sensitive_features) -> np.ndarray:
        strata, groups, classes = cell_strata(y, sensitive_features)
        for g, name in enumerate(groups.names):
            for c, label in enumerate(classes):
                count = int(np.sum(strata == g * len(classes) + c))
                if count < self.n_splits:
                    raise ValueError(
                        f"Group {name!r} has {count} annotated row(s) of class {label.item()!r}; "
                        f"{type(self).__name__}(n_splits={self.n_splits}) needs at least {self.n_splits} "
                        "(one in each test fold, the rest for training): annotate more rows or use "
                        "fewer splits."
                    )
        return strata


def cell_strata(y, sensitive_features):
    """Each row's (group, class) cell as one code, ``group * n_classes + class`` for annotated rows
    and a block of their own per class for the others; with the groups read and the classes."""
    y = np.asarray(y)
    classes, y_codes = np.unique(y, return_inverse=True)
    groups = read_groups(sensitive_features, n_rows=len(y))
    if not groups.annotated.any():
        raise ValueError("sensitive_features has no annotated row to stratify by.")
    strata = np.where(
        groups.annotated, groups.codes * len(classes) + y_codes, groups.n_groups * len(classes) + y_codes
    )
    return strata, groups, classes
