"""argparse types shared by the command-line tools: a bad value is a usage error that names it."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An integer of at least 1 (seeds, rows, epochs, iterations)."""
    return _int_at_least(text, 1)


def nonnegative_int(text: str) -> int:
    """An integer of at least 0 (a first seed)."""
    return _int_at_least(text, 0)


def threads(text: str) -> str | int:
    """``"auto"`` or a positive number of torch threads."""
    return text if text == "auto" else _int_at_least(text, 1, "'auto' or ")


def available_device(text: str) -> str:
    """A torch device that this machine has (``cuda`` only where torch sees a GPU)."""
    import torch

    try:
        torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"expected a torch device such as cpu or cuda, got {text!r}"
        ) from None
    if text.startswith("cuda") and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: this torch sees no CUDA device (use --device cpu)")
    return text


def fraction(text: str) -> float:
    """A number in (0, 1]: a part of a set."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text}")
    return value


def _int_at_least(text: str, low: int, alternative: str = "") -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {alternative}an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {alternative}an integer of at least {low}, got {value}")
    return value
