"""Parameter dicts as flat vectors, and iteration over data in batches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


def flatten(tree: dict[str, torch.Tensor]) -> torch.Tensor:
    """Concatenate the tensors of a parameter dict into one vector."""
    return torch.cat([t.reshape(-1) for t in tree.values()])


def unflatten(vec: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Split a vector into a dict shaped like ``like`` (the inverse of :func:`flatten`)."""
    out, start = {}, 0
    for name, t in like.items():
        out[name] = vec[start : start + t.numel()].reshape(t.shape)
        start += t.numel()
    return out


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices covering ``range(n)``."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def take(X, rows: np.ndarray | slice):
    """Rows of an array or of each array in a dict of arrays."""
    if isinstance(X, dict):
        return {k: v[rows] for k, v in X.items()}
    return X[rows]
