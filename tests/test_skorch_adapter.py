"""Sample weights reach a plain skorch net's loss, batch by batch, without changing the net.

The adapter is private (``fairif_sklearn._skorch``); these tests check its
contract with skorch directly, so they import it by its private name.
"""

import copy
import pickle

import numpy as np
import pytest
import torch
from skorch.dataset import ValidSplit

from fairif_sklearn._skorch import NetFunctions, check_net, fit_net

from ._helpers import binary_net, logreg_net, nll_net

NETS = {
    "cross_entropy": lambda **kw: logreg_net(10, max_epochs=30, **kw),
    "nll_probabilities": lambda **kw: nll_net(batch_size=-1, max_epochs=30, optimizer=torch.optim.SGD, **kw),
    "binary_logit": lambda **kw: binary_net(batch_size=-1, max_epochs=30, optimizer=torch.optim.SGD, **kw),
}


def _fit(make, X, y, w=None, seed=0):
    net = make()
    torch.manual_seed(seed)
    return fit_net(net, X, y, w)


def _params(net):
    return torch.cat([p.detach().reshape(-1) for p in net.module_.parameters()])


@pytest.mark.parametrize("kind", NETS)
def test_zero_weight_equals_dropping_rows(biased_data, kind):
    X, y, _ = biased_data
    X, y = X[:300], y[:300]
    w = np.ones(300)
    w[::3] = 0
    weighted = _fit(NETS[kind], X, y, w)
    dropped = _fit(NETS[kind], X[w > 0], y[w > 0])
    torch.testing.assert_close(_params(weighted), _params(dropped), rtol=1e-4, atol=1e-5)
    assert type(weighted) is type(NETS[kind]())


@pytest.mark.parametrize("kind", NETS)
def test_integer_weight_equals_duplicating_rows(biased_data, kind):
    X, y, _ = biased_data
    X, y = X[:200], y[:200]
    w = np.ones(200)
    w[:50] = 3
    weighted = _fit(NETS[kind], X, y, w)
    repeat = np.where(w == 3, 3, 1)
    duplicated = _fit(NETS[kind], np.repeat(X, repeat, axis=0), np.repeat(y, repeat))
    torch.testing.assert_close(_params(weighted), _params(duplicated), rtol=1e-4, atol=1e-5)


def test_unit_weights_equal_unweighted_fit_with_minibatches(biased_data):
    X, y, _ = biased_data
    make = lambda: logreg_net(10, max_epochs=3, batch_size=32, lr=0.1, iterator_train__shuffle=True)  # noqa: E731
    weighted = _fit(make, X, y, np.ones(len(y)))
    plain = _fit(make, X, y)
    torch.testing.assert_close(_params(weighted), _params(plain), rtol=1e-5, atol=1e-6)


def test_batch_loss_is_weighted_mean(biased_data):
    X, y, _ = biased_data
    X, y = X[:100], y[:100]
    w = np.random.RandomState(0).uniform(0, 3, 100)
    net = _fit(lambda: logreg_net(10, max_epochs=1, lr=0.0), X, y, w)
    model = NetFunctions(net)
    x, t = model.inputs(X, slice(None)), model.targets(y, slice(None))
    losses = model.losses(model.params, x, t).double().numpy()
    assert net.history[-1, "train_loss"] == pytest.approx(np.sum(w * losses) / np.sum(w), rel=1e-5)


def test_weights_travel_through_skorch_valid_split(biased_data):
    X, y, _ = biased_data
    w = np.ones(len(y))
    w[y == 1] = 0.0  # the loss then only sees class 0
    net = _fit(
        lambda: logreg_net(10, max_epochs=200, lr=1.0, weight_decay=0.0, train_split=ValidSplit(5)), X, y, w
    )
    assert "valid_loss" in net.history[-1]
    assert np.mean(net.predict(X) == 0) > 0.95


def test_fitted_net_pickles_and_keeps_its_class(biased_data):
    X, y, _ = biased_data
    net = _fit(NETS["cross_entropy"], X, y, np.ones(len(y)))
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_allclose(clone.predict_proba(X), net.predict_proba(X))
    assert type(clone).__name__ == "NeuralNetClassifier"


def test_user_net_is_not_modified(biased_data):
    X, y, _ = biased_data
    net = logreg_net(10, max_epochs=2)
    before = copy.deepcopy(net.get_params())
    from sklearn.base import clone

    fit_net(clone(net), X, y.astype(np.int64), np.ones(len(y)))
    assert not hasattr(net, "module_")
    assert net.get_params().keys() == before.keys()


def test_unsupported_estimator():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="skorch NeuralNetClassifier"):
        check_net(LogisticRegression())


def test_a_weighted_fit_and_a_fine_tune_never_retype_the_net():
    from skorch.callbacks import Callback

    from fairif_sklearn._skorch import finetune_net
    from fairif_sklearn.nets import make_mlp_classifier

    class Types(Callback):
        def initialize(self):
            self.seen = set()
            return self

        def on_batch_begin(self, net, **kwargs):
            self.seen.add((type(net), type(net.criterion_).__name__))

    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    spy = Types().initialize()
    net = make_mlp_classifier(4, hidden=(8,), max_epochs=2, callbacks=[("types", spy)])
    fit_net(net, X, y, rng.uniform(0.5, 2, len(y)))
    finetune_net(net, X, y, rng.uniform(0.5, 2, len(y)), strength=0.1, epochs=1)
    # the class is the user's throughout; the criterion is the stand-in only while batches train
    assert {t for t, _ in spy.seen} == {type(net)} and type(net).__name__ == "NeuralNetClassifier"
    assert {c for _, c in spy.seen} == {"_BatchCriterion"}
    assert type(net.criterion_).__name__ in ("NLLLoss", "CrossEntropyLoss")
    assert not net.module_._forward_pre_hooks  # the hook that drops the weights is gone
    assert not any(name.startswith("fairif") for name, _ in net.callbacks_)


def test_batches_read_a_run_of_consecutive_rows_in_place_and_scattered_rows_by_copy(biased_data):
    # the influence scores read every training row in order (as indices, each process its block):
    # those batches are views of X, not copies of it; any other rows are read exactly as indexed
    X, y, _ = biased_data
    X = np.ascontiguousarray(X, dtype=np.float32)
    net = logreg_net(X.shape[1]).initialize()
    model = NetFunctions(net)
    for rows, in_place in ((np.arange(len(y)), True), (np.arange(5, 45), True), (np.arange(0, 60, 2), False)):
        seen = []
        for positions, x, target in model.batches(X, y, rows, 16):
            picked = rows[positions]
            np.testing.assert_array_equal(x.numpy(), X[picked])
            np.testing.assert_array_equal(target.numpy(), y[picked])
            seen.append(np.shares_memory(x.numpy(), X))
        assert all(seen) == in_place and any(seen) == in_place
