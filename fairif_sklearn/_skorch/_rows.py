"""The rows of ``X``, an array or a :class:`torch.utils.data.Dataset`, as FairIF reads them.

An array is sliced. A Dataset is never made one array: its rows are subset
(:class:`~torch.utils.data.Subset`) and read batch by batch through the net's
own ``iterator_valid`` (a :class:`~torch.utils.data.DataLoader` with the net's
``iterator_valid__*`` settings: workers, pinned memory, collate function), so
that what stage 1 holds at once is one batch, whatever the number of rows.
A Dataset follows skorch's convention: item ``i`` is a pair ``(x_i, y_i)``; FairIF
takes ``x_i`` from it and the label from the ``y`` given to ``fit`` (encoded to
class codes), so the two must be aligned.

Training batches carry extra per-row arrays (the sample weights, what the
fine-tune needs) next to the inputs, as keys of a dict ``x``;
:func:`module_input` removes them before the module sees a batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from skorch.utils import multi_indexing
from torch.utils.data import Dataset, IterableDataset, Subset

KEY_PREFIX = "__fairif_"  # the keys of the extra per-row arrays a training batch carries
WEIGHT_KEY = "__fairif_sample_weight__"
DATA_KEY = "__fairif_X__"


def is_dataset(X: Any) -> bool:
    """Whether ``X`` is a torch Dataset (streamed) rather than an array."""
    return isinstance(X, Dataset)


def take(X: Any, indices: np.ndarray) -> Any:
    """Rows ``indices`` of ``X``: a :class:`~torch.utils.data.Subset` of a Dataset; of an array, a view
    when they are one run of consecutive rows (say, the rows after the annotated ones), else a copy."""
    if is_dataset(X):
        return Subset(X, np.asarray(indices, dtype=np.int64).tolist())
    return X[consecutive(np.asarray(indices))]


def check_dataset(X: Dataset, n_labels: int | None = None, name: str = "X", labels: str = "y") -> None:
    """Raise a clear error unless ``X`` is a map-style Dataset of ``(x, y)`` pairs as long as its labels.

    ``n_labels=None`` (at predict time) checks the form only.
    """
    if isinstance(X, IterableDataset) or not hasattr(X, "__len__"):
        raise TypeError(
            f"{name} is a torch Dataset without a length (an IterableDataset): FairIF needs a map-style "
            "Dataset (with __len__ and __getitem__), as it reads rows by index."
        )
    n_labels = len(X) if n_labels is None else n_labels
    if len(X) != n_labels:
        raise ValueError(
            f"{name} is a Dataset of {len(X)} rows but {labels} has {n_labels} labels; they must be aligned "
            "(one label per row, in the Dataset's order)."
        )
    if n_labels == 0:
        return
    item = X[0]
    if not (isinstance(item, (tuple, list)) and len(item) == 2):
        raise ValueError(
            f"{name} is a Dataset whose items are not (x, y) pairs (item 0 is a {type(item).__name__}); "
            "FairIF follows skorch's convention for Datasets: __getitem__ returns (x, y)."
        )


class RowDataset(Dataset):
    """The inputs of a Dataset's rows with FairIF's labels and extra per-row arrays.

    Item ``i`` is ``(x_i, y[i])``, or ``({DATA_KEY: x_i, key: extra[i], ...}, y[i])``
    when extras are given: what skorch's fit and FairIF's readers expect.
    """

    def __init__(self, dataset: Dataset, y: np.ndarray, extras: Mapping[str, np.ndarray] | None = None):
        self.dataset, self.y, self.extras = dataset, y, dict(extras or {})

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        x = self.dataset[i][0]
        if self.extras:
            x = {DATA_KEY: x, **{k: v[i] for k, v in self.extras.items()}}
        return x, self.y[i]


def training_data(X: Any, y: np.ndarray, extras: Mapping[str, np.ndarray]) -> Any:
    """What a weighted fit passes to skorch's ``fit``: ``X`` with the extra per-row arrays beside it."""
    if is_dataset(X):
        return RowDataset(X, y, extras)
    data = dict(X) if isinstance(X, Mapping) else {DATA_KEY: X}
    data.update(extras)
    return data


def fit_input(X: Any, y: np.ndarray) -> Any:
    """``X`` as an unweighted fit passes it to skorch: a Dataset gets FairIF's labels."""
    return RowDataset(X, y) if is_dataset(X) else X


def module_input(X):
    """A training batch without its extra per-row arrays: what the module takes."""
    if isinstance(X, Mapping) and WEIGHT_KEY in X:
        X = {k: v for k, v in X.items() if not k.startswith(KEY_PREFIX) or k == DATA_KEY}
        if list(X) == [DATA_KEY]:
            X = X[DATA_KEY]
    return X


def _to_model(x: torch.Tensor, device, dtype) -> torch.Tensor:
    x = torch.as_tensor(x).to(device)
    return x.to(dtype) if x.is_floating_point() else x


def array_rows(X: Any, rows, device, dtype) -> torch.Tensor:
    """Rows ``rows`` (a slice or indices) of an array ``X``, on ``device`` in ``dtype`` if floating."""
    if isinstance(X, np.ndarray | torch.Tensor):
        return _to_model(index_rows(X, rows), device, dtype)
    return _to_model(np.asarray(multi_indexing(X, rows)), device, dtype)


def index_rows(X: np.ndarray | torch.Tensor, rows: np.ndarray | slice) -> np.ndarray | torch.Tensor:
    """Rows ``rows`` (a slice or indices) of a NumPy array or tensor, indexed directly (skorch's
    ``multi_indexing`` turns indices into a list that scikit-learn then checks element by element:
    3 ms for 1000 rows)."""
    if isinstance(X, torch.Tensor) and not isinstance(rows, slice):
        return X[torch.as_tensor(rows, device=X.device)]
    return X[rows]


def consecutive(rows: np.ndarray) -> np.ndarray | slice:
    """``rows`` as a slice when they are one ascending run of consecutive indices (read as a view of
    the array, not copied: the training rows after the annotated ones, the influence scores' batches
    of every training row in order), else as given."""
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and (np.diff(rows) == 1).all():
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def batches(
    net: Any,
    X: Any,
    y: np.ndarray,
    rows: np.ndarray | None,
    batch_size: int,
    *,
    device,
    dtype,
) -> Iterator[tuple[slice, torch.Tensor, np.ndarray]]:
    """The rows ``rows`` of ``(X, y)`` (all when None) in order, ``batch_size`` at a time.

    Yields ``(positions, x, y_batch)``: the batch's positions within ``rows``,
    its inputs on ``device`` (floating inputs in ``dtype``), and its labels as
    given (a NumPy array). A Dataset is read through the net's ``iterator_valid``
    with its settings, the batch size and order FairIF's.
    """
    n = len(y) if rows is None else len(rows)
    if not is_dataset(X):
        for start in range(0, n, batch_size):
            positions = slice(start, min(start + batch_size, n))
            picked = positions if rows is None else consecutive(rows[positions])
            yield positions, array_rows(X, picked, device, dtype), y[picked]
        return
    subset = X if rows is None else Subset(X, np.asarray(rows, dtype=np.int64).tolist())
    settings = {**net.get_params_for("iterator_valid"), "batch_size": batch_size, "shuffle": False}
    start = 0
    for x, _ in net.iterator_valid(RowDataset(subset, np.zeros(n)), **settings):
        stop = start + len(x)
        picked = slice(start, stop) if rows is None else rows[start:stop]
        yield slice(start, stop), _to_model(x, device, dtype), y[picked]
        start = stop
