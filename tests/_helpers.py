"""Small data helpers and skorch nets that train in a blink, shared by the tests."""

from dataclasses import replace

import numpy as np
import torch
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from skorch.callbacks import Callback

from fairif_sklearn import FairIFWeigher
from fairif_sklearn._influence import AnnotatedGaps, compute_influence
from fairif_sklearn._rates import target_rates
from fairif_sklearn.nets import MLP, make_mlp_classifier


def partial_groups(s, n_annotated, seed=0):
    """``s`` as floats with all but ``n_annotated`` random rows marked missing (NaN)."""
    rng = np.random.RandomState(seed)
    out = np.full(len(s), np.nan)
    rows = rng.choice(len(s), n_annotated, replace=False)
    out[rows] = s[rows]
    return out


def small_net(n_features=10, **kw):
    """A one-hidden-layer MLP (8 units), 5 epochs: fast enough for many fits."""
    params = dict(hidden=(8,), max_epochs=5, batch_size=256)
    params.update(kw)
    return make_mlp_classifier(n_features, **params)


def logreg_net(n_features, weight_decay=1e-2, max_epochs=600, lr=1.0, **kw):
    """Logistic regression as a skorch net, full-batch gradient descent with L2."""
    params = dict(
        hidden=(),
        optimizer=torch.optim.SGD,
        optimizer__weight_decay=weight_decay,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=-1,
        iterator_train__shuffle=False,
    )
    params.update(kw)
    return make_mlp_classifier(n_features, **params)


class ProbaMLP(torch.nn.Module):
    """An MLP returning probabilities, for skorch's default NLLLoss."""

    def __init__(self, n_features):
        super().__init__()
        self.mlp = MLP(n_features, hidden=(8,))

    def forward(self, X):
        return torch.softmax(self.mlp(X), dim=-1)


class LogitMLP(torch.nn.Module):
    """An MLP returning one logit, for NeuralNetBinaryClassifier."""

    def __init__(self, n_features):
        super().__init__()
        self.mlp = MLP(n_features, hidden=(8,), n_classes=1)

    def forward(self, X):
        return self.mlp(X)[:, 0]


def nll_net(n_features=10, **kw):
    params = dict(max_epochs=5, lr=0.05, batch_size=256, train_split=None, verbose=0)
    params.update(kw)
    return NeuralNetClassifier(ProbaMLP, module__n_features=n_features, **params)


def binary_net(n_features=10, **kw):
    params = dict(max_epochs=5, lr=0.05, batch_size=256, train_split=None, verbose=0)
    params.update(kw)
    return NeuralNetBinaryClassifier(LogitMLP, module__n_features=n_features, **params)


def gaps_on(X_val, y_val, s_val, *, target="equalized_odds", temperature=1.0, batch_size=1024):
    """The soft-rate gaps of a two-class target on an annotated set with the groups "0" and "1"."""
    rates = target_rates(target, np.array([0, 1]))
    return AnnotatedGaps(X_val, y_val, s_val, ["0", "1"], rates, temperature, batch_size)


def influence_of(model, X, y, X_val, y_val, s_val, **settings):
    """Stage 1 of the private engine on an annotated set with the groups "0" and "1", with the
    estimators' default settings but ``settings``."""
    defaults = FairIFWeigher(None)._influence_settings()
    return compute_influence(
        model, X, y, gaps_on(X_val, y_val, s_val), replace(defaults, **settings),
        random_state=np.random.RandomState(0),
    )  # fmt: skip


class LazyMLP(torch.nn.Module):
    """An MLP whose first layer takes its width from the first batch; ``n_classes`` outputs."""

    def __init__(self, n_classes=2):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.LazyLinear(8), torch.nn.ReLU(), torch.nn.Linear(8, n_classes)
        )

    def forward(self, X):
        return self.layers(X)


class ClassesFromData(Callback):
    """Size the module's output to the classes of the target it is trained on.

    skorch's way of sizing a module from the data (its FAQ sets the input width
    the same way): at the start of training, ``set_params`` re-initialises the
    module when the number of classes differs, and leaves a trained module alone
    when it is the same (a fine-tune, a warm start).
    """

    def __repr__(self):  # no memory address: test ids stay the same in every process (pytest -n)
        return f"{type(self).__name__}()"

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        n_classes = len(np.unique(np.asarray(y)))
        if net.get_params()["module__n_classes"] != n_classes:
            net.set_params(module__n_classes=n_classes)


def any_width_net(**kw):
    """A small net that takes its input width and its number of classes from the data, as a user's
    net would: ``LazyLinear`` for the width, :class:`ClassesFromData` for the classes."""
    params = dict(
        criterion=torch.nn.CrossEntropyLoss, max_epochs=20, lr=0.2, batch_size=256, train_split=None,
        module__n_classes=2, callbacks=[("classes_from_data", ClassesFromData())],
    )  # fmt: skip
    params.update(kw)
    return NeuralNetClassifier(LazyMLP, verbose=0, **params)


def torchvision_or_skip(extra: str):
    """torchvision, or a skip saying why it is not usable here (as pytest.importorskip, for any error:
    a torchvision built for another torch fails with more than an ImportError)."""
    import sys

    import pytest

    try:
        import torchvision.datasets  # noqa: F401
        import torchvision.models  # noqa: F401
    except Exception as error:
        pytest.skip(
            f"torchvision is not usable beside this torch ({type(error).__name__}: {error}); "
            f'pip install "fairif-sklearn[{extra}]" with a torchvision built for your torch runs these tests'
        )
    return sys.modules["torchvision"]
