"""How work runs: progress messages and bars when ``verbose`` asks for them, and the cores free for torch
threads."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
from collections.abc import Callable

PACKAGE_LOGGER = "fairif_sklearn"


class _TerminalHandler(logging.StreamHandler):
    """Writes each record's message to ``sys.stdout`` as it is when the record comes (where ``print``
    wrote, even when ``sys.stdout`` is replaced after the handler was made)."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the stream is always the current stdout
        pass


_TERMINAL = _TerminalHandler()
_lock = threading.Lock()
_users = 0
_undo: list[Callable[[], None]] = []


def _reaches_terminal(logger: logging.Logger) -> bool:
    """Whether a handler on the way from ``logger`` to the root already shows INFO records on the
    terminal (FairIF's own, or one the user configured, e.g. with ``logging.basicConfig()``)."""
    terminals = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if handler is _TERMINAL:
                return True
            if (
                isinstance(handler, logging.StreamHandler)
                and handler.stream in terminals
                and handler.level <= logging.INFO
            ):
                return True
        current = current.parent if current.propagate else None
    return False


@contextlib.contextmanager
def _shown_on_terminal():
    """While inside, INFO records of the package logger reach the terminal.

    The package logger's level is INFO when nobody set it (the root's WARNING
    would drop them), and, unless a handler already shows them on the terminal,
    a handler writing to stdout is attached to it. Both are undone when the
    last user leaves; nested and concurrent users share them (the handler is
    never attached twice). The records propagate as usual to the handlers the
    user configured.
    """
    global _users
    logger = logging.getLogger(PACKAGE_LOGGER)
    with _lock:
        if _users == 0:
            if logger.level == logging.NOTSET:
                logger.setLevel(logging.INFO)
                _undo.append(lambda: logger.setLevel(logging.NOTSET))
            if not _reaches_terminal(logger):
                logger.addHandler(_TERMINAL)
                _undo.append(lambda: logger.removeHandler(_TERMINAL))
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                while _undo:
                    _undo.pop()()


def report(logger: logging.Logger, verbose: int, message: str, *args) -> None:
    """Log ``message % args`` at INFO when ``verbose`` asks for progress, and show it on the terminal.

    With ``verbose=0`` nothing is logged. With ``verbose>0`` the record goes to
    ``logger`` (under the package logger ``fairif_sklearn``, whose only handler
    is a NullHandler) and is printed on stdout as ``print`` did, unless a
    handler the user configured already shows it on the terminal.
    """
    if not verbose:
        return
    with _shown_on_terminal():
        logger.info(message, *args)


def progress_bar(verbose: int) -> Callable:
    """A tqdm wrapper when ``verbose`` asks for progress, else the identity."""
    if not verbose:
        return lambda it, **kw: it
    from tqdm.auto import tqdm

    return lambda it, **kw: tqdm(it, leave=False, **kw)


def keeps_torch_rng(method: Callable) -> Callable:
    """``method``, leaving torch's global (CPU) random state as it found it, whether it returns or raises.

    For a fit that predicts (cross-validation): skorch's ``predict`` iterates a
    DataLoader, which draws its base seed from the global generator even
    without shuffling. The fits themselves run seeded in a fork of it.
    """

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        import torch

        with torch.random.fork_rng(devices=[]):
            return method(*args, **kwargs)

    return wrapper


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
