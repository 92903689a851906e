"""Shared fixtures."""

import pytest
import sklearn
import torch

from fairif_sklearn.datasets import make_biased_classification

torch.set_num_threads(2)


@pytest.fixture
def routing():
    """Enable scikit-learn metadata routing for one test."""
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.fixture(scope="session")
def biased_data():
    X, y, s = make_biased_classification(1500, random_state=0)
    return X, y, s


@pytest.fixture
def offline(monkeypatch):
    """No network: every download attempt fails as it would on an offline machine."""
    import urllib.error
    import urllib.request

    calls = []

    def urlopen(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


@pytest.fixture(scope="session")
def shared_data():
    """The data directory with the real MNIST and Adult files (``$FAIRIF_DATA``); CI sets it."""
    import os
    from pathlib import Path

    home = os.environ.get("FAIRIF_DATA")
    if not home or not (Path(home) / "mnist").is_dir() or not (Path(home) / "adult").is_dir():
        pytest.skip("FAIRIF_DATA does not point at a data directory with mnist/ and adult/ (CI sets it)")
    return Path(home)
