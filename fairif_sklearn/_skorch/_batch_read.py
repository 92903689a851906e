"""Training batches of arrays read a batch at a time, not a row at a time.

skorch wraps arrays in its :class:`~skorch.dataset.Dataset`, and torch's
:class:`~torch.utils.data.DataLoader` reads it one ``__getitem__`` per row and
stacks the rows (``default_collate``): on CI-MNIST (50,000 rows of 3x32x32, with
the fine-tune's two per-row weights) that is 0.38 s an epoch, about a third of
the epoch. :class:`ArrayRows` also has ``__getitems__``, which the DataLoader
calls with a whole batch's indices when the dataset has it: one fancy index per
array. Such a batch then only needs converting to tensors, so the net's
iterators get :func:`collate` for the duration (:func:`batch_read`), which
converts a batch read whole and collates any other as ``default_collate``
does (a callback that predicts during the fine-tune reads its data as usual).
The batches are the same, row for row and bit for bit, in the same order (the
sampler is the DataLoader's own): so is the training.

Used where FairIF trains the net itself (stage 2's fine-tune); the ERM fit is
the user's and reads its data as the net says.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from skorch.dataset import Dataset as SkorchDataset
from torch.utils.data import DataLoader, default_collate, default_convert

from ._rows import index_rows

_COLLATES = ("iterator_train__collate_fn", "iterator_valid__collate_fn")


class _Batch(tuple):
    """``(X, y)`` of a batch that :class:`ArrayRows` read whole: stacked already."""


def collate(batch: Any) -> Any:
    """A batch read whole (:class:`_Batch`) converted to tensors; any other collated by
    ``default_collate``, the DataLoader's default."""
    if isinstance(batch, _Batch):
        return default_convert(tuple(batch))
    return default_collate(batch)


class ArrayRows(SkorchDataset):
    """skorch's Dataset over a NumPy array or tensor, or a dict of them, that reads a batch of rows at
    once (:meth:`__getitems__`)."""

    def __getitems__(self, indices) -> _Batch:
        rows = np.asarray(indices, dtype=np.int64)
        return _Batch((_rows(self.X, rows), _rows(self.y, rows)))


def _rows(data: Any, rows: np.ndarray) -> Any:
    if isinstance(data, Mapping):
        return {k: _rows(v, rows) for k, v in data.items()}
    return index_rows(data, rows)


def _readable(data: Any) -> bool:
    """Whether ``data`` is arrays that :class:`ArrayRows` reads as skorch's Dataset would."""
    if isinstance(data, Mapping):
        return len(data) > 0 and all(_readable(v) for v in data.values())
    return isinstance(data, np.ndarray | torch.Tensor) and data.ndim >= 1


@contextlib.contextmanager
def batch_read(net: Any, X: Any, y: np.ndarray) -> Iterator[Any]:
    """What ``net.partial_fit`` is given for ``(X, y)``: an :class:`ArrayRows` read a batch at a time,
    the net's iterators collating with :func:`collate` for the duration, where the net reads its data
    as skorch does by default (DataLoaders without a collate function of their own, skorch's Dataset,
    no train/valid split); else ``X`` as it is."""
    plain = (
        _readable(X)
        and net.iterator_train is DataLoader
        and net.iterator_valid is DataLoader
        and not any(name in vars(net) for name in _COLLATES)
        and net.dataset is SkorchDataset
        and net.train_split is None
    )
    if not plain:
        yield X
        return
    for name in _COLLATES:
        setattr(net, name, collate)
    try:
        yield ArrayRows(X, y)
    finally:
        for name in _COLLATES:
            delattr(net, name)
