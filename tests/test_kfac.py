"""Kronecker-factored curvature (curvlinops' K-FAC and EK-FAC) against brute-force references.

The references: the Kronecker factors built by hand from a layer's inputs and
the output Jacobians and loss Hessians of each row, and the exact damped
Gauss-Newton matrix assembled densely by the engine (``CurvatureOperator.dense``,
itself checked against plain autograd in ``test_influence.py``). The nets are
converted to float64 so that the algebraic identities hold to ~1e-10.
"""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from skorch import NeuralNetClassifier

from fairif_sklearn._influence import CurvatureOperator, influence_scores, solve_dense
from fairif_sklearn._influence._engine import AUTO_DAMPING_FRACTION
from fairif_sklearn._skorch import NetFunctions

from ._helpers import binary_net, gaps_on, logreg_net, nll_net, small_net

pytest.importorskip("curvlinops")

from fairif_sklearn._influence._kfac import (  # noqa: E402
    factored_names,
    ggn_diagonal,
    kronecker_operator,
    solve_kronecker,
)

# the K-FAC / EK-FAC influence scores' Spearman correlation with the exact solve's on the conv net
# with BatchNorm of `conv` at the engine's damping="auto" (0.02 x the largest eigenvalue), KFAC-reduce:
# measured 0.85-0.95 (K-FAC) and 0.84-0.95 (EK-FAC) over the four (rate, group) cells, where even the
# exact block-diagonal solve (one block per parameter tensor) reaches only 0.87-0.95; at 10x that
# damping all reach 0.97-0.99
MIN_SPEARMAN = 0.75


class TinyBNConv(torch.nn.Module):
    """Two 3x3 convolutions with BatchNorm, global pooling and a linear layer (286 parameters)."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
            torch.nn.Conv2d(4, 4, 3, stride=2), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2),
        )  # fmt: skip

    def forward(self, X):
        return self.layers(X)


def _float64(net) -> NetFunctions:
    net.module_.double()
    return NetFunctions(net)


@pytest.fixture(scope="module")
def mlp(biased_data):
    X, y, _ = biased_data
    torch.manual_seed(0)
    net = small_net(optimizer__weight_decay=1e-3).fit(X[:300], y[:300])
    return _float64(net), X[:300].astype(np.float64), y[:300]


@pytest.fixture(scope="module")
def conv():
    rng = np.random.RandomState(0)
    n = 300
    X = rng.normal(size=(n, 3, 8, 8))
    s = (rng.uniform(size=n) < 0.3).astype(np.int64)
    y = (X[:, 0, 2:6, 2:6].mean(axis=(1, 2)) + 0.5 * s * X[:, 1].mean(axis=(1, 2)) > 0).astype(np.int64)
    net = NeuralNetClassifier(
        TinyBNConv, criterion=torch.nn.CrossEntropyLoss, max_epochs=8, lr=0.01, batch_size=64,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=1e-3, train_split=None, verbose=0,
    )  # fmt: skip
    torch.manual_seed(0)
    net.fit(X[:200].astype(np.float32), y[:200])
    return _float64(net), X[:200], y[:200], X[200:], y[200:], s[200:]


def _dense(operator, model) -> torch.Tensor:
    """The (p, p) matrix of a curvlinops operator, by products with the identity's columns."""
    with model.eval_mode(), torch.enable_grad():
        return operator @ torch.eye(operator.shape[1], dtype=model.dtype)


def _hand_built_factors(model, X, y, layers):
    """Per Linear layer of a Sequential MLP: ``A = mean a a^T`` (inputs) and ``G = mean J^T H J`` (J the
    output's Jacobian in the layer's output, H the loss's Hessian in the output), by plain autograd."""
    x = model.inputs(X, slice(None))
    targets = model.targets(y, slice(None))
    factors = []
    with torch.no_grad():
        out = model.output(model.params, x)
    shape = out.shape[1:]

    def loss(o, t):
        return model.loss_from_output(o.reshape(1, *shape), t[None]).sum()

    H = torch.func.vmap(torch.func.hessian(loss))(out.reshape(len(out), -1), targets)
    h = x
    for i, layer in enumerate(layers):
        if isinstance(layer, torch.nn.Linear):
            z = layer(h)
            rest = layers[i + 1 :]
            J = torch.func.vmap(torch.func.jacrev(lambda zi, rest=rest: rest(zi[None]).reshape(-1)))(z)
            A = h.T @ h / len(h)
            G = torch.einsum("bco,bcd,bdp->op", J, H, J) / len(h)
            factors.append((A.detach().contiguous(), G.detach().contiguous()))
        h = layer(h).detach()
    return factors


