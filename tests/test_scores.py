"""Each influence-score method against a brute-force reference, and the ``"auto"`` selector.

The reference is one plain autograd gradient per row, dotted with the
directions. The nets are made float64 after training, so that the methods and
the reference agree to rounding (in float32 a ReLU input within rounding of
zero can flip between a batch of one row and a larger batch).
These tests import the private score module by its private name.
"""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier

from fairif_sklearn._influence import _input_fed, _scores
from fairif_sklearn._influence._scores import METHODS, auto_method, influence_scores
from fairif_sklearn._skorch import NetFunctions
from fairif_sklearn.nets import make_cnn_classifier, make_mlp_classifier

N_ROWS, SHAPE = 24, (3, 8, 8)


class ConvBN(torch.nn.Module):
    """A small conv net with BatchNorm (scored in eval mode, on its running statistics)."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, padding=1),
            torch.nn.BatchNorm2d(4),
            torch.nn.ReLU(),
            torch.nn.Conv2d(4, 6, 3, stride=2, bias=False),
            torch.nn.BatchNorm2d(6),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Linear(6, 2),
        )

    def forward(self, X):
        return self.layers(X)


def _data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(N_ROWS, *SHAPE)).astype(np.float32)
    return X, rng.randint(0, 2, N_ROWS)


def _make(kind: str):
    common = dict(max_epochs=3, batch_size=8, verbose=0)
    if kind == "mlp":
        return make_mlp_classifier(int(np.prod(SHAPE)), hidden=(5,), **common)
    if kind == "cnn":
        return make_cnn_classifier(channels=(4, 8), **common)
    return NeuralNetClassifier(
        ConvBN,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        train_split=None,
        **common,
    )


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    models = {}
    for kind in ("mlp", "cnn", "conv_bn"):
        torch.manual_seed(0)
        net = _make(kind).fit(X, y)
        net.module_.double()  # see the module docstring
        models[kind] = NetFunctions(net)
    return models, X, y


def _names(model, which: str) -> list[str]:
    if which == "all":
        return list(model.params)
    if which == "last":
        return model.last_linear_names()
    return list(model.params)[:1]  # the first layer's weight alone


def _directions(model, names, k=3):
    p = sum(model.params[name].numel() for name in names)
    return torch.randn(k, p, dtype=torch.float64, generator=torch.Generator().manual_seed(2))


def brute_force(model, X, y, names, V) -> np.ndarray:
    """``V @ grad l(z_i)`` with one autograd gradient per row, in eval mode."""
    theta = {k: v.clone().requires_grad_(k in names) for k, v in model.params.items()}
    columns = []
    with model.eval_mode():
        for i in range(len(y)):
            rows = slice(i, i + 1)
            loss = model.losses(theta, model.inputs(X, rows), model.targets(y, rows)).sum()
            g = torch.autograd.grad(loss, [theta[k] for k in names])
            columns.append(V @ torch.cat([t.reshape(-1) for t in g]).double())
    return torch.stack(columns, dim=1).numpy()


def _assert_close(scores, expected):
    assert scores.dtype == np.float64 and scores.shape == expected.shape
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("which", ["all", "last", "first"])
@pytest.mark.parametrize("kind", ["mlp", "cnn", "conv_bn"])
@pytest.mark.parametrize("method", [*METHODS, "auto"])
def test_method_equals_brute_force(fitted, kind, which, method):
    models, X, y = fitted
    model = models[kind]
    names = _names(model, which)
    V = _directions(model, names)
    info = {}
    scores = influence_scores(model, X, y, names, V, batch_size=10, method=method, info=info)
    _assert_close(scores, brute_force(model, X, y, names, V))
    assert info["scores_method"] == (auto_method(model, names) if method == "auto" else method)
    assert model.net.module_.training  # eval mode only for the duration


@pytest.mark.parametrize(
    "kind, which, expected",
    [
        ("mlp", "all", "jvp"),
        ("cnn", "all", "per_sample"),
        ("conv_bn", "first", "per_sample"),
        ("cnn", "last", "jvp"),
    ],
)
def test_auto_picks_per_sample_for_convolutions(fitted, kind, which, expected):
    models, _, _ = fitted
    assert auto_method(models[kind], _names(models[kind], which)) == expected


def test_per_sample_in_chunks_under_a_small_memory_budget(fitted):
    models, X, y = fitted
    model = models["cnn"]
    names = list(model.params)
    V = _directions(model, names)
    budget = 3 * model.n_params() * 8  # three rows of float64 gradients at a time
    scores = influence_scores(model, X, y, names, V, batch_size=10, method="per_sample", memory_budget=budget)
    _assert_close(scores, brute_force(model, X, y, names, V))


@pytest.mark.parametrize("method", METHODS)
def test_dataset_input(fitted, method):
    models, X, y = fitted
    model = models["conv_bn"]
    names = list(model.params)
    V = _directions(model, names)
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    scores = influence_scores(model, dataset, y, names, V, batch_size=10, method=method)
    _assert_close(scores, brute_force(model, X, y, names, V))


def test_unknown_method_is_refused(fitted):
    models, X, y = fitted
    model = models["mlp"]
    names = list(model.params)
    with pytest.raises(ValueError, match="method must be"):
        influence_scores(model, X, y, names, _directions(model, names), batch_size=8, method="magic")


# --- the JVP scores' input-fed Linear layers --------------------------------------------------------


class Scaled(torch.nn.Module):
    """An MLP whose first Linear layer reads a rescaled copy of the inputs (not the inputs)."""

    def __init__(self):
        super().__init__()
        self.first, self.out = torch.nn.Linear(int(np.prod(SHAPE)), 5), torch.nn.Linear(5, 2)

    def forward(self, X):
        return self.out(torch.relu(self.first(2.0 * X.flatten(1))))


class Twice(torch.nn.Module):
    """An MLP whose first Linear layer is applied twice (once to the inputs)."""

    def __init__(self):
        super().__init__()
        width = int(np.prod(SHAPE))
        self.first, self.out = torch.nn.Linear(width, width), torch.nn.Linear(width, 2)

    def forward(self, X):
        return self.out(torch.tanh(self.first(torch.tanh(self.first(X.flatten(1))))))


def _fit_module(module):
    X, y = _data()
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        module, criterion=torch.nn.CrossEntropyLoss, max_epochs=2, batch_size=8, train_split=None, verbose=0
    ).fit(X, y)
    net.module_.double()
    return NetFunctions(net), X, y


@pytest.mark.parametrize("dead", [0, 3, 5])
def test_jvp_precomputes_an_input_fed_layer_and_skips_units_without_tangent(fitted, dead):
    # the first Linear of the MLP reads the (flattened) inputs: its weight's tangents are applied by
    # one product before the forward-mode pass, on the units whose tangent is not zero in every
    # direction (here the first `dead` of the 5 hidden units have none, as units that no curvature
    # or annotated row activates); the scores still equal the brute-force ones
    models, X, y = fitted
    model = models["mlp"]
    names = list(model.params)
    V = _directions(model, names)
    weight = model.params[names[0]]
    V[:, : dead * weight.shape[1]] = 0  # the weight's first `dead` rows, in every direction
    problem = _scores._problem(model, names, V, _scores.DEFAULT_MEMORY_BUDGET)
    with model.eval_mode():
        fed = _scores._input_fed_layers(problem, model.inputs(X, slice(0, 4)))
    assert list(fed) == [names[0]] and fed[names[0]].bias == names[1]
    assert fed[names[0]].live.tolist() == list(range(dead, 5))
    scores = influence_scores(model, X, y, names, V, batch_size=10, method="jvp")
    _assert_close(scores, brute_force(model, X, y, names, V))
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.net.module_.modules())


@pytest.mark.parametrize("module", [Scaled, Twice])
def test_jvp_leaves_a_layer_that_does_not_read_the_inputs_once_to_the_pass(module):
    model, X, y = _fit_module(module)
    names = list(model.params)
    V = _directions(model, names)
    problem = _scores._problem(model, names, V, _scores.DEFAULT_MEMORY_BUDGET)
    with model.eval_mode():
        assert _scores._input_fed_layers(problem, model.inputs(X, slice(0, 4))) == {}
    scores = influence_scores(model, X, y, names, V, batch_size=10, method="jvp")
    _assert_close(scores, brute_force(model, X, y, names, V))


def test_jvp_precomputes_only_where_it_pays():
    # a narrow input (tabular): k products of the layer cost less than placing the tangents
    assert _input_fed.precomputing_pays(3072, 64, 4) and not _input_fed.precomputing_pays(20, 64, 4)
