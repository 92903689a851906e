"""How work runs: progress bars when ``verbose`` asks for them, and the cores free for torch threads."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable


def progress_bar(verbose: int) -> Callable:
    """A tqdm wrapper when ``verbose`` asks for progress, else the identity."""
    if not verbose:
        return lambda it, **kw: it
    from tqdm.auto import tqdm

    return lambda it, **kw: tqdm(it, leave=False, **kw)


def free_cores() -> int:
    """The CPU cores this process can use that other processes are not busy on.

    The cores the process may run on, less the one-minute load average
    (rounded), and at least one. On a shared machine, more torch threads than
    free cores do not add speed: the threads wait for each other (a small
    net's epoch on a loaded two-core machine took ten times longer with two
    threads than with one).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def worker_threads(n_jobs: int | None) -> int:
    """Torch threads for each of ``n_jobs`` joblib workers, so that workers times threads stay within
    the free cores (:func:`free_cores`); ``n_jobs`` as joblib reads it (None: one, -1: all cores)."""
    from joblib import effective_n_jobs

    return max(1, free_cores() // effective_n_jobs(n_jobs))


@contextlib.contextmanager
def torch_threads(n: int):
    """Run torch with ``n`` threads inside, restoring the caller's number after."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
