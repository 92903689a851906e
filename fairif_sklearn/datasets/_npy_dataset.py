"""Images kept on disk in a ``.npy`` file and read row by row: a torch Dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset


class NpyImageDataset(Dataset):
    """The rows of a ``.npy`` array on disk with their labels, memory-mapped and read one at a time.

    Item ``i`` is ``(x_i, y[i])`` (skorch's convention for Datasets), ``x_i`` a
    float tensor copied from the file; the process holds only the rows it reads,
    so data larger than memory can go through FairIF and skorch. The file is
    opened lazily in each process (DataLoader workers included), and the
    Dataset pickles as its path and labels.

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file of shape (n, ...), e.g. images (n, channels, height, width).
    y : array-like of shape (n,)
        The label of each row.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from fairif_sklearn.datasets import NpyImageDataset
    >>> path = os.path.join(tempfile.mkdtemp(), "images.npy")
    >>> np.save(path, np.zeros((4, 3, 8, 8), dtype=np.float32))
    >>> data = NpyImageDataset(path, [0, 1, 0, 1])
    >>> len(data), data[1][0].shape, int(data[1][1])
    (4, torch.Size([3, 8, 8]), 1)
    """

    def __init__(self, path, y):
        self.path = Path(path)
        self.y = np.asarray(y)
        self._array = None
        shape = np.load(self.path, mmap_mode="r").shape
        if shape[0] != len(self.y):
            raise ValueError(f"{self.path} has {shape[0]} rows but y has {len(self.y)} labels.")
        self.shape = shape

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        return torch.from_numpy(np.array(self._array[i])), self.y[i]

    def __getstate__(self):
        return {**self.__dict__, "_array": None}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {len(self)} rows of shape {self.shape[1:]})"
