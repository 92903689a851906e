"""Small helpers shared by the estimators and the metrics."""

from ._sensitive import encode_groups, missing_group_mask

__all__ = ["encode_groups", "missing_group_mask"]
