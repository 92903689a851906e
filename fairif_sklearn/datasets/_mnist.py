"""MNIST, read from the IDX files of the data directory."""

from __future__ import annotations

import gzip

import numpy as np
from sklearn.utils import Bunch

from ._fetch import fetch_file

_MAGIC = {1: 2049, 3: 2051}  # labels, images


def read_idx(path, ndim: int) -> np.ndarray:
    """Read a gzip-compressed IDX file of unsigned bytes with ``ndim`` dimensions."""
    with gzip.open(path, "rb") as f:
        data = f.read()
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
        The data directory (files in its ``mnist/`` folder); default
        ``$FAIRIF_DATA``, else ``~/fairif_data``.
    download_if_missing : bool, default=True
        Download missing files (checked against their SHA-256 sums).

    Returns
    -------
    Bunch
        ``X_train`` (60000, 28, 28) uint8, ``y_train`` (60000,) int64,
        ``X_test`` (10000, 28, 28), ``y_test``, and ``DESCR``.
    """

    def read(name, ndim):
        path = fetch_file(f"mnist/{name}", data_home=data_home, download_if_missing=download_if_missing)
        return read_idx(path, ndim)

    return Bunch(
        X_train=read("train-images-idx3-ubyte.gz", 3),
        y_train=read("train-labels-idx1-ubyte.gz", 1).astype(np.int64),
        X_test=read("t10k-images-idx3-ubyte.gz", 3),
        y_test=read("t10k-labels-idx1-ubyte.gz", 1).astype(np.int64),
        DESCR="MNIST handwritten digits (LeCun, Cortes, Burges), 28x28 grey levels 0-255. CC BY-SA 3.0.",
    )
