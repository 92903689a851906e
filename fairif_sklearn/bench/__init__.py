"""The benchmark: FairIF against ERM and fairlearn's mitigators (``fairif-bench``)."""

from ._cli import main

__all__ = ["main"]
