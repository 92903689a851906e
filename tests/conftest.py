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
