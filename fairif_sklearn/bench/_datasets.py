"""The benchmark's data sets, each with its splits, its groups and its net."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..datasets import make_biased_classification
from ..nets import (
    make_cnn_classifier,
    make_mlp_classifier,
    make_resnet_classifier,
    make_resnet_layout_classifier,
)
from ._progress import EpochTicker


@dataclass
class BenchData:
    """One draw of a data set: train (groups for oracles only), annotated valid, test."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    s_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    s_valid: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    s_test: np.ndarray
    make_net: Callable[[], object]


def _net(make, device, *args, **kw):
    """A factory of fresh nets from ``make`` (a ``fairif_sklearn.nets`` factory), ticking each epoch."""
    return lambda: make(*args, device=device, callbacks=[("progress", EpochTicker())], **kw)


def synthetic(seed: int, *, bias: str, device: str, n_samples: int = 6000, n_valid: int = 1000) -> BenchData:
    """The embedded generator: train, a 1000-row annotated valid set and a test set of the same bias."""
    X, y, s = make_biased_classification(n_samples + n_valid, bias=bias, random_state=seed)
    X_test, y_test, s_test = make_biased_classification(n_samples, bias=bias, random_state=10_000 + seed)
    return BenchData(
        f"synthetic-{bias}",
        X[n_valid:], y[n_valid:], s[n_valid:],
        X[:n_valid], y[:n_valid], s[:n_valid],
        X_test, y_test, s_test,
        _net(make_mlp_classifier, device, X.shape[1], hidden=(16,), max_epochs=10, batch_size=256, lr=0.02),
    )  # fmt: skip


def ci_mnist(
    seed: int,
    *,
    bias: str,
    device: str,
    data_home=None,
    max_epochs: int = 15,
    digits: bool = False,
    net: str = "mlp",
) -> BenchData:
    """CI-MNIST with one of the paper's biases and its MLP (one hidden layer of 64), or with
    ``net="cnn"`` :class:`~fairif_sklearn.nets.CNN` (two convolution blocks of 16 and 32 channels),
    ``net="resnet"`` :class:`~fairif_sklearn.nets.ResNet` (the ResNet-18 layout, width 16, BatchNorm),
    ``net="resnet18"`` torchvision's ResNet-18 with a 3x3 stem
    (:func:`~fairif_sklearn.nets.make_resnet_classifier`).

    The target is "even digit", or with ``digits`` the digit itself (ten classes).
    """
    from ..datasets import make_ci_mnist

    d = make_ci_mnist(bias, data_home=data_home, random_state=seed)
    n_features = int(np.prod(d.X_train.shape[1:]))
    y = {split: d[f"digit_{split}" if digits else f"y_{split}"] for split in ("train", "valid", "test")}
    fit = dict(lr=1e-3, max_epochs=max_epochs, batch_size=256, n_classes=10 if digits else 2)
    return BenchData(
        f"ci-mnist-{bias}{'-digits' if digits else ''}{'' if net == 'mlp' else '-' + net}",
        d.X_train, y["train"], d.s_train,
        d.X_valid, y["valid"], d.s_valid,
        d.X_test, y["test"], d.s_test,
        {
            "mlp": lambda: _net(make_mlp_classifier, device, n_features, hidden=(64,), **fit),
            "cnn": lambda: _net(make_cnn_classifier, device, **fit),
            "resnet": lambda: _net(make_resnet_layout_classifier, device, **fit),
            "resnet18": lambda: _net(make_resnet_classifier, device, "resnet18", small_inputs=True, **fit),
        }[net](),
    )  # fmt: skip


ADULT_VALID_FRACTION = 0.2


def adult_rows(y_train: np.ndarray, seed: int, valid_fraction: float = ADULT_VALID_FRACTION):
    """The draw of :func:`adult`: positions in Adult's training file of its training rows and of its
    annotated valid rows (stratified by class)."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y_train))
    return train_test_split(rows, test_size=valid_fraction, random_state=seed, stratify=y_train)


def adult(
    seed: int,
    *,
    device: str,
    data_home=None,
    sensitive: str = "sex",
    valid_fraction: float = ADULT_VALID_FRACTION,
) -> BenchData:
    """UCI Adult (income > 50K): one-hot and scaled features without the sensitive column.

    20% of the training file, drawn per seed, is the annotated valid set.
    """
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from ..datasets import load_adult

    d = load_adult(data_home=data_home, sensitive=sensitive)
    X_all = d.X_train.drop(columns=[sensitive])
    X_test = d.X_test.drop(columns=[sensitive])
    train, valid = adult_rows(d.y_train, seed, valid_fraction)
    encode = make_column_transformer(
        (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            make_column_selector(dtype_exclude="number"),
        ),
        (StandardScaler(), make_column_selector(dtype_include="number")),
    )
    encode.fit(X_all.iloc[train])

    def tf(X):
        return np.nan_to_num(encode.transform(X)).astype(np.float32)

    X_tr, X_va = tf(X_all.iloc[train]), tf(X_all.iloc[valid])
    return BenchData(
        f"adult-{sensitive}",
        X_tr, d.y_train[train], d.s_train[train],
        X_va, d.y_train[valid], d.s_train[valid],
        tf(X_test), d.y_test, d.s_test,
        _net(make_mlp_classifier, device, X_tr.shape[1], hidden=(64,), lr=1e-3, max_epochs=10,
             batch_size=256),
    )  # fmt: skip


def subsample_valid(data: BenchData, fraction: float, seed: int) -> BenchData:
    """The same draw with a random ``fraction`` of the annotated valid set (Table 4 of the paper)."""
    if fraction >= 1:
        return data
    rng = np.random.RandomState(seed)
    keep = np.sort(rng.choice(len(data.y_valid), int(round(fraction * len(data.y_valid))), replace=False))
    return BenchData(
        data.name, data.X_train, data.y_train, data.s_train,
        data.X_valid[keep], data.y_valid[keep], data.s_valid[keep],
        data.X_test, data.y_test, data.s_test, data.make_net,
    )  # fmt: skip


def with_random_groups(data: BenchData, seed: int) -> BenchData:
    """The same draw with every group label replaced by a random one of the same frequency.

    The groups then carry no information about the rows: any gap between them
    is noise, and FairIF should leave the model as it is.
    """
    rng = np.random.RandomState(seed + 20_000)
    groups = [rng.permutation(s) for s in (data.s_train, data.s_valid, data.s_test)]
    return replace(
        data, name=data.name + "-random-groups", s_train=groups[0], s_valid=groups[1], s_test=groups[2]
    )
