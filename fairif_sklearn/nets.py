"""Small ready-made skorch nets, for examples, tests and the benchmark."""

from __future__ import annotations

from typing import Any

import torch
from skorch import NeuralNetClassifier

__all__ = ["MLP", "make_mlp_classifier"]


class MLP(torch.nn.Module):
    """A multilayer perceptron returning logits.

    Parameters
    ----------
    n_features : int
        Input width (inputs are flattened, so image batches work too).
    hidden : tuple of int, default=(64,)
        Widths of the hidden layers; empty for logistic regression.
    n_classes : int, default=2
    """

    def __init__(self, n_features: int, hidden: tuple[int, ...] = (64,), n_classes: int = 2):
        super().__init__()
        layers: list[torch.nn.Module] = [torch.nn.Flatten()]
        width = n_features
        for h in hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        layers.append(torch.nn.Linear(width, n_classes))
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


def make_mlp_classifier(
    n_features: int, hidden: tuple[int, ...] = (64,), n_classes: int = 2, **net_params: Any
) -> NeuralNetClassifier:
    """A skorch :class:`~skorch.NeuralNetClassifier` around :class:`MLP`.

    Defaults: cross-entropy on logits, Adam with learning rate 0.01, 20 epochs,
    batches of 128, no internal validation split, silent. Any skorch parameter
    can be overridden through ``net_params``.

    Parameters
    ----------
    n_features : int
    hidden : tuple of int, default=(64,)
    n_classes : int, default=2
        Outputs of the module: one per class.
    **net_params
        Passed to :class:`~skorch.NeuralNetClassifier`.
    """
    params: dict[str, Any] = dict(
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=20,
        batch_size=128,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
    params.update(net_params)
    return NeuralNetClassifier(
        MLP, module__n_features=n_features, module__hidden=hidden, module__n_classes=n_classes, **params
    )
