"""``X`` as a torch Dataset: rows streamed through every stage, with the same results as arrays."""

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, IterableDataset

from fairif_sklearn import FairIFClassifier, FairIFWeigher
from fairif_sklearn.nets import make_mlp_classifier


class Rows(Dataset):
    """A map-style Dataset of (x, y) pairs that counts the rows read, as a lazy image folder would."""

    def __init__(self, X, y):
        self.X, self.y, self.n_read = X, y, 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.n_read += 1
        return torch.from_numpy(self.X[i]), self.y[i]


BATCH_SIZES = []  # module-level: the net, and with it its collate function, is cloned (deep-copied)


def recording_collate(items):
    """A collate function (``iterator_valid__collate_fn``) that records the size of every batch it makes."""
    BATCH_SIZES.append(len(items))
    return torch.utils.data.default_collate(items)


def _groups(s, n_annotated=400):
    groups = s.astype(float)
    groups[n_annotated:] = np.nan
    return groups


def _net(X, **params):
    return make_mlp_classifier(X.shape[1], hidden=(8,), max_epochs=4, **params)


@pytest.fixture(scope="module")
def array_fit(biased_data):
    X, y, s = biased_data
    X = X.astype(np.float32)
    clf = FairIFClassifier(_net(X), tolerance=0.0, batch_size=256, random_state=0)
    return clf.fit(X, y, sensitive_features=_groups(s))


def test_a_dataset_gives_what_the_arrays_give(biased_data, array_fit):
    X, y, s = biased_data
    X = X.astype(np.float32)
    BATCH_SIZES.clear()
    net = _net(X, iterator_valid__collate_fn=recording_collate)
    data = Rows(X, np.zeros(len(y)))  # its own labels are ignored: FairIF reads y
    clf = FairIFClassifier(net, tolerance=0.0, batch_size=256, random_state=0)
    clf.fit(data, y, sensitive_features=_groups(s))

    assert clf.reweighted_
    np.testing.assert_allclose(clf.gaps_, array_fit.gaps_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(clf.influence_scores_, array_fit.influence_scores_, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(clf.sample_weight_, array_fit.sample_weight_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(clf.final_gaps_, array_fit.final_gaps_, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(clf.predict(Rows(X, y)), array_fit.predict(X))
    assert not hasattr(clf, "n_features_in_")
    # stage 1 read the rows through the net's own iterator settings, never more than a batch at once
    assert BATCH_SIZES and max(BATCH_SIZES) <= 256
    assert sum(BATCH_SIZES) > 3 * len(y)  # gaps, curvature products (several), scores, final gaps


def test_the_weigher_and_the_annotated_set_as_a_dataset(biased_data):
    X, y, s = biased_data
    X = X.astype(np.float32)
    train, val = slice(400, None), slice(None, 400)
    annotated = dict(X_val=Rows(X[val], y[val]), y_val=y[val], sensitive_val=s[val])
    weigher = FairIFWeigher(_net(X), **annotated, tolerance=0.0, batch_size=256, random_state=0)
    weigher.fit(Rows(X[train], y[train]), y[train])
    # the weigher solves one round (it trains no stage 2): the arrays' weigher, not the classifier
    on_arrays = FairIFWeigher(_net(X), tolerance=0.0, batch_size=256, random_state=0)
    on_arrays.fit(X, y, sensitive_features=_groups(s))
    np.testing.assert_allclose(weigher.sample_weight_, on_arrays.sample_weight_[train], rtol=1e-5, atol=1e-7)


def test_dataset_workers_and_pinned_memory_are_honoured(biased_data, array_fit):
    X, y, s = biased_data
    X = X.astype(np.float32)
    net = _net(X, iterator_valid__num_workers=2, iterator_valid__pin_memory=False)
    clf = FairIFWeigher(net, tolerance=0.0, batch_size=256, random_state=0)
    clf.fit(Rows(X, y), y, sensitive_features=_groups(s))
    np.testing.assert_allclose(clf.influence_scores_, array_fit.influence_scores_, rtol=1e-5, atol=1e-8)


def test_a_dataset_whose_length_disagrees_with_y(biased_data):
    X, y, s = biased_data
    with pytest.raises(ValueError, match=r"Dataset of 1500 rows but y has 1499 labels"):
        FairIFClassifier(_net(X)).fit(Rows(X, y), y[:-1], sensitive_features=_groups(s)[:-1])
    with pytest.raises(ValueError, match=r"X_val is a Dataset of 400 rows but y_val has 399"):
        FairIFClassifier(_net(X), X_val=Rows(X[:400], y[:400]), y_val=y[:399], sensitive_val=s[:399]).fit(
            X[400:], y[400:]
        )


def test_a_dataset_that_is_not_of_pairs_or_has_no_length(biased_data):
    X, y, s = biased_data

    class Inputs(Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return torch.from_numpy(X[i])

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(zip(X, y, strict=True))

    with pytest.raises(ValueError, match=r"not \(x, y\) pairs"):
        FairIFClassifier(_net(X)).fit(Inputs(), y, sensitive_features=_groups(s))
    with pytest.raises(TypeError, match="map-style Dataset"):
        FairIFClassifier(_net(X)).fit(Stream(), y, sensitive_features=_groups(s))


@pytest.mark.slow
def test_the_selecting_estimator_takes_a_dataset(biased_data):
    from fairif_sklearn import FairIFClassifierCV

    X, y, s = biased_data
    X = X.astype(np.float32)

    def fit(data):
        inner = FairIFClassifier(_net(X), tolerance=0.0, batch_size=256, random_state=0)
        return FairIFClassifierCV(inner, cv=2, max_rounds=1).fit(data, y, sensitive_features=_groups(s))

    on_dataset, on_arrays = fit(Rows(X, y)), fit(X)
    np.testing.assert_allclose(on_dataset.cv_results_["gap"], on_arrays.cv_results_["gap"], atol=1e-12)
    assert on_dataset.n_rounds_ == on_arrays.n_rounds_
    np.testing.assert_array_equal(on_dataset.predict(Rows(X, y)), on_arrays.predict(X))


def test_weighted_net_classifier_takes_a_dataset(biased_data):
    from fairif_sklearn import WeightedNetClassifier

    X, y, _ = biased_data
    X = X.astype(np.float32)
    weight = np.random.RandomState(0).uniform(0, 2, len(y))
    on_dataset = WeightedNetClassifier(_net(X), random_state=0).fit(Rows(X, y), y, sample_weight=weight)
    on_arrays = WeightedNetClassifier(_net(X), random_state=0).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(on_dataset.predict_proba(Rows(X, y)), on_arrays.predict_proba(X), atol=1e-6)
