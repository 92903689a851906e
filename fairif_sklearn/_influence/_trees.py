"""Parameter dicts as flat vectors."""

from __future__ import annotations

import torch


def flatten(tree: dict[str, torch.Tensor]) -> torch.Tensor:
    """Concatenate the tensors of a parameter dict into one vector."""
    return torch.cat([t.reshape(-1) for t in tree.values()])


def unflatten(vec: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Split a vector into a dict shaped like ``like`` (the inverse of :func:`flatten`); a stack of
    vectors (..., p) into tensors of shape (..., *shape), the leading dimensions kept."""
    out, start, lead = {}, 0, vec.shape[:-1]
    for name, t in like.items():
        out[name] = vec[..., start : start + t.numel()].reshape(*lead, *t.shape)
        start += t.numel()
    return out
