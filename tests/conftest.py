"""Shared fixtures."""

import numpy as np
import pytest
import sklearn
import torch

from fairif_sklearn.datasets import make_biased_classification

torch.set_num_threads(1)


@pytest.fixture
def routing():
    """Enable scikit-learn metadata routing for one test."""
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.fixture(scope="session")
def biased_data():
    X, y, s = make_biased_classification(1500, random_state=0)
    return X, y, s


@pytest.fixture(scope="session")
def shifted_annotated():
    """Group-shift data with a real gap, its first 800 rows annotated (the group NaN elsewhere)."""
    X, y, s = make_biased_classification(2500, bias="group_shift", random_state=1)
    return X, y, np.where(np.arange(len(y)) < 800, s, np.nan)


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
    """The data directory with the real MNIST and Adult files, found as the loaders find it.

    That is ``fairif_sklearn.datasets.get_data_home()``: ``$FAIRIF_DATA``, else
    ``~/fairif_data`` (CI sets ``FAIRIF_DATA``). Without both ``mnist/`` and
    ``adult/`` there, the tests that need them are skipped, saying how to get them.
    """
    import os

    from fairif_sklearn.datasets import get_data_home

    home = get_data_home()
    lacking = [folder for folder in ("mnist", "adult") if not (home / folder).is_dir()]
    if lacking:
        rule = "$FAIRIF_DATA" if os.environ.get("FAIRIF_DATA") else "~/fairif_data, as FAIRIF_DATA is not set"
        pytest.skip(
            f"no {' or '.join(f + '/' for f in lacking)} in the data directory {home} ({rule}): set "
            "FAIRIF_DATA to a folder with mnist/ and adult/, or put the files in ~/fairif_data (online, "
            "fairif_sklearn.datasets.load_mnist() and load_adult() download them there); see the README "
            "and the docs of fairif_sklearn.datasets for the files and where to get them"
        )
    return home
