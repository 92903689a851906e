"""Groups, targets and rates: the rules that fitting, the metrics and the scorers share.

* **Missing group labels.** A row has no group label when its value is
  ``None``, NaN, ``-1`` (as in :class:`sklearn.semi_supervised.SelfTrainingClassifier`),
  pandas' ``NA`` or ``NaT``, or NumPy's ``NaT``; so ``-1`` cannot name a group.
* **Groups.** Group labels come as one column (array, list, Series) or as
  several (a 2-D array, a DataFrame, or rows that are tuples): with several
  columns the groups are their combinations (intersectional groups), as in
  fairlearn's :class:`~fairlearn.metrics.MetricFrame`. A row missing some but
  not all of its columns is an error, not a guess.
* **Targets.** With two classes, equalized odds balances the true-positive and
  true-negative rates (TPR, TNR), equal opportunity the TPR alone, demographic
  parity the rate of positive predictions (PPR), accuracy parity the accuracy
  (ACC); the larger label (in sorted order) is the positive one unless
  ``pos_label`` says otherwise. With more classes a class's rate is its recall
  (the one-vs-rest TPR): equalized odds balances every class's recall, equal
  opportunity the recall of the ``pos_label`` classes, demographic parity the
  rate at which each ``pos_label`` class is predicted; accuracy parity is the
  same for any number of classes. A rate over the rows of one class is
  undefined for a group without such rows.
* **Targets** ``y`` have at least two classes and no missing value.
"""

from __future__ import annotations

import numbers
import sys
from dataclasses import dataclass

import numpy as np
from sklearn.utils.multiclass import type_of_target

TARGETS = ("equalized_odds", "equal_opportunity", "demographic_parity", "accuracy_parity")
_RATE_WORD = {"TPR": "positive sample", "TNR": "negative sample"}


@dataclass(frozen=True)
class Rate:
    """A rate averaged over a group's rows.

    Over the rows of class code ``rows`` (all the group's rows when None), of
    whether the prediction is the row's class (``value="true"``) or the class
    code ``predicted``.
    """

    name: str
    rows: int | None
    predicted: int | None = None

    def hit(self, y_codes: np.ndarray, pred_codes: np.ndarray) -> np.ndarray:
        return pred_codes == (y_codes if self.predicted is None else self.predicted)


def _positive_codes(classes: np.ndarray, pos_label) -> list[int]:
    """The codes of the positive classes: ``pos_label`` (a label or a list of labels), else the larger
    of two classes."""
    labels = classes.tolist()
    if pos_label is None:
        if len(labels) > 2:
            raise ValueError(
                f"pos_label is needed with more than two classes ({labels}): name the class (or the list "
                "of classes) whose rate to balance."
            )
        return [1]
    wanted = list(pos_label) if isinstance(pos_label, list | tuple | np.ndarray) else [pos_label]
    unknown = [p for p in wanted if p not in labels]
    if unknown:
        raise ValueError(f"pos_label={pos_label!r} is not one of the labels {labels}.")
    return [labels.index(p) for p in wanted]


def target_rates(target: str, classes: np.ndarray, pos_label=None) -> tuple[Rate, ...]:
    """The rates a target balances, for these (sorted) classes (see the module docstring)."""
    if target == "accuracy_parity":
        return (Rate("ACC", None),)
    if len(classes) == 2 and (pos_label is None or not isinstance(pos_label, list | tuple | np.ndarray)):
        (p,) = _positive_codes(classes, pos_label)
        tpr, tnr = Rate("TPR", p), Rate("TNR", 1 - p)
        return {
            "equalized_odds": (tpr, tnr),
            "equal_opportunity": (tpr,),
            "demographic_parity": (Rate("PPR", None, predicted=p),),
        }[target]
    names = [str(_plain(c)) for c in classes]
    if target == "equalized_odds":
        return tuple(Rate(f"recall[{name}]", k) for k, name in enumerate(names))
    codes = _positive_codes(classes, pos_label)
    if target == "equal_opportunity":
        return tuple(Rate(f"recall[{names[k]}]", k) for k in codes)
    return tuple(Rate(f"rate[{names[k]}]", None, predicted=k) for k in codes)


