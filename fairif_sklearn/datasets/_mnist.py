"""MNIST, read from the IDX files of the data directory."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ._fetch import fetch_files, read_data

_MAGIC = {1: 2049, 3: 2051}  # labels, images


def read_idx(path, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions, plain or gzip-compressed."""
    data = read_data(path)
    magic = int.from_bytes(data[:4], "big")
    if magic != _MAGIC[ndim]:
        raise ValueError(f"{path} is not an IDX file of {ndim}-D unsigned bytes (magic number {magic}).")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    array = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if array.size != np.prod(dims):
        raise ValueError(f"{path} holds {array.size} values, its header says {dims}.")
    return array.reshape(dims)


def load_mnist(*, data_home=None, download_if_missing: bool = True) -> Bunch:
    """Load MNIST (LeCun, Cortes and Burges): 60,000 training and 10,000 test digits.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The data directory: its ``mnist/`` folder holds the four IDX files
        (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``), each plain or
        gzipped (``.gz``, as the mirrors serve them); default ``$FAIRIF_DATA``,
        else ``~/fairif_data``.
    download_if_missing : bool, default=True
        Download missing files (checked against their SHA-256 sums).

    Returns
    -------
    Bunch
        ``X_train`` (60000, 28, 28) uint8, ``y_train`` (60000,) int64,
        ``X_test`` (10000, 28, 28), ``y_test``, and ``DESCR``.

    Raises
    ------
    DataNotFoundError
        (a ``FileNotFoundError``) when one of the four IDX files is neither in
        the data directory nor downloadable; the message names the missing
        ones, the folders searched and the mirrors.
    """
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")  # fmt: skip
    paths = fetch_files(
        [f"mnist/{name}" for name in names], data_home=data_home, download_if_missing=download_if_missing
    )
    X_train, y_train, X_test, y_test = (read_idx(p, 3 if "images" in p.name else 1) for p in paths)
    return Bunch(
        X_train=X_train,
        y_train=y_train.astype(np.int64),
        X_test=X_test,
        y_test=y_test.astype(np.int64),
        DESCR="MNIST handwritten digits (LeCun, Cortes, Burges), 28x28 grey levels 0-255. CC BY-SA 3.0.",
    )
