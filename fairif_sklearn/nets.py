"""Ready-made skorch nets, for examples, tests and the benchmark, and a data-parallel classifier.

Small nets (:class:`MLP`, :class:`CNN`), a torchvision-free :class:`ResNet`,
and any torchvision classification architecture by name
(:func:`make_resnet_classifier`, which needs torchvision).
"""

from __future__ import annotations

import difflib
import http.client
import os
import urllib.parse
from typing import Any

import torch
from skorch import NeuralNetClassifier
from skorch.hf import AccelerateMixin

__all__ = [
    "CNN",
    "MLP",
    "AcceleratedNetClassifier",
    "ResNet",
    "TorchvisionClassifier",
    "make_cnn_classifier",
    "make_mlp_classifier",
    "make_resnet_classifier",
    "make_resnet_layout_classifier",
]


class MLP(torch.nn.Module):
    """A multilayer perceptron returning logits.

    Parameters
    ----------
    n_features : int or None, default=None
        Input width (inputs are flattened, so image batches work too). None:
        read from the first batch (the first layer is a
        :class:`torch.nn.LazyLinear`, a plain ``Linear`` once it has seen one),
        for a net at the end of a pipeline whose preprocessing sets the width.
    hidden : tuple of int, default=(64,)
        Widths of the hidden layers; empty for logistic regression.
    n_classes : int, default=2
    """

    def __init__(self, n_features: int | None = None, hidden: tuple[int, ...] = (64,), n_classes: int = 2):
        super().__init__()
        layers: list[torch.nn.Module] = [torch.nn.Flatten()]
        width = n_features
        for h in (*hidden, n_classes):
            layers.append(torch.nn.LazyLinear(h) if width is None else torch.nn.Linear(width, h))
            layers.append(torch.nn.ReLU())
            width = h
        self.layers = torch.nn.Sequential(*layers[:-1])  # no ReLU after the logits

    def forward(self, X):
        """The logits of a batch, shape (n, n_classes)."""
        return self.layers(X)


