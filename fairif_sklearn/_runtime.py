"""How long work runs: progress bars when ``verbose`` asks for them."""

from __future__ import annotations

from collections.abc import Callable


def progress_bar(verbose: int) -> Callable:
    """A tqdm wrapper when ``verbose`` asks for progress, else the identity."""
    if not verbose:
        return lambda it, **kw: it
    from tqdm.auto import tqdm

    return lambda it, **kw: tqdm(it, leave=False, **kw)
