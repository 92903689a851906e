"""The ready-made nets of :mod:`fairif_sklearn.nets` (the ResNets: tests/test_nets_resnet.py)."""

import pickle

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.compose import make_column_transformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from fairif_sklearn import FairIFClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.nets import MLP, make_mlp_classifier


def test_mlp_given_its_width_has_no_lazy_layer():
    layers = MLP(10, hidden=(8, 4)).layers
    assert not any(isinstance(m, torch.nn.modules.lazy.LazyModuleMixin) for m in layers)
    assert [m.in_features for m in layers if isinstance(m, torch.nn.Linear)] == [10, 8, 4]


@pytest.fixture
def frame():
    """A data frame with a categorical column: its one-hot width is unknown before preprocessing."""
    X, y, s = make_biased_classification(3000, bias="group_shift", random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["colour"] = np.random.default_rng(0).choice(["red", "green", "blue"], size=len(frame))
    groups = s.astype(float)
    groups[1000:] = np.nan
    return frame, y, groups


def test_mlp_reads_its_width_at_the_end_of_a_pipeline(frame):
    X, y, groups = frame
    numeric = [c for c in X.columns if c != "colour"]
    pre = make_column_transformer((OneHotEncoder(), ["colour"]), (StandardScaler(), numeric))

    def fit():
        net = make_mlp_classifier(hidden=(16,), max_epochs=3)  # no width given
        clf = FairIFClassifier(net, random_state=0).set_fit_request(sensitive_features=True)
        return make_pipeline(pre, clf).fit(X, y, sensitive_features=groups)

    with sklearn.config_context(enable_metadata_routing=True):
        first, second = fit(), fit()
    fairif = first[-1]
    assert fairif.reweighted_ and fairif.rounds_  # stage 1 ran on the net whose width it read
    assert fairif.estimator_.module_.layers[1].in_features == len(numeric) + 3
    assert type(fairif.estimator_.module_.layers[1]) is torch.nn.Linear  # materialised
    # reproducible from random_state, and it pickles
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(first)).predict_proba(X), first.predict_proba(X))


def test_mlp_without_a_width_is_refused_for_data_parallel_training():
    with pytest.raises(ValueError, match="needs n_features with an accelerator"):
        make_mlp_classifier(accelerator=object())
