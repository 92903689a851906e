"""Small ready-made skorch nets, for examples, tests and the benchmark, and a data-parallel classifier."""

from __future__ import annotations

from typing import Any

import torch
from skorch import NeuralNetClassifier
from skorch.hf import AccelerateMixin

__all__ = ["CNN", "MLP", "AcceleratedNetClassifier", "make_cnn_classifier", "make_mlp_classifier"]


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
        """The logits of a batch, shape (n, n_classes)."""
        return self.layers(X)


class CNN(torch.nn.Module):
    """A small convolutional net for image batches (n, channels, height, width), returning logits.

    Blocks of a 3x3 convolution, ReLU and 2x2 max-pooling, then a global average
    pool and a linear layer: any image size from 8x8 up works (28x28 MNIST,
    32x32 CI-MNIST, 64x64 CelebA crops) with the same parameters. No batch
    normalisation, so that a row's output does not depend on the rest of its
    batch (influence treats rows as independent).

    Parameters
    ----------
    in_channels : int, default=3
    channels : tuple of int, default=(16, 32)
        Output channels of the convolution blocks.
    n_classes : int, default=2
    """

    def __init__(self, in_channels: int = 3, channels: tuple[int, ...] = (16, 32), n_classes: int = 2):
        super().__init__()
        layers: list[torch.nn.Module] = []
        width = in_channels
        for c in channels:
            layers += [torch.nn.Conv2d(width, c, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
            width = c
        layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(width, n_classes)]
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, X):
        """The logits of a batch, shape (n, n_classes)."""
        return self.layers(X)


def _classifier(module: type, module_params: dict, net_params: dict) -> NeuralNetClassifier:
    """The factories' skorch classifier: their defaults, then ``net_params``.

    With an ``accelerator`` among ``net_params``, an :class:`AcceleratedNetClassifier`.
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
    params.update({f"module__{name}": value for name, value in module_params.items()})
    params.update(net_params)
    cls = AcceleratedNetClassifier if "accelerator" in net_params else NeuralNetClassifier
    return cls(module, **params)


def make_cnn_classifier(
    in_channels: int = 3, channels: tuple[int, ...] = (16, 32), n_classes: int = 2, **net_params: Any
) -> NeuralNetClassifier:
    """A skorch :class:`~skorch.NeuralNetClassifier` around :class:`CNN`.

    The same defaults as :func:`make_mlp_classifier` (cross-entropy on logits,
    Adam with learning rate 0.01, 20 epochs, batches of 128, no internal
    validation split, silent); ``X`` is an array of images of shape (n,
    channels, height, width).

    Parameters
    ----------
    in_channels : int, default=3
    channels : tuple of int, default=(16, 32)
    n_classes : int, default=2
    **net_params
        Passed to :class:`~skorch.NeuralNetClassifier`; with ``accelerator=``
        (an ``accelerate.Accelerator``) the net is an
        :class:`AcceleratedNetClassifier` and trains data-parallel.
    """
    return _classifier(CNN, dict(in_channels=in_channels, channels=channels, n_classes=n_classes), net_params)


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
        Passed to :class:`~skorch.NeuralNetClassifier`; with ``accelerator=``
        (an ``accelerate.Accelerator``) the net is an
        :class:`AcceleratedNetClassifier` and trains data-parallel.
    """
    return _classifier(MLP, dict(n_features=n_features, hidden=hidden, n_classes=n_classes), net_params)


class AcceleratedNetClassifier(AccelerateMixin, NeuralNetClassifier):
    """skorch's :class:`~skorch.NeuralNetClassifier` trained data-parallel by Hugging Face Accelerate.

    ``skorch.hf.AccelerateMixin`` with one difference: a criterion without
    trainable parameters (every torch loss) is not given to the Accelerator,
    only moved to its device.
    On several CPU processes (``torchrun``, gloo) Accelerate wraps every module
    it prepares in ``torch.nn.parallel.DistributedDataParallel``, which
    refuses a module without parameters ("DistributedDataParallel is not needed
    when a module doesn't have any parameter that requires a gradient"); on GPUs
    Accelerate skips such modules itself, as this class does everywhere. And
    ``verbose=0`` silences the epoch log, which ``AccelerateMixin`` prints
    through the Accelerator whatever ``verbose`` says.
    FairIF takes it, or any ``AccelerateMixin`` net, as its ``estimator``: the
    ERM fit and stage 2 then train data-parallel, and stage 1 splits the rows
    over the processes (see the "Scaling out" page of the docs).

    Parameters
    ----------
    module : torch module class or instance
    accelerator : accelerate.Accelerator
        ``Accelerator()`` in every process of the job (``cpu=True`` on CPUs).
    **kwargs
        As :class:`~skorch.NeuralNetClassifier` and
        ``skorch.hf.AccelerateMixin`` take them (``device`` stays None:
        the Accelerator places the module).
    """

    def _initialize_callbacks(self):
        # AccelerateMixin's default log sink (the Accelerator's print) prints whatever ``verbose`` says
        if self.callbacks__print_log__sink == "auto" and not self.verbose:
            self.callbacks__print_log__sink = _quiet
        return super()._initialize_callbacks()

    def _initialize_accelerator(self):
        criteria = self._criteria
        trainable = [name for name in criteria if _trainable(getattr(self, name + "_", None))]
        self._criteria = trainable
        try:
            super()._initialize_accelerator()
        finally:
            self._criteria = criteria
        for name in set(criteria) - set(trainable):  # only to where the module is (their buffers)
            criterion = getattr(self, name + "_", None)
            if isinstance(criterion, torch.nn.Module) and self.accelerator.device_placement:
                setattr(self, name + "_", criterion.to(self.accelerator.device))
        return self


def _quiet(*args, **kwargs) -> None:
    """A log sink that prints nothing (``verbose=0``)."""


def _trainable(module: Any) -> bool:
    return isinstance(module, torch.nn.Module) and any(p.requires_grad for p in module.parameters())