def _is_missing_label(v) -> bool:
    """Whether a class label is missing: None, NaN, pandas' NA or NaT (``-1`` is a label)."""
    if v is None:
        return True
    pd = sys.modules.get("pandas")  # pd.NA and pd.NaT can only come from a loaded pandas
    if pd is not None and (v is pd.NA or v is pd.NaT):
        return True
    if isinstance(v, np.datetime64 | np.timedelta64):
        return bool(np.isnat(v))
    if isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_):
        return bool(np.isnan(v))
    return False


def check_labels_present(y, name: str = "y") -> None:
    """Raise a ValueError when a label of ``y`` is missing (None, NaN, pandas' NA or NaT).

    Only object arrays are read value by value (numeric arrays are left to the
    callers' own NaN checks); pandas' NA would otherwise reach NumPy's truth
    tests and raise a TypeError from inside scikit-learn's validation.
    """
    if y is None:
        return  # no target at all: scikit-learn's validation says so in its own words
    values = np.asarray(y)
    if values.dtype == object and any(_is_missing_label(v) for v in values.ravel()):
        raise ValueError(f"{name} has missing values (None, NaN or pandas NA); every row needs a label.")


def _is_missing(v) -> bool:
    """Whether a group label is missing: as a class label, or ``-1``."""
    if _is_missing_label(v):
        return True
    return isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) and v == -1


