"""CI-MNIST (Reddy et al. 2021) with the FairIF paper's three biases."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._mnist import load_mnist
from ._npy_dataset import NpyImageDataset

# (P(red | odd), P(red | even), fraction of even digits kept): the paper's Table 5
CI_MNIST_BIASES = {
    "group_size": (0.15, 0.15, 1.0),
    "group_shift": (0.15, 0.85, 1.0),
    "class_size": (0.5, 0.5, 0.25),
}
# the paper's Table 5 counts over all splits: (odd blue, odd red, even blue, even red)
TABLE5_COUNTS = {
    "group_size": (30245, 5337, 29257, 5161),
    "group_shift": (30245, 5337, 5163, 29255),
    "class_size": (17791, 17791, 4303, 4301),
}
_CHUNK = 5000


def _select(digits: np.ndarray, red_odd: float, red_even: float, even_kept: float, rng) -> tuple:
    """Rows kept, their label (1 = even) and group (1 = red), with exact proportions per class."""
    y = (digits % 2 == 0).astype(np.int64)
    rows, groups = [], []
    for c, red, kept in ((0, red_odd, 1.0), (1, red_even, even_kept)):
        idx = np.flatnonzero(y == c)
        idx = np.sort(rng.choice(idx, int(round(kept * len(idx))), replace=False))
        g = np.zeros(len(idx), dtype=np.int64)
        g[rng.choice(len(idx), int(round(red * len(idx))), replace=False)] = 1
        rows.append(idx)
        groups.append(g)
    rows, groups = np.concatenate(rows), np.concatenate(groups)
    order = np.argsort(rows)
    return rows[order], y[rows[order]], groups[order]


def _colour(images: np.ndarray, groups: np.ndarray, gen: np.random.Generator, out: np.ndarray) -> np.ndarray:
    """Reddy et al.'s images: padded, 3 channels, shaded background, white digit, grey box; in [-1, 1].

    Written into ``out`` (n, 3, 32, 32) float32 chunk by chunk, so it may be a file on disk.
    """
    n = len(images)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(start + _CHUNK, n))
        m = sl.stop - sl.start
        padded = np.zeros((m, 32, 32), dtype=np.uint8)
        padded[:, 4:, 4:] = images[sl]  # the 4 padding rows and columns on the top and the left
        x = gen.uniform(0.0, 0.1, size=(m, 3, 32, 32)).astype(np.float32)
        high = np.where(groups[sl] == 1, 0, 2)  # red: channel 0 high; blue: channel 2 high
        x[np.arange(m), high] += np.float32(0.9)
        digit = np.broadcast_to((padded > 127.5)[:, None], x.shape)
        x[digit] = gen.uniform(0.9, 1.0, size=int(digit.sum())).astype(np.float32)
        right = gen.uniform(size=m) < 0.5  # the grey box, left or right, 50/50
        for side, cols in ((False, slice(6, 10)), (True, slice(22, 26))):
            x[right == side, :, 0:4, cols] = np.float32(0.5)
        out[sl] = x * 2 - 1
    return out


def make_ci_mnist(
    bias: str = "group_size",
    *,
    data_home=None,
    red_fraction: float | None = None,
    red_fraction_even: float | None = None,
    even_kept: float | None = None,
    splits=("train", "valid", "test"),
    random_state=None,
    download_if_missing: bool = True,
    as_dataset: bool = False,
    memmap_dir=None,
) -> Bunch:
    """CI-MNIST with one of the three biases of the FairIF paper (its Table 5).

    The label is 1 for an even digit and 0 for an odd one; the group is the
    background colour (0 blue, 1 red). Images follow Reddy et al.: MNIST padded
    to 32x32 (digit at rows and columns 4..31), three channels, a per-pixel shaded
    background in the group's colour, a near-white digit, and a 4x4 grey box at
    the top, left or right at random; scaled to [-1, 1]. The splits are MNIST
    train[:50000], train[50000:] and test, each biased the same way.

    Parameters
    ----------
    bias : {"group_size", "group_shift", "class_size"}, default="group_size"
        15% red in each class; 15% of odd and 85% of even digits red; the even
        digits subsampled to a quarter, colours 50/50.
    data_home : str or path-like, default=None
        The data directory holding ``mnist/``; default ``$FAIRIF_DATA``, else
        ``~/fairif_data``.
    red_fraction, red_fraction_even, even_kept : float, default=None
        Override the bias: P(red | odd) (and, for "group_size", P(red | even)),
        P(red | even), and the fraction of even digits kept.
    splits : sequence of {"train", "valid", "test"}, default=all three
        The splits whose images are made (the train split's take 600 MB). The
        rows, labels, groups and colours of a split do not depend on which
        others are asked for.
    random_state : int, RandomState or None
        Seeds the rows kept, the group of each row and the image noise.
    download_if_missing : bool, default=True
        Download MNIST when its files are missing.
    as_dataset : bool, default=False
        Serve each ``X_<split>`` as a :class:`NpyImageDataset` (a torch Dataset
        of ``(image, y)`` pairs read from a ``.npy`` file on disk, row by row)
        instead of an array: the images are written there chunk by chunk and
        never held in memory at once. The pixels are those of the arrays.
    memmap_dir : str or path-like, default=None
        Where ``as_dataset`` writes ``ci-mnist-<split>.npy`` (the train split
        takes 600 MB); default a new temporary directory, left for the caller
        to delete.

    Returns
    -------
    Bunch
        ``X_<split>`` (n, 3, 32, 32) float32 (or a :class:`NpyImageDataset`), ``y_<split>`` (1 for an even
        digit), ``s_<split>`` and ``digit_<split>`` (the digit itself, for a
        ten-class task) int64 for each split asked for; ``counts``, the (label, group) cell
        counts over all three splits in Table 5's order (odd blue, odd red, even
        blue, even red); ``DESCR``.

    Examples
    --------
    >>> from fairif_sklearn.datasets import make_ci_mnist
    >>> d = make_ci_mnist("group_shift", splits=["test"], random_state=0)  # doctest: +SKIP
    >>> d.X_test.shape, d.counts["even red"]  # doctest: +SKIP
    ((10000, 3, 32, 32), 29255)
    """
    if bias not in CI_MNIST_BIASES:
        raise ValueError(f"bias must be one of {tuple(CI_MNIST_BIASES)}, got {bias!r}.")
    red_odd, red_even, kept = CI_MNIST_BIASES[bias]
    if red_fraction is not None:
        red_odd = red_fraction
        if bias == "group_size" and red_fraction_even is None:
            red_even = red_fraction
    red_even = red_fraction_even if red_fraction_even is not None else red_even
    kept = even_kept if even_kept is not None else kept
    for name, value in (("P(red | odd)", red_odd), ("P(red | even)", red_even), ("even_kept", kept)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value}.")
    splits = [splits] if isinstance(splits, str) else list(splits)
    unknown = set(splits) - {"train", "valid", "test"}
    if unknown:
        raise ValueError(f"splits must be among 'train', 'valid', 'test'; got {sorted(unknown)}.")
    rng = check_random_state(random_state)
    noise_seeds = rng.randint(0, 2**31 - 1, size=3)
    mnist = load_mnist(data_home=data_home, download_if_missing=download_if_missing)
    parts = {
        "train": (mnist.X_train[:50000], mnist.y_train[:50000]),
        "valid": (mnist.X_train[50000:], mnist.y_train[50000:]),
        "test": (mnist.X_test, mnist.y_test),
    }
    if as_dataset:
        memmap_dir = Path(tempfile.mkdtemp(prefix="fairif-ci-mnist-") if memmap_dir is None else memmap_dir)
        memmap_dir.mkdir(parents=True, exist_ok=True)
    out, counts = Bunch(), np.zeros(4, dtype=np.int64)
    for (name, (images, digits)), seed in zip(parts.items(), noise_seeds, strict=True):
        rows, y, s = _select(digits, red_odd, red_even, kept, rng)
        if name in splits:
            shape, gen = (len(rows), 3, 32, 32), np.random.default_rng(seed)
            if as_dataset:
                path = memmap_dir / f"ci-mnist-{name}.npy"
                file = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
                _colour(images[rows], s, gen, file).flush()
                out[f"X_{name}"] = NpyImageDataset(path, y)
            else:
                out[f"X_{name}"] = _colour(images[rows], s, gen, np.empty(shape, dtype=np.float32))
            out[f"y_{name}"], out[f"s_{name}"] = y, s
            out[f"digit_{name}"] = digits[rows].astype(np.int64)
        counts += [np.sum((y == c) & (s == g)) for c in (0, 1) for g in (0, 1)]
    out["counts"] = dict(zip(("odd blue", "odd red", "even blue", "even red"), counts.tolist(), strict=True))
    out["DESCR"] = (
        f"CI-MNIST (Reddy et al. 2021), bias {bias!r}: P(red|odd)={red_odd}, P(red|even)={red_even}, "
        f"even digits kept {kept}. y=1 even digit, s=1 red background."
    )
    return out