def test_kfac_equals_the_hand_built_kronecker_product(mlp):
    model, X, y = mlp
    names = list(model.params)
    assert factored_names(model, names) == names
    K = _dense(kronecker_operator(model, X, y, np.arange(len(y)), names, batch_size=64), model)
    blocks = []  # weight (out, in) flattened row-major: G (x) A; the bias: G (weight-bias terms dropped)
    for A, G in _hand_built_factors(model, X, y, model.net.module_.layers):
        blocks += [torch.kron(G, A), G]
    torch.testing.assert_close(K, torch.block_diag(*blocks), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("kind", ["kfac", "ekfac"])
def test_solve_inverts_the_damped_approximation(mlp, kind):
    model, X, y = mlp
    names, rows = list(model.params), np.arange(len(y))
    B = torch.randn(3, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    shift = model.proximal_strength(0.01)
    V, info = solve_kronecker(model, X, y, rows, names, B, shift=shift, kind=kind, batch_size=64)
    K = _dense(kronecker_operator(model, X, y, rows, names, kind=kind, batch_size=64), model)
    M = K + shift * torch.eye(len(K), dtype=torch.float64)
    assert (torch.linalg.norm(V @ M - B, dim=1) / torch.linalg.norm(B, dim=1)).max() < 1e-6
    assert info.solver == kind and info.converged and info.n_iter == [0, 0, 0]
    # the residual against the exact damped GGN, as reported
    op = CurvatureOperator(model, X, y, rows, names, curvature="gauss_newton", damping=0.01, batch_size=64)
    expected = torch.linalg.norm(op.matmat(V) - B, dim=1) / torch.linalg.norm(B, dim=1)
    np.testing.assert_allclose(info.residual, expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("kind", ["kfac", "ekfac"])
def test_kronecker_is_exact_for_one_linear_layer_on_one_row(biased_data, kind):
    X, y, _ = biased_data
    torch.manual_seed(0)
    model = _float64(logreg_net(X.shape[1], max_epochs=20).fit(X[:200], y[:200]))
    X = X[:200].astype(np.float64)
    weight = model.last_linear_names()[0]  # the weight block: K-FAC drops the weight-bias terms
    rows = np.array([7])
    K = _dense(kronecker_operator(model, X, y, rows, [weight], kind=kind, batch_size=8), model)
    op = CurvatureOperator(model, X, y, rows, [weight], curvature="gauss_newton", damping=0.0, batch_size=8)
    exact = op.dense() - op.shift * torch.eye(len(K), dtype=torch.float64)
    torch.testing.assert_close(K, exact, rtol=1e-7, atol=1e-10)


def test_ekfac_has_the_exact_diagonal_in_the_kfac_eigenbasis(mlp):
    model, X, y = mlp
    rows = np.arange(len(y))
    names = list(model.params)
    E = _dense(kronecker_operator(model, X, y, rows, names, kind="ekfac", batch_size=64), model)
    op = CurvatureOperator(model, X, y, rows, names, curvature="gauss_newton", damping=0.0, batch_size=64)
    exact = op.dense() - op.shift * torch.eye(len(E), dtype=torch.float64)
    start = 0
    for A, G in _hand_built_factors(model, X, y, model.net.module_.layers):
        for Q in (torch.kron(torch.linalg.eigh(G)[1], torch.linalg.eigh(A)[1]), torch.linalg.eigh(G)[1]):
            block = slice(start, start + len(Q))
            torch.testing.assert_close(
                torch.diag(Q.T @ E[block, block] @ Q), torch.diag(Q.T @ exact[block, block] @ Q),
                rtol=1e-6, atol=1e-10,
            )  # fmt: skip
            start += len(Q)


def test_ggn_diagonal_of_batchnorm_parameters_is_exact(conv):
    model, X, y, *_ = conv
    rows = np.arange(len(y))
    names = list(model.params)
    bn = [k for k in names if k not in factored_names(model, names)]
    assert bn and all(".layers.1." in k or ".layers.4." in k for k in bn)  # the BatchNorm layers
    diag = ggn_diagonal(model, X, y, rows, bn, batch_size=64)
    op = CurvatureOperator(model, X, y, rows, bn, curvature="gauss_newton", damping=0.0, batch_size=64)
    torch.testing.assert_close(diag, torch.diag(op.dense()) - op.shift, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("kind", ["kfac", "ekfac"])
def test_influence_scores_rank_correlate_with_the_exact_solve_on_a_conv_net(conv, kind):
    model, X, y, X_val, y_val, s_val = conv
    names, rows = list(model.params), np.arange(len(y))
    _, G, _ = gaps_on(X_val, y_val, s_val).rates_and_gradients(model, names)
    undamped = CurvatureOperator(
        model, X, y, rows, names, curvature="gauss_newton", damping=0.0, batch_size=64
    )  # fmt: skip
    damping = AUTO_DAMPING_FRACTION * undamped.largest_eigenvalue(8, 4, np.random.RandomState(0))
    op = CurvatureOperator(model, X, y, rows, names, curvature="gauss_newton", damping=damping, batch_size=64)
    exact, _ = solve_dense(op, G)
    V, info = solve_kronecker(model, X, y, rows, names, G, shift=op.shift, kind=kind, batch_size=64)
    # block-diagonal: its residual against the exact GGN is well above 1 (about 10-25 here) even where
    # the scores' ranking agrees; it is reported, not a convergence criterion
    assert info.converged and np.all(np.isfinite(info.residual))
    scores = influence_scores(model, X, y, names, V, batch_size=64)
    reference = influence_scores(model, X, y, names, exact, batch_size=64)
    for row, ref in zip(scores, reference, strict=True):
        assert spearmanr(row, ref)[0] > MIN_SPEARMAN


def test_other_parameters_treatments(conv):
    model, X, y, *_ = conv
    names, rows = list(model.params), np.arange(len(y))
    other = np.concatenate(
        [np.full(t.numel(), k not in factored_names(model, names)) for k, t in model.params.items()]
    )
    B = torch.randn(2, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    solved = {
        how: solve_kronecker(
            model, X, y, rows, names, B, shift=0.1, batch_size=64, others=how, residual=False
        )[0]
        for how in ("identity", "exclude", "diagonal")
    }
    torch.testing.assert_close(solved["identity"][:, other], B[:, other] / 0.1)
    assert torch.all(solved["exclude"][:, other] == 0)
    diag = ggn_diagonal(
        model, X, y, rows, [k for k in names if k not in factored_names(model, names)], batch_size=64
    )
    torch.testing.assert_close(solved["diagonal"][:, other], B[:, other] / (diag + 0.1))
    for how in ("identity", "exclude"):  # the layers' directions do not depend on the treatment
        torch.testing.assert_close(solved[how][:, ~other], solved["diagonal"][:, ~other])


def test_bce_with_logits_net(biased_data):
    X, y, _ = biased_data
    torch.manual_seed(0)
    model = _float64(binary_net().fit(X[:300], y[:300].astype(np.float32)))
    X, y = X[:300].astype(np.float64), y[:300]
    names, rows = list(model.params), np.arange(len(y))
    K = _dense(kronecker_operator(model, X, y, rows, names, batch_size=64), model)
    blocks = []
    for A, G in _hand_built_factors(model, X, y, model.net.module_.mlp.layers):
        blocks += [torch.kron(G, A), G]
    torch.testing.assert_close(K, torch.block_diag(*blocks), rtol=1e-8, atol=1e-12)


def test_unsupported_criterion_is_a_clear_error(biased_data):
    X, y, _ = biased_data
    model = NetFunctions(nll_net().fit(X[:100], y[:100]))
    B = torch.ones(1, model.n_params(), dtype=torch.float64)
    with pytest.raises(ValueError, match="NLLLoss"):
        solve_kronecker(
            model, X[:100], y[:100], np.arange(100), list(model.params), B, shift=0.1, batch_size=64
        )
    with pytest.raises(ValueError, match="kind must be one of"):
        solve_kronecker(
            model,
            X[:100],
            y[:100],
            np.arange(100),
            list(model.params),
            B,
            shift=0.1,
            batch_size=64,
            kind="kfc",
        )


def test_rescale_takes_the_exact_step_along_each_direction(conv):
    model, X, y, *_ = conv
    names, rows = list(model.params), np.arange(len(y))
    B = torch.randn(2, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    V, _ = solve_kronecker(model, X, y, rows, names, B, shift=0.1, batch_size=64, residual=False)
    W, info = solve_kronecker(model, X, y, rows, names, B, shift=0.1, batch_size=64, rescale=True)
    op = CurvatureOperator(model, X, y, rows, names, curvature="gauss_newton", damping=0.0, batch_size=64)
    MW = op.matmat(W) + (0.1 - op.shift) * W
    # W is V scaled so that the error is M-orthogonal to it: W . M W = W . B
    torch.testing.assert_close((W * MW).sum(dim=1), (W * B).sum(dim=1))
    c = (W / V)[:, :5]
    torch.testing.assert_close(c, c[:, :1].expand_as(c))
    expected = torch.linalg.norm(MW - B, dim=1) / torch.linalg.norm(B, dim=1)
    np.testing.assert_allclose(info.residual, expected.numpy(), rtol=1e-6)