def _plain(v):
    """NumPy scalars as Python ones, whole floats as ints (groups given as floats so
    that NaN can mark a missing label are still called 0 and 1)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _columns(sensitive_features, n_rows, name: str, rows_of: str) -> tuple[np.ndarray, list | None]:
    """The labels as a 2-D array (rows x columns) and the column names, if any: of integers or
    floats when they come as such (not booleans), else of objects."""
    columns = getattr(sensitive_features, "columns", None)  # a DataFrame
    names = [str(c) for c in columns] if columns is not None else None
    values = _numeric(sensitive_features)
    if values is None and hasattr(sensitive_features, "to_numpy"):  # keeps pd.NA, NaN for categories
        values = sensitive_features.to_numpy(dtype=object)
    elif values is None:
        values = np.asarray(sensitive_features, dtype=object)
    tuples = values.dtype == object and values.ndim == 1 and any(isinstance(v, tuple | list) for v in values)
    if tuples:  # rows given as tuples
        widths = {len(v) for v in values if isinstance(v, tuple | list)}
        if len(widths) != 1:
            raise ValueError(f"{name} holds tuples of different lengths {sorted(widths)}.")
        width = widths.pop()
        rows = [tuple(v) if isinstance(v, tuple | list) else (v,) * width for v in values]
        values = np.empty((len(rows), width), dtype=object)
        values[:] = rows
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name} must be one column or a 2-D table of columns, got shape {values.shape}.")
    if n_rows is not None and len(values) != n_rows:
        raise ValueError(f"{name} has {len(values)} rows but {rows_of} has {n_rows}.")
    return values, names


@dataclass
class Groups:
    """Group labels read from a ``sensitive_features``-like input.

    Attributes
    ----------
    annotated : ndarray of bool, shape (n,)
        Rows with a group label.
    codes : ndarray of int, shape (n,)
        Index into ``labels`` for annotated rows, -1 elsewhere.
    labels : list
        The distinct groups, sorted: scalars, or tuples for several columns.
    names : list of str
        A display name per group, e.g. ``"1"`` or ``"sex=F, race=B"``.
    """

    annotated: np.ndarray
    codes: np.ndarray
    labels: list
    names: list[str]

    @property
    def n_groups(self) -> int:
        return len(self.labels)


def _sort_key(label):
    items = label if isinstance(label, tuple) else (label,)
    return tuple((type(v).__name__, v) for v in items)


def read_groups(
    sensitive_features, *, n_rows: int | None = None, name: str = "sensitive_features", rows_of: str = "X"
) -> Groups:
    """Read group labels: which rows have one, and each row's group.

    Parameters
    ----------
    sensitive_features : array-like of shape (n,) or (n, m), or DataFrame
    n_rows : int, optional
        The number of rows the labels must have.
    name, rows_of : str
        The argument's name and that of the array whose rows it labels, for
        error messages.
    """
    values, column_names = _columns(sensitive_features, n_rows, name, rows_of)
    numeric = values.dtype != object
    if numeric:  # the common case, without a Python call per label
        missing = values == -1
        if values.dtype.kind == "f":
            missing |= np.isnan(values)
    else:
        missing = np.vectorize(_is_missing, otypes=[bool])(values) if values.size else values.astype(bool)
    partial = missing.any(axis=1) & ~missing.all(axis=1)
    if partial.any():
        row = int(np.flatnonzero(partial)[0])
        raise ValueError(
            f"Row {row} of {name} has a group label in some columns but not in others "
            f"({values[row].tolist()}); mark a row's group missing in every column or in none."
        )
    annotated = ~missing.any(axis=1) if values.shape[1] else np.zeros(len(values), dtype=bool)
    codes = np.full(len(values), -1, dtype=np.int64)
    # the distinct labels, and each annotated row's position among them
    if numeric:  # each distinct row labelled once
        if values.shape[1] == 1:  # np.unique by rows (axis=0) is several times slower
            found, inverse = np.unique(values[annotated, 0], return_inverse=True)
            found = found[:, None]
        else:
            found, inverse = np.unique(values[annotated], axis=0, return_inverse=True)
        distinct = [_label(r) for r in found]
    else:
        rows = [_label(r) for r in values[annotated]]
        distinct = list(dict.fromkeys(rows))
        position = {label: i for i, label in enumerate(distinct)}
        inverse = np.array([position[r] for r in rows], dtype=np.int64)
    labels = sorted(distinct, key=_sort_key)
    index = {label: i for i, label in enumerate(labels)}
    codes[annotated] = np.array([index[d] for d in distinct], dtype=np.int64)[inverse.reshape(-1)]
    return Groups(annotated, codes, labels, [_display(label, column_names) for label in labels])


def _numeric(sensitive_features) -> np.ndarray | None:
    """The labels as a numeric array when they come as one (integers or floats), else None
    (objects, strings, booleans, pandas' nullable types, ragged rows)."""
    raw = sensitive_features.to_numpy() if hasattr(sensitive_features, "to_numpy") else sensitive_features
    if isinstance(raw, np.ndarray) and raw.dtype.kind not in "iuf":
        return None  # an object array is not converted element by element here
    try:
        values = np.asarray(raw)
    except (ValueError, TypeError):  # ragged rows: the object path says what is wrong
        return None
    return values if values.dtype.kind in "iuf" else None


def _label(row):
    """A row's group label: a plain scalar for one column, a tuple of them for several."""
    label = tuple(_plain(v) for v in row)
    return label[0] if len(label) == 1 else label


def _display(label, column_names) -> str:
    if not isinstance(label, tuple):
        return str(label)
    if column_names is not None:
        return ", ".join(f"{c}={v}" for c, v in zip(column_names, label, strict=True))
    return "(" + ", ".join(map(str, label)) + ")"


def check_target(y, *, name: str = "y", who: str = "FairIF") -> tuple[np.ndarray, np.ndarray]:
    """The classes of a target (sorted) and each row's class code.

    ``y`` as :func:`~fairif_sklearn._validation.validate_fit_X_y` returns it
    (missing labels already refused there, by :func:`check_labels_present`).
    Raises a ValueError that names the problem: one class, or a target that is
    not a class label (continuous, several columns).
    """
    y = np.asarray(y)
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"{who} needs class labels; {name} is {kind!r}.")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{name} has only one class ({classes.tolist()}); {who} needs two or more.")
    return classes, codes.astype(np.int64)


def check_rates_defined(
    y_codes: np.ndarray, groups: Groups, rates, *, where: str, classes, hint: str = ""
) -> None:
    """Raise unless every group has rows of the class each rate averages over.

    ``y_codes`` are class codes of ``classes`` for the annotated rows, aligned
    with ``groups.codes``; ``where`` names the set, e.g. "the annotated set";
    ``hint`` ends the message.
    """
    for rate in rates:
        c = rate.rows
        if c is None:  # a rate over all of a group's rows: every group has some
            continue
        what = f"{_RATE_WORD.get(rate.name, 'sample')} (class {_plain(classes[c])!r})"
        for g, group in enumerate(groups.names):
            if not np.any((groups.codes == g) & (y_codes == c)):
                message = f"Group {group!r} of {where} has no {what}, so its {rate.name} is undefined.{hint}"
                raise ValueError(message)