class CNN(torch.nn.Module):
    """A small convolutional net for image batches (n, channels, height, width), returning logits.

    Blocks of a 3x3 convolution, ReLU and 2x2 max-pooling, then a global average
    pool and a linear layer: any image size from 8x8 up works (28x28 MNIST,
    32x32 CI-MNIST, 64x64 CelebA crops) with the same parameters. No batch
    normalisation (for a net with it, see :class:`ResNet`).

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


class _BasicBlock(torch.nn.Module):
    """ResNet's basic residual block: conv3x3-BN-ReLU-conv3x3-BN plus a shortcut, then ReLU.

    The shortcut is the identity, or a strided 1x1 convolution and BatchNorm
    where the block changes the resolution or the number of channels.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(out_channels)
        self.conv2 = torch.nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(out_channels)
        self.shortcut: torch.nn.Module = torch.nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = torch.nn.Sequential(
                torch.nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                torch.nn.BatchNorm2d(out_channels),
            )

    def forward(self, X):
        out = torch.relu(self.bn1(self.conv1(X)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(X))


class ResNet(torch.nn.Module):
    """A ResNet with BatchNorm for small images (n, channels, height, width), returning logits.

    He et al.'s (2016) residual net, shaped for small images as in their CIFAR
    experiments, in plain torch (no torchvision): a stem of a 3x3 convolution,
    BatchNorm and ReLU at full resolution, then one stage of basic blocks
    (conv3x3-BN-ReLU-conv3x3-BN plus the identity, or a 1x1 convolution and
    BatchNorm where the shape changes, and ReLU after the sum) per entry of
    ``blocks``, with strides 1, 2, 2, 2 and ``width`` channels doubled per
    stage, then a global average pool and a linear layer. The default
    ``blocks=(2, 2, 2, 2)`` is ResNet-18's layout; ``width=16`` (a quarter of
    ResNet-18's 64) gives 700,434 parameters with two classes (``width=64``
    and 1000 classes: 11.7 million, as ResNet-18). Any image size from 8x8 up works
    (28x28 MNIST, 32x32 CI-MNIST, 64x64 CelebA crops) with the same parameters.

    BatchNorm makes a row's output in training mode depend on the rest of its
    batch; FairIF computes influence with the module in eval mode, where
    BatchNorm uses its running statistics and rows are independent, and its
    fine-tune keeps the BatchNorm layers in eval mode (the user guide's
    *BatchNorm*).

    Parameters
    ----------
    in_channels : int, default=3
    width : int, default=16
        Channels of the stem and the first stage; each later stage doubles them.
    blocks : tuple of int, default=(2, 2, 2, 2)
        Basic blocks per stage (at least one stage, each of at least one block).
    n_classes : int, default=2
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 16,
        blocks: tuple[int, ...] = (2, 2, 2, 2),
        n_classes: int = 2,
    ):
        super().__init__()
        if len(blocks) == 0 or min(blocks) < 1:
            raise ValueError(f"blocks must be one or more stages of at least one block each, got {blocks!r}.")
        layers: list[torch.nn.Module] = [
            torch.nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            torch.nn.BatchNorm2d(width),
            torch.nn.ReLU(),
        ]
        channels = width
        for stage, n_blocks in enumerate(blocks):
            out = width * 2**stage
            for block in range(n_blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(_BasicBlock(channels, out, stride))
                channels = out
        layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(channels, n_classes)]
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
    n_features: int | None = None, hidden: tuple[int, ...] = (64,), n_classes: int = 2, **net_params: Any
) -> NeuralNetClassifier:
    """A skorch :class:`~skorch.NeuralNetClassifier` around :class:`MLP`.

    Defaults: cross-entropy on logits, Adam with learning rate 0.01, 20 epochs,
    batches of 128, no internal validation split, silent. Any skorch parameter
    can be overridden through ``net_params``.

    Parameters
    ----------
    n_features : int or None, default=None
        Input width; None reads it from the data at the first fit (after a
        ``Pipeline``'s one-hot encoding, say). The same seed then draws other
        initial weights than with the width given, as the first layer is
        initialised last. Needed with ``accelerator=``.
    hidden : tuple of int, default=(64,)
    n_classes : int, default=2
        Outputs of the module: one per class.
    **net_params
        Passed to :class:`~skorch.NeuralNetClassifier`; with ``accelerator=``
        (an ``accelerate.Accelerator``) the net is an
        :class:`AcceleratedNetClassifier` and trains data-parallel.
    """
    if n_features is None and "accelerator" in net_params:
        raise ValueError(
            "make_mlp_classifier needs n_features with an accelerator: data-parallel training "
            "(DistributedDataParallel) cannot wrap a layer whose input width is not known yet."
        )
    return _classifier(MLP, dict(n_features=n_features, hidden=hidden, n_classes=n_classes), net_params)


def make_resnet_layout_classifier(
    in_channels: int = 3,
    width: int = 16,
    blocks: tuple[int, ...] = (2, 2, 2, 2),
    n_classes: int = 2,
    **net_params: Any,
) -> NeuralNetClassifier:
    """A skorch :class:`~skorch.NeuralNetClassifier` around :class:`ResNet` (no torchvision needed).

    The same defaults as :func:`make_mlp_classifier` (cross-entropy on logits,
    Adam with learning rate 0.01, 20 epochs, batches of 128, no internal
    validation split, silent); ``X`` is an array of images of shape (n,
    channels, height, width). For a torchvision architecture, possibly
    pretrained, see :func:`make_resnet_classifier`.

    Parameters
    ----------
    in_channels : int, default=3
    width : int, default=16
    blocks : tuple of int, default=(2, 2, 2, 2)
        ResNet-18's layout by default.
    n_classes : int, default=2
    **net_params
        Passed to :class:`~skorch.NeuralNetClassifier`; with ``accelerator=``
        (an ``accelerate.Accelerator``) the net is an
        :class:`AcceleratedNetClassifier` and trains data-parallel.
    """
    module_params = dict(in_channels=in_channels, width=width, blocks=blocks, n_classes=n_classes)
    return _classifier(ResNet, module_params, net_params)


class TorchvisionClassifier(torch.nn.Module):
    """A torchvision classification architecture with a fresh head of ``n_classes`` logits.

    The module that :func:`make_resnet_classifier` gives skorch: a class whose
    parameters are plain values, so that ``sklearn.base.clone`` and
    ``set_params(module__arch=...)`` work. The torchvision model, built in
    ``__init__``, is the attribute ``model``. Its classification head (``fc``
    of ResNets, RegNets, ShuffleNets and GoogLeNet; the last layer of
    ``classifier`` of VGG, AlexNet, MobileNet, EfficientNet, ConvNeXt,
    DenseNet, MNASNet and MaxViT; ``heads.head`` of ViT; ``head`` of Swin) is
    replaced by a freshly initialised ``Linear(in_features, n_classes)``.
    GoogLeNet and Inception v3 are built without their auxiliary classifiers.
    Needs torchvision: ``pip install "fairif-sklearn[vision]"``.

    Parameters
    ----------
    arch : str, default="resnet18"
        A name of ``torchvision.models.list_models(module=torchvision.models)``.
    n_classes : int, default=2
    pretrained : bool, default=False
        Start from the architecture's default ImageNet weights
        (``torchvision.models.get_model_weights(arch).DEFAULT``), downloaded
        into torch's cache (``$TORCH_HOME/hub/checkpoints``) the first time.
        The new head (and, with ``small_inputs``, the new stem) starts afresh.
    small_inputs : bool, default=False
        For images of about 32x32: replace a ResNet's stem (its 7x7 stride-2
        ``conv1`` and its ``maxpool``) by a 3x3 stride-1 convolution and no
        pooling. Only architectures with ``conv1`` and ``maxpool`` (ResNet,
        ResNeXt, Wide ResNet) have that stem.

    Raises
    ------
    ImportError
        When torchvision is not installed, or does not import beside this torch.
    ValueError
        An unknown ``arch``, an architecture whose head cannot be found, or
        ``small_inputs`` for an architecture without a ResNet stem.
    OSError
        When ``pretrained`` and the weights could not be downloaded; the
        message says where to put them instead.
    """

    def __init__(
        self, arch: str = "resnet18", n_classes: int = 2, pretrained: bool = False, small_inputs: bool = False
    ):
        super().__init__()
        models = _torchvision_models()
        _check_arch(models, arch)
        self.model = _build(models, arch, n_classes, pretrained=pretrained, small_inputs=small_inputs)

    def forward(self, X):
        """The logits of a batch, shape (n, n_classes)."""
        return self.model(X)


def make_resnet_classifier(
    arch: str = "resnet18",
    n_classes: int = 2,
    *,
    pretrained: bool = False,
    small_inputs: bool = False,
    **net_params: Any,
) -> NeuralNetClassifier:
    """A skorch :class:`~skorch.NeuralNetClassifier` around a torchvision architecture (ResNet-18 by default).

    Any classification architecture of torchvision by name, its head replaced
    by a fresh one of ``n_classes`` logits (see :class:`TorchvisionClassifier`,
    the module given to skorch, with ``arch``, ``n_classes``, ``pretrained`` and
    ``small_inputs`` as its ``module__`` parameters). The same defaults as
    :func:`make_mlp_classifier` (cross-entropy on logits, Adam with learning
    rate 0.01, 20 epochs, batches of 128, no internal validation split,
    silent); fine-tuning pretrained weights usually wants a smaller ``lr``
    (e.g. ``lr=1e-3``). ``X`` is an array of images of shape (n, 3, height,
    width); most architectures take any size from 32x32 up (with
    ``small_inputs`` for 32x32 ResNets), ViTs exactly 224x224. The
    architecture, its head and its stem are checked here (on the meta device:
    nothing allocated, nothing downloaded; RegNets, which cannot be built there,
    when the module is built); the weights are loaded when skorch initializes
    the module. Needs torchvision: ``pip install
    "fairif-sklearn[vision]"``, with a torchvision built for the installed
    torch. For a ResNet without torchvision see
    :func:`make_resnet_layout_classifier`.

    Parameters
    ----------
    arch : str, default="resnet18"
        A name of ``torchvision.models.list_models(module=torchvision.models)``,
        such as ``"resnet50"``, ``"mobilenet_v3_small"``, ``"efficientnet_b0"``,
        ``"convnext_tiny"`` or ``"vit_b_16"``.
    n_classes : int, default=2
    pretrained : bool, default=False
        Start from the default ImageNet weights, downloaded into
        ``$TORCH_HOME/hub/checkpoints`` the first time (offline, put the file
        there beforehand).
    small_inputs : bool, default=False
        Replace a ResNet's 7x7 stride-2 stem and max-pooling by a 3x3 stride-1
        convolution, for 32x32 images.
    **net_params
        Passed to :class:`~skorch.NeuralNetClassifier`; with ``accelerator=``
        (an ``accelerate.Accelerator``) the net is an
        :class:`AcceleratedNetClassifier` and trains data-parallel.

    Raises
    ------
    ImportError
        When torchvision is not installed, or does not import beside this torch.
    ValueError
        An unknown ``arch``, an architecture whose head cannot be found, or
        ``small_inputs`` for an architecture without a ResNet stem.
    """
    models = _torchvision_models()
    _check_arch(models, arch)
    if _builds_on_meta(arch):  # the head and the stem exist: checked without memory or download
        with torch.device("meta"):
            _build(models, arch, n_classes, pretrained=False, small_inputs=small_inputs)
    module_params = dict(arch=arch, n_classes=n_classes, pretrained=pretrained, small_inputs=small_inputs)
    return _classifier(TorchvisionClassifier, module_params, net_params)


def _builds_on_meta(arch: str) -> bool:
    """Whether ``arch`` can be built on the meta device: RegNets' initialisation reads tensor values,
    which the meta device does not have; :class:`TorchvisionClassifier` checks those when skorch
    builds the module."""
    return not arch.startswith("regnet")


# the examples named when an architecture is unknown (those that the installed torchvision has)
_EXAMPLE_ARCHS = (
    "resnet18",
    "resnet50",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "convnext_tiny",
    "vit_b_16",
)
# architectures whose auxiliary classifiers (extra outputs in training mode) are left out
_AUX_LOGITS = ("googlenet", "inception_v3")


def _torchvision_models():
    """``torchvision.models``, or an ImportError that says how to install it."""
    try:
        import torchvision.models
    except Exception as error:  # ImportError, or a torchvision built for another torch
        raise ImportError(
            'torchvision architectures need torchvision: pip install "fairif-sklearn[vision]", with a '
            f"torchvision built for the installed torch ({torch.__version__}). Import failed with: "
            f"{type(error).__name__}: {error}"
        ) from error
    return torchvision.models


def _check_arch(models, arch: str) -> None:
    """Raise ValueError unless ``arch`` is a torchvision classification architecture."""
    names = models.list_models(module=models)
    if arch in names:
        return
    close = difflib.get_close_matches(str(arch), names, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    examples = ", ".join(n for n in _EXAMPLE_ARCHS if n in names)
    raise ValueError(
        f"arch={arch!r} is not a torchvision classification architecture; {hint}valid names include "
        f"{examples} ({len(names)} in all: torchvision.models.list_models(module=torchvision.models))."
    )


def _build(models, arch: str, n_classes: int, *, pretrained: bool, small_inputs: bool) -> torch.nn.Module:
    """The torchvision model ``arch`` with a fresh ``n_classes`` head (and a small-input stem)."""
    config: dict[str, Any] = {"aux_logits": False} if arch in _AUX_LOGITS else {}
    if pretrained:
        model = _pretrained(models, arch, config)
    else:
        model = models.get_model(arch, weights=None, **config)
    _replace_head(model, arch, n_classes)
    if small_inputs:
        _small_stem(model, arch)
    return model


def _pretrained(models, arch: str, config: dict) -> torch.nn.Module:
    """``arch`` with its default ImageNet weights, or an OSError that says where to put them."""
    weights = models.get_model_weights(arch).DEFAULT
    try:
        return models.get_model(arch, weights=weights, **config)
    except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, an unwritable cache
        file = os.path.basename(urllib.parse.urlparse(weights.url).path)
        folder = os.path.join(torch.hub.get_dir(), "checkpoints")
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise OSError(
            f"The pretrained weights of {arch} ({weights!r}) could not be downloaded from {weights.url} "
            f"({reason}). Download that file on a machine with network and put it in {folder} (torch's "
            f"cache, $TORCH_HOME/hub/checkpoints; TORCH_HOME chooses it), where it is found as {file}, "
            "or use pretrained=False."
        ) from error


def _replace_head(model: torch.nn.Module, arch: str, n_classes: int) -> None:
    """Replace a torchvision model's classification head by a fresh ``Linear(in_features, n_classes)``."""
    for path in ("fc", "classifier", "heads.head", "head"):
        owner: Any = model
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
        layer = getattr(owner, name, None)
        if isinstance(layer, torch.nn.Sequential) and len(layer) and isinstance(layer[-1], torch.nn.Linear):
            owner, name, layer = layer, str(len(layer) - 1), layer[-1]
        if isinstance(layer, torch.nn.Linear):
            setattr(owner, name, torch.nn.Linear(layer.in_features, n_classes))
            return
    raise ValueError(
        f"the classification head of {arch} was not found: a Linear layer as fc, as (the last layer of) "
        "classifier, as heads.head or as head; choose another architecture."
    )


def _small_stem(model: torch.nn.Module, arch: str) -> None:
    """Replace a ResNet's 7x7 stride-2 stem convolution by a 3x3 stride-1 one, and drop its max-pooling."""
    conv = getattr(model, "conv1", None)
    if not isinstance(conv, torch.nn.Conv2d) or not isinstance(
        getattr(model, "maxpool", None), torch.nn.Module
    ):
        raise ValueError(
            f"small_inputs=True replaces a ResNet's stem (its conv1 and maxpool), and {arch} has none; use "
            "small_inputs=False, or a ResNet such as resnet18."
        )
    model.conv1 = torch.nn.Conv2d(conv.in_channels, conv.out_channels, 3, stride=1, padding=1, bias=False)
    model.maxpool = torch.nn.Identity()


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
