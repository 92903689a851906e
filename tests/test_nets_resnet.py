"""The torchvision-free ResNet, and torchvision architectures by name (skipped without torchvision)."""

import sys
import urllib.error

import numpy as np
import pytest
import torch
from sklearn.base import clone

from fairif_sklearn.nets import (
    ResNet,
    TorchvisionClassifier,
    make_resnet_classifier,
    make_resnet_layout_classifier,
)

from ._helpers import torchvision_or_skip


def _n_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_resnet_size_layout_and_shapes():
    net = ResNet()
    assert _n_parameters(net) == 700_434  # as the docstring says
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].kernel_size == (3, 3) and convs[0].stride == (1, 1)  # the small-image stem
    assert len(convs) == 1 + 2 * 8 + 3  # stem, two per block, three 1x1 shortcuts
    net.eval()
    for size in (28, 32, 64):
        assert net(torch.randn(2, 3, size, size)).shape == (2, 2)
    grey = ResNet(in_channels=1, width=4, blocks=(1, 1), n_classes=10).eval()
    assert grey(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match="blocks must be"):
        ResNet(blocks=())


def test_resnet_classifier_fits_and_clones():
    rng = np.random.RandomState(0)
    X = rng.randn(64, 3, 32, 32).astype(np.float32)
    y = rng.randint(0, 2, 64)
    net = make_resnet_layout_classifier(max_epochs=1, batch_size=16)  # the default ResNet
    net.fit(X, y)
    assert net.predict_proba(X).shape == (64, 2)
    assert len(net.history) == 1 and _n_parameters(net.module_) == 700_434
    twin = clone(net)
    assert twin.get_params()["module__blocks"] == (2, 2, 2, 2) and not hasattr(twin, "module_")
    twin.set_params(module__width=4, module__blocks=(1,)).fit(X[:16], y[:16])
    assert twin.module_.layers[-1].in_features == 4


def test_torchvision_heads_are_replaced():
    torchvision_or_skip("vision")
    resnet = TorchvisionClassifier("resnet18", n_classes=3)
    assert resnet.model.fc.out_features == 3 and resnet.model.fc.in_features == 512
    mobile = TorchvisionClassifier("mobilenet_v3_small", n_classes=3)
    assert mobile.model.classifier[-1].out_features == 3
    mobile.eval()
    assert mobile(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def test_torchvision_classifier_small_inputs_fit_and_clone():
    torchvision_or_skip("vision")
    net = make_resnet_classifier("resnet18", small_inputs=True, max_epochs=1, batch_size=8)
    assert net.get_params()["module__small_inputs"] is True
    rng = np.random.RandomState(0)
    X = rng.randn(8, 3, 32, 32).astype(np.float32)
    net.fit(X, rng.randint(0, 2, 8))
    stem = net.module_.model.conv1
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert isinstance(net.module_.model.maxpool, torch.nn.Identity)
    assert net.predict(X).shape == (8,)
    assert clone(net).set_params(module__arch="resnet34").module__arch == "resnet34"
    with pytest.raises(ValueError, match="small_inputs=True replaces a ResNet's stem.*mobilenet_v3_small"):
        make_resnet_classifier("mobilenet_v3_small", small_inputs=True)


def test_unknown_architecture_and_missing_head():
    torchvision_or_skip("vision")
    with pytest.raises(ValueError, match=r"arch='resnet181' is not .*did you mean resnet18.*resnet50"):
        make_resnet_classifier("resnet181")
    with pytest.raises(ValueError, match="classification head of squeezenet1_0 was not found"):
        make_resnet_classifier("squeezenet1_0")


def test_pretrained_weights_offline_say_where_to_put_them(monkeypatch, tmp_path):
    torchvision_or_skip("vision")

    def urlopen(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: the weights would be downloaded
    monkeypatch.setattr(torch.hub, "urlopen", urlopen)
    net = make_resnet_classifier("resnet18", pretrained=True)  # checked, nothing downloaded yet
    with pytest.raises(OSError, match="could not be downloaded") as raised:
        net.initialize()
    message = str(raised.value)
    assert "resnet18-f37072fd.pth" in message and str(tmp_path / "hub" / "checkpoints") in message
    assert "pretrained=False" in message and "no network in this test" in message


def test_without_torchvision_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision now raises ImportError
    monkeypatch.setitem(sys.modules, "torchvision.models", None)
    with pytest.raises(ImportError, match=r"fairif-sklearn\[vision\].*built for the installed torch"):
        make_resnet_classifier()
    with pytest.raises(ImportError, match=r"fairif-sklearn\[vision\]"):
        TorchvisionClassifier()
