"""The fine-tune reads array rows a batch at a time, with the same batches as skorch's row-by-row reading.

Private module (``fairif_sklearn._skorch._batch_read``), imported by its private name.
"""

import copy

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset, ValidSplit
from torch.utils.data import DataLoader, TensorDataset, default_collate

from fairif_sklearn._skorch import finetune_net, fit_net
from fairif_sklearn._skorch._batch_read import ArrayRows, batch_read, collate
from fairif_sklearn.nets import make_mlp_classifier


def _data(n=300, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 2, 3)).astype(np.float32)
    y = (X[:, 0, 0] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    return X, y, rng


@pytest.mark.parametrize("as_tensor", [False, True])
def test_whole_batches_equal_the_rows_skorch_reads_and_stacks(as_tensor):
    X, y, rng = _data()
    data = {"x": torch.as_tensor(X) if as_tensor else X, "w": rng.uniform(size=len(y)).astype(np.float32)}
    loaders = []
    for dataset, collate_fn in ((Dataset(data, y), default_collate), (ArrayRows(data, y), collate)):
        torch.manual_seed(3)
        loaders.append(list(DataLoader(dataset, batch_size=64, shuffle=True, collate_fn=collate_fn)))
    assert len(loaders[0]) == len(loaders[1]) == 5
    for (xa, ya), (xb, yb) in zip(*loaders, strict=True):
        assert set(xa) == set(xb)
        for key in xa:
            assert xa[key].dtype == xb[key].dtype and torch.equal(xa[key], xb[key])
        assert ya.dtype == yb.dtype and torch.equal(ya, yb)


def test_a_fine_tune_reads_whole_batches_and_trains_bit_for_bit_as_row_by_row(monkeypatch):
    from skorch.callbacks import EpochScoring

    X, y, rng = _data()
    # a callback that predicts on the training rows during the fine-tune (not from the batches' cache)
    scoring = EpochScoring("accuracy", on_train=True, use_caching=False, name="train_acc")
    net = make_mlp_classifier(6, hidden=(8,), max_epochs=3, batch_size=32, lr=0.01, callbacks=[scoring])
    torch.manual_seed(0)
    fit_net(net, X, y)
    by_row = copy.deepcopy(net)
    by_row.iterator_train__collate_fn = default_collate  # DataLoader's own default: reads row by row
    weights = rng.uniform(0.5, 2, len(y))
    read = []
    original = ArrayRows.__getitems__
    monkeypatch.setattr(ArrayRows, "__getitems__", lambda self, i: read.append(len(i)) or original(self, i))
    trained = []
    for model in (net, by_row):
        torch.manual_seed(7)
        finetune_net(model, X, y, weights, strength=0.1, epochs=2)
        trained.append([p.detach().clone() for p in model.module_.parameters()])
    assert sum(read) == 2 * len(y) and max(read) == 32  # the first fine-tune: whole batches, two epochs
    for a, b in zip(*trained, strict=True):
        assert torch.equal(a, b)
    assert net.history[-1, "train_acc"] == by_row.history[-1, "train_acc"] > 0.5
    assert not {"iterator_train__collate_fn", "iterator_valid__collate_fn"} & set(vars(net))  # as they were


def test_other_ways_of_reading_are_left_to_the_net():
    X, y, _ = _data()
    plain = make_mlp_classifier(6, hidden=(8,))
    with batch_read(plain, X, y) as data:
        assert isinstance(data, ArrayRows)
    assert not {"iterator_train__collate_fn", "iterator_valid__collate_fn"} & set(vars(plain))
    others = [
        make_mlp_classifier(6, hidden=(8,), train_split=ValidSplit(5)),  # a split reads the valid rows too
        make_mlp_classifier(6, hidden=(8,), iterator_train__collate_fn=default_collate),
        make_mlp_classifier(6, hidden=(8,), iterator_valid__collate_fn=default_collate),
        make_mlp_classifier(6, hidden=(8,), dataset=type("Mine", (Dataset,), {})),
    ]
    for net in others:
        with batch_read(net, X, y) as data:
            assert data is X
    dataset = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    with batch_read(plain, dataset, y) as data:
        assert data is dataset
