"""The influence engine against brute-force references built with plain autograd.

The engine is private (``fairif_sklearn._influence``): these tests check its
mathematics directly against references, which the public estimators cannot
expose, so they import it by its private name.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from fairif_sklearn._influence import (
    AnnotatedGaps,
    CurvatureOperator,
    influence_scores,
    solve_cg,
    solve_cg_auto_damping,
    solve_dense,
)
from fairif_sklearn._influence._curvature import reverse_hessian
from fairif_sklearn._influence._trees import flatten, unflatten
from fairif_sklearn._skorch import NetFunctions
from fairif_sklearn.nets import make_mlp_classifier

from ._helpers import gaps_on, influence_of, logreg_net, small_net


@pytest.fixture(scope="module")
def fitted(biased_data):
    X, y, s = biased_data
    nets = {
        "logreg": logreg_net(X.shape[1], max_epochs=50),
        "mlp": small_net(optimizer__weight_decay=1e-3),
    }
    torch.manual_seed(0)
    return {
        name: (NetFunctions(net.fit(X[:400], y[:400])), X[:400], y[:400], s[:400])
        for name, net in nets.items()
    }


def _flat_params(model):
    return flatten(model.params).double()


def _mean_loss_of_flat(model, X, y):
    def f(theta):
        params = {k: v.to(torch.float32) for k, v in unflatten(theta, model.params).items()}
        return (
            model.losses(params, model.inputs(X, slice(None)), model.targets(y, slice(None))).double().mean()
        )

    return f


def brute_force_hessian(model, X, y):
    return torch.autograd.functional.hessian(_mean_loss_of_flat(model, X, y), _flat_params(model))


def brute_force_ggn(model, X, y):
    p = _flat_params(model).numel()
    G = torch.zeros(p, p, dtype=torch.float64)
    for i in range(len(y)):
        x = model.inputs(X, slice(i, i + 1))
        yi = model.targets(y, slice(i, i + 1))

        def out_of_theta(theta, x=x):
            params = {k: v.to(torch.float32) for k, v in unflatten(theta, model.params).items()}
            return model.output(params, x).double().reshape(-1)

        J = torch.autograd.functional.jacobian(out_of_theta, _flat_params(model))
        o = out_of_theta(_flat_params(model))
        H_out = torch.autograd.functional.hessian(
            lambda o, yi=yi: model.loss_from_output(o.float().reshape(1, -1), yi).double().sum(), o
        )
        G += J.T @ H_out @ J
    return G / len(y)


def _gauss_newton(model, X, y, batch_size):
    """The engine's undamped Gauss-Newton operator over all of ``X``'s rows."""
    return CurvatureOperator(
        model, X, y, np.arange(len(y)), list(model.params), curvature="gauss_newton", damping=0.0,
        batch_size=batch_size,
    )  # fmt: skip


def per_sample_gradients(model, X, y):
    """An explicit (n, p) matrix of per-sample loss gradients, one autograd call per row."""
    theta = {k: v.clone().requires_grad_(True) for k, v in model.params.items()}
    rows = []
    for i in range(len(y)):
        loss = model.losses(theta, model.inputs(X, slice(i, i + 1)), model.targets(y, slice(i, i + 1))).sum()
        rows.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(theta.values()))]))
    return torch.stack(rows).double()


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_jvp_scores_equal_explicit_gradient_dot_products(fitted, name):
    model, X, y, _ = fitted[name]
    V = torch.randn(2, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    scores = influence_scores(model, X, y, list(model.params), V, batch_size=64)
    expected = (V @ per_sample_gradients(model, X, y).T).numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_dense_hessian_equals_brute_force(fitted, name):
    model, X, y, _ = fitted[name]
    op = CurvatureOperator(
        model, X, y, np.arange(len(y)), list(model.params), curvature="hessian", damping=0.01, batch_size=128
    )
    shift = model.weight_decay + 0.01
    expected = brute_force_hessian(model, X, y) + shift * torch.eye(model.n_params(), dtype=torch.float64)
    torch.testing.assert_close(op.dense(chunk=50), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_dense_gauss_newton_equals_brute_force(fitted, name):
    model, X, y, _ = fitted[name]
    X, y = X[:60], y[:60]
    op = _gauss_newton(model, X, y, batch_size=25)
    expected = brute_force_ggn(model, X, y) + model.weight_decay * torch.eye(
        model.n_params(), dtype=torch.float64
    )
    torch.testing.assert_close(op.dense(), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kept", [True, False])
def test_jvp_products_run_the_net_forward_once_per_batch(fitted, kept, monkeypatch):
    # the Gauss-Newton products of a net without convolutions: each batch's pullback and its transpose
    # are made by one forward pass and kept, so further products run no forward pass (when they fit
    # in LINEARISED_MEMORY; else each product linearises each batch again, by one forward pass)
    from fairif_sklearn._influence import _curvature

    model, X, y, _ = fitted["mlp"]
    X, y = X[:60], y[:60]
    if not kept:
        monkeypatch.setattr(_curvature, "LINEARISED_MEMORY", 0)
    G = brute_force_ggn(model, X, y)
    op = _gauss_newton(model, X, y, batch_size=25)
    forwards = []
    hook = model.net.module_.register_forward_hook(lambda module, args, out: forwards.append(len(out)))
    try:
        V = torch.randn(3, G.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        expected = (V @ G + model.weight_decay * V).numpy()
        for _ in range(3):
            atol = 1e-6 * np.abs(expected).max()
            np.testing.assert_allclose(op.matmat(V).numpy(), expected, rtol=1e-4, atol=atol)
    finally:
        hook.remove()
    assert (op._linearised is not None) == kept
    # kept: one pass per batch for all three products; not kept: one pass per batch and product
    assert len(forwards) == (3 if kept else 3 * 3)


@pytest.mark.parametrize("kept", [True, False])
def test_gauss_newton_products_take_an_input_fed_layer_outside_the_passes(kept, monkeypatch):
    # an MLP on 192 inputs (flattened images): its first layer reads the inputs, so its weight's
    # shares of the products (x @ V^T along V, g^T x from its output's cotangent g) are one matrix
    # product for all directions outside the derivative passes, on the units that some row or
    # direction reaches (two of six units are dead here, as a ReLU unit that no row activates);
    # the products equal the brute-force Gauss-Newton matrix's, kept or linearised again
    from fairif_sklearn._influence import _curvature

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 3, 8, 8)).astype(np.float32), rng.randint(0, 2, 60)
    net = make_mlp_classifier(192, hidden=(6,), max_epochs=2, batch_size=16, verbose=0)
    torch.manual_seed(0)
    net.fit(X, y)
    with torch.no_grad():
        net.module_.layers[1].bias[:2] = -1e3  # no row activates these two units
    model = NetFunctions(net)
    if not kept:
        monkeypatch.setattr(_curvature, "LINEARISED_MEMORY", 0)
    op = _gauss_newton(model, X, y, batch_size=25)
    V = torch.randn(4, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    expected = (V @ brute_force_ggn(model, X, y) + model.weight_decay * V).numpy()
    atol = 1e-6 * np.abs(expected).max()
    for _ in range(2):
        np.testing.assert_allclose(op.matmat(V).numpy(), expected, rtol=1e-4, atol=atol)
    assert list(op._fed) == ["module.layers.1.weight"]
    assert (op._linearised is not None) == kept
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.module_.modules())


def test_gauss_newton_is_the_hessian_for_logistic_regression(fitted):
    model, X, y, _ = fitted["logreg"]
    ops = [
        CurvatureOperator(
            model, X, y, np.arange(len(y)), list(model.params), curvature=c, damping=0.0, batch_size=128
        )
        for c in ("hessian", "gauss_newton")
    ]
    torch.testing.assert_close(ops[0].dense(), ops[1].dense(), rtol=1e-4, atol=1e-6)


# the 5-epoch MLP's Hessian is indefinite: damp it enough to be positive definite
@pytest.mark.parametrize("curvature, damping", [("hessian", 1.0), ("gauss_newton", 0.05)])
def test_cg_equals_exact_solve(fitted, curvature, damping):
    model, X, y, _ = fitted["mlp"]
    names = list(model.params)
    op = CurvatureOperator(
        model, X, y, np.arange(len(y)), names, curvature=curvature, damping=damping, batch_size=128
    )
    B = torch.randn(2, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    exact, info = solve_dense(op, B)
    assert info.converged and info.min_eigenvalue > 0
    cg, cg_info = solve_cg(op, B, tol=1e-10, maxiter=500)
    assert cg_info.converged, cg_info
    torch.testing.assert_close(cg, exact, rtol=1e-5, atol=1e-7 * exact.abs().max().item())


def test_last_layer_solve_equals_exact_solve_on_the_last_layer(fitted):
    model, X, y, s = fitted["mlp"]
    names = model.last_linear_names()
    assert names == ["module.layers.3.weight", "module.layers.3.bias"]
    result = _influence(
        model, X, y, s, method="last_layer", curvature="hessian", damping=0.01, batch_size=100
    )
    # brute force: the Hessian over the whole parameter vector, restricted to the last layer's block
    offsets = np.cumsum([0] + [t.numel() for t in model.params.values()])
    index = {k: i for i, k in enumerate(model.params)}
    block = np.concatenate([np.arange(offsets[index[k]], offsets[index[k] + 1]) for k in names])
    H = brute_force_hessian(model, X, y)[np.ix_(block, block)]
    H += (model.weight_decay + 0.01) * torch.eye(len(block), dtype=torch.float64)
    _, G = gaps_on(X, y, s, batch_size=50).values_and_gradients(model, list(model.params))
    V = torch.linalg.solve(H, G[:, block].T).T
    grads = per_sample_gradients(model, X, y)[:, block]
    np.testing.assert_allclose(result.scores, (V @ grads.T).numpy(), rtol=1e-3, atol=1e-6)


def _influence(model, X, y, s, **kw):
    return influence_of(model, X, y, X, y, s, **{"method": "exact", **kw})


@pytest.mark.parametrize(
    "target, names",
    [
        ("equalized_odds", ["TPR(1) - TPR(0)", "TNR(1) - TNR(0)"]),
        ("demographic_parity", ["PPR(1) - PPR(0)"]),
        ("accuracy_parity", ["ACC(1) - ACC(0)"]),
    ],
)
def test_gap_gradients_equal_finite_differences(fitted, target, names):
    model, X, y, s = fitted["mlp"]
    measure = gaps_on(X, y, s, target=target, temperature=0.5, batch_size=64)
    gaps, G = measure.values_and_gradients(model, list(model.params))
    assert measure.names == names
    direction = torch.randn(model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    eps = 1e-3
    original = model.params
    shifted = {}
    for sign in (1, -1):
        theta = flatten(original).double() + sign * eps * direction
        model.params = {k: v.float() for k, v in unflatten(theta, original).items()}
        shifted[sign] = measure.values(model)
    model.params = original
    numeric = (shifted[1] - shifted[-1]) / (2 * eps)
    np.testing.assert_allclose((G @ direction).numpy(), numeric, rtol=2e-2, atol=1e-4)
    # the same gaps as a plain forward pass, up to float32 rounding (here the rows go through the net
    # by (class, group) block, for the gradients)
    np.testing.assert_allclose(gaps, measure.values(model), rtol=1e-5)


def test_soft_rates_by_hand():
    from fairif_sklearn._influence._gaps import gap_matrix, rate_counts, soft_rate_sums
    from fairif_sklearn._rates import target_rates

    proba = torch.tensor([[0.2, 0.8], [0.4, 0.6], [0.9, 0.1], [0.3, 0.7]], dtype=torch.float64)
    y = torch.tensor([1, 0, 0, 1])
    g = torch.tensor([0, 0, 1, 1])
    tpr, tnr = target_rates("equalized_odds", np.array([0, 1]))
    sums = soft_rate_sums(proba, y, g, 2, (tpr, tnr), temperature=1.0)
    torch.testing.assert_close(sums, torch.tensor([0.8, 0.7, 0.4, 0.9], dtype=torch.float64))
    C, names = gap_matrix(rate_counts(y.numpy(), g.numpy(), 2, (tpr, tnr)), 2, (tpr, tnr), ["a", "b"])
    np.testing.assert_allclose(C @ sums.numpy(), [0.7 - 0.8, 0.9 - 0.4])
    assert names == ["TPR(b) - TPR(a)", "TNR(b) - TNR(a)"]
    # demographic parity: the soft positive rate over all of a group's rows; accuracy parity: the
    # soft accuracy over them
    rates = (*target_rates("demographic_parity", np.array([0, 1])), *target_rates("accuracy_parity", []))
    sums = soft_rate_sums(proba, y, g, 2, rates, temperature=1.0)
    torch.testing.assert_close(
        sums, torch.tensor([0.8 + 0.6, 0.1 + 0.7, 0.8 + 0.4, 0.9 + 0.7], dtype=torch.float64)
    )
    np.testing.assert_array_equal(rate_counts(y.numpy(), g.numpy(), 2, rates), [2, 2, 2, 2])
    # three groups: each group's rate against the pooled rate
    C3, names3 = gap_matrix(np.array([1.0, 2.0, 1.0]), 3, (tpr,), ["a", "b", "c"])
    np.testing.assert_allclose(C3 @ np.array([1.0, 1.0, 0.0]), [1 - 0.5, 0.5 - 0.5, 0 - 0.5])
    assert names3 == ["TPR(a) - TPR(all)", "TPR(b) - TPR(all)", "TPR(c) - TPR(all)"]


def test_indefinite_hessian_is_reported(fitted):
    model, X, y, s = fitted["mlp"]
    op = CurvatureOperator(
        model, X, y, np.arange(len(y)), list(model.params), curvature="hessian", damping=0.0, batch_size=128
    )
    eig = torch.linalg.eigvalsh(op.dense())
    if eig[0] > 0:
        pytest.skip("this net's Hessian happens to be positive definite")
    with pytest.raises(ValueError, match="not positive definite"):
        _influence(model, X, y, s, curvature="hessian", damping=0.0)


@pytest.fixture(scope="module")
def fitted_cnn():
    from fairif_sklearn.nets import make_cnn_classifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(96, 3, 12, 12)).astype(np.float32)
    y = (X[:, 0].mean(axis=(1, 2)) > 0).astype(np.int64)
    torch.manual_seed(0)
    net = make_cnn_classifier(channels=(4, 6), max_epochs=3).fit(X, y)
    return NetFunctions(net), X, y


def test_cnn_jvp_scores_equal_explicit_gradient_dot_products(fitted_cnn):
    model, X, y = fitted_cnn
    V = torch.randn(2, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    scores = influence_scores(model, X, y, list(model.params), V, batch_size=32)
    expected = (V @ per_sample_gradients(model, X, y).T).numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_cnn_gauss_newton_products_equal_brute_force(fitted_cnn):
    model, X, y = fitted_cnn
    X, y = X[:12], y[:12]
    G = brute_force_ggn(model, X, y)
    op = _gauss_newton(model, X, y, batch_size=5)
    V = torch.randn(2, G.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    expected = (V @ G).numpy()
    np.testing.assert_allclose(op.matmat(V).numpy(), expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())


class _BatchNormConvNet(torch.nn.Module):
    """conv - BatchNorm - ReLU - pool - linear: a net whose curvature is taken in eval mode."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2),
        )  # fmt: skip

    def forward(self, X):
        return self.layers(X)


@pytest.fixture(scope="module")
def fitted_bn(fitted_cnn):
    from skorch import NeuralNetClassifier

    _, X, y = fitted_cnn
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        _BatchNormConvNet, criterion=torch.nn.CrossEntropyLoss, max_epochs=3, lr=0.05, train_split=None
    ).fit(X, y)
    return NetFunctions(net), X, y


@pytest.mark.parametrize("net", ["cnn", "batchnorm"])
@pytest.mark.parametrize("kept", [True, False])
def test_factor_products_equal_brute_force(fitted_cnn, fitted_bn, net, kept, monkeypatch):
    # the per-sample Gauss-Newton factors U_i = L_i^T J_i give J^T H J v, kept or recomputed in chunks
    from fairif_sklearn._influence import _curvature

    model, X, y = fitted_cnn if net == "cnn" else fitted_bn
    X, y = X[:12], y[:12]
    if not kept:
        monkeypatch.setattr(_curvature, "FACTOR_MEMORY", 3 * model.n_params() * 2 * 4)  # three rows a chunk
    with model.eval_mode():  # BatchNorm with its running statistics, as stage 1 takes it
        G = brute_force_ggn(model, X, y)
    op = CurvatureOperator(
        model, X, y, np.arange(len(y)), list(model.params), curvature="gauss_newton", damping=0.0,
        batch_size=5, products="factors",
    )  # fmt: skip
    forwards = []
    loss_factors = op._loss_factors
    monkeypatch.setattr(op, "_loss_factors", lambda x, y: forwards.append(len(y)) or loss_factors(x, y))
    V = torch.randn(3, G.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    expected = (V @ G).numpy()
    for _ in range(2):  # a second pass recomputes the factors only where they are not kept
        atol = 1e-4 * np.abs(expected).max()
        np.testing.assert_allclose(op.matmat(V).numpy(), expected, rtol=1e-3, atol=atol)
    assert forwards == [5, 5, 2]  # each batch's outputs once: not again for the memory estimate nor the pass
    assert (op._factors is not None) == kept
    if kept:  # two-class cross-entropy's loss Hessian has rank one: one factor a row, not two
        assert op._factors.shape == (len(y), G.shape[0])
    assert op._factor_bytes_per_row() == G.shape[0] * 4  # and the memory budget counts one (float32)


def test_factor_products_equal_jvp_products_on_a_subset_of_parameters(fitted):
    model, X, y, _ = fitted["mlp"]
    names = model.last_linear_names()
    ops = [
        CurvatureOperator(
            model, X, y, np.arange(50), names, curvature="gauss_newton", damping=0.1, batch_size=16,
            products=how,
        )
        for how in ("jvp", "factors")
    ]  # fmt: skip
    V = torch.randn(2, ops[0].n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(ops[1].matmat(V), ops[0].matmat(V), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_block_lanczos_finds_the_largest_eigenvalue(fitted, name):
    model, X, y, _ = fitted[name]
    G = brute_force_ggn(model, X[:60], y[:60])
    op = _gauss_newton(model, X[:60], y[:60], batch_size=32)
    top = float(torch.linalg.eigvalsh(G)[-1])
    # from below, and within 2% after four steps of four vectors (the defaults)
    estimate = op.largest_eigenvalue(4, 4, np.random.RandomState(0))
    assert top * 0.98 <= estimate <= top * (1 + 1e-4)


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_cg_with_auto_damping_solves_the_system_its_eigenvalue_sets(fitted, name):
    # brute force: the Gauss-Newton matrix in full, its largest eigenvalue, and the damped solve
    model, X, y, s = fitted[name]
    G = brute_force_ggn(model, X[:60], y[:60])
    op = _gauss_newton(model, X[:60], y[:60], batch_size=32)
    base = op.shift  # the weight decay alone
    B = torch.randn(4, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    X_cg, info, estimate = solve_cg_auto_damping(op, B, fraction=0.02, n_steps=4, tol=1e-2, maxiter=500)
    top = float(torch.linalg.eigvalsh(G)[-1])
    # Lanczos from the right-hand sides: from below, within 2% of the top
    assert top * 0.98 <= estimate <= top * (1 + 1e-4)
    assert op.shift == pytest.approx(base + 0.02 * estimate)
    # the residuals it reports (from the Lanczos basis, or CG's) are the true ones, within the tolerance
    assert info.converged, info
    true = torch.linalg.norm(op.matmat(X_cg) - B, dim=1) / torch.linalg.norm(B, dim=1)
    np.testing.assert_allclose(info.residual, true.numpy(), rtol=0.05, atol=2e-6)
    assert max(info.residual) <= 1e-2
    # and the solution is the damped system's, to that accuracy
    M = G + op.shift * torch.eye(len(G), dtype=torch.float64)
    exact = torch.linalg.solve(M, B.T).T
    cond = float(torch.linalg.cond(M))
    assert float(torch.linalg.norm(X_cg - exact) / torch.linalg.norm(exact)) <= 1e-2 * cond


def test_cg_with_auto_damping_continues_where_lanczos_stopped(fitted):
    # one Lanczos step cannot solve the MLP's system to 1e-5: CG carries on from its Galerkin solution
    model, X, y, _ = fitted["mlp"]
    op = _gauss_newton(model, X[:60], y[:60], batch_size=32)
    B = torch.randn(2, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    X_cg, info, _ = solve_cg_auto_damping(op, B, fraction=0.02, n_steps=1, tol=1e-5, maxiter=500)
    assert info.converged and min(info.n_iter) > 1
    direct = torch.linalg.solve(
        brute_force_ggn(model, X[:60], y[:60]) + op.shift * torch.eye(B.shape[1], dtype=torch.float64), B.T
    ).T
    assert float(torch.linalg.norm(X_cg - direct) / torch.linalg.norm(direct)) < 1e-3


def test_cg_with_auto_damping_on_zero_or_dependent_right_hand_sides(fitted):
    # a cell whose rate gradient is zero or repeats another's: no breakdown, the same solutions
    model, X, y, _ = fitted["mlp"]
    op = _gauss_newton(model, X[:60], y[:60], batch_size=32)
    b = torch.randn(model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    B = torch.stack([b, torch.zeros_like(b), 2 * b])
    X_cg, info, top = solve_cg_auto_damping(op, B, fraction=0.02, n_steps=4, tol=1e-6, maxiter=500)
    assert info.converged and np.isfinite(top) and top > 0
    assert torch.all(X_cg[1] == 0)
    torch.testing.assert_close(X_cg[2], 2 * X_cg[0], rtol=1e-6, atol=1e-9 * float(X_cg[0].abs().max()))
    zero = _gauss_newton(model, X[:60], y[:60], batch_size=32)
    X0, info0, top0 = solve_cg_auto_damping(
        zero, torch.zeros_like(B), fraction=0.02, n_steps=4, tol=1e-6, maxiter=5
    )
    assert top0 == 0.0 and info0.converged and torch.all(X0 == 0)


def test_default_stage1_damps_by_its_own_lanczos_steps(fitted):
    # the defaults (CG, Gauss-Newton, damping="auto"): the damping is 2% of the curvature's largest
    # eigenvalue on the curvature rows (here all of them), found with no product of its own, and the
    # directions solve the system that damping defines
    model, X, y, s = fitted["mlp"]
    result = influence_of(model, X, y, X, y, s, method="cg")
    info = result.diagnostics
    assert info["n_damping_products"] == 0 and result.n_curvature_rows == len(y)
    G = brute_force_ggn(model, X, y)
    top = float(torch.linalg.eigvalsh(G)[-1])
    assert top * 0.98 <= info["largest_eigenvalue"] <= top * (1 + 1e-4)
    assert result.damping == pytest.approx(0.02 * info["largest_eigenvalue"])
    shift = model.proximal_strength(result.damping)
    B = gaps_on(X, y, s).rates_and_gradients(model, list(model.params))[1].double()
    M = G + shift * torch.eye(len(G), dtype=torch.float64)
    residual = torch.linalg.norm(result.directions @ M - B, dim=1) / torch.linalg.norm(B, dim=1)
    assert float(residual.max()) <= 1.5e-2  # cg_tol=1e-2, and float32 products against float64


@pytest.mark.parametrize("settings", [{}, {"damping": 0.1, "method": "exact"}], ids=["cg", "exact"])
def test_stage_1_frees_its_curvature_products_without_the_cycle_collector(fitted, settings, monkeypatch):
    # the kept linearised batches' closures hold their operator: unless released after the solve,
    # each fit left the operator, with the training rows it reads and the kept products (on
    # CI-MNIST's MLP, 640 MB), for Python's cycle collector, and a process running many fits grew
    # by that much per fit until the collector ran
    import gc
    import weakref

    from fairif_sklearn._influence import _curvature

    made = []
    real_init = _curvature.CurvatureOperator.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(_curvature.CurvatureOperator, "__init__", init)
    model, X, y, s = fitted["mlp"]
    gc.collect()
    gc.disable()
    try:
        result = influence_of(model, X[:300], y[:300], X[300:], y[300:], s[300:], **settings)
        alive = [ref() is not None for ref in made]
    finally:
        gc.enable()
    assert np.isfinite(result.scores).all()
    assert made and not any(alive)


_FIT_IN_A_FRESH_PROCESS = """
import sys
import numpy as np
from fairif_sklearn import FairIFClassifier
from fairif_sklearn.nets import make_cnn_classifier, make_mlp_classifier
rng = np.random.RandomState(0)
if "{net}" == "mlp":
    X = rng.normal(size=(3000, 10)).astype(np.float32)
    net = make_mlp_classifier(10, hidden=(16,), max_epochs=3)
else:
    X = rng.normal(size=(600, 3, 8, 8)).astype(np.float32)
    net = make_cnn_classifier(channels=(4, 6), max_epochs=3)
s = (rng.uniform(size=len(X)) < 0.3).astype(float)
y = ((X.reshape(len(X), -1)[:, 0] + s + 0.5 * rng.normal(size=len(X))) > 0.5).astype(np.int64)
g = s.copy(); g[len(X) // 3:] = np.nan
clf = FairIFClassifier(net, max_rounds=1, random_state=0).fit(X, y, sensitive_features=g)
assert np.isfinite(clf.influence_scores_).all() and clf.influence_scores_.shape[1] == len(X) * 2 // 3
assert clf.influence_info_["scores_method"] == "{scores}", clf.influence_info_
print("forward-mode decompositions loaded:", "torch._decomp.decompositions_for_jvp" in sys.modules)
"""


@pytest.mark.slow  # a fresh interpreter: torch loads the decompositions once per process
@pytest.mark.parametrize("net, scores, forward_mode", [("mlp", "jvp", True), ("cnn", "per_sample", False)])
def test_a_fit_passes_under_warnings_as_errors(net, scores, forward_mode):
    """torch loads its forward-mode decompositions through ``torch.jit.script``, which it deprecates;
    a user's suite run with ``-W error`` must not fail on that warning inside a FairIF fit (it did).
    A conv net's stage 1 takes no forward-mode derivative (per-sample gradients, the loss's Hessian
    reverse over reverse) and does not load them at all (their compilation cost ~0.3 s a process)."""
    code = _FIT_IN_A_FRESH_PROCESS.format(net=net, scores=scores)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning", "-c", code],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"forward-mode decompositions loaded: {forward_mode}" in done.stdout, done.stdout


@pytest.mark.parametrize("category", [DeprecationWarning, FutureWarning])
def test_torch_s_warning_on_loading_the_forward_mode_decompositions_is_silenced(monkeypatch, category):
    """torch 2.13 warns with a DeprecationWarning, 2.14 with a FutureWarning (shown by default);
    neither reaches the user, and any other warning does."""
    from fairif_sklearn._influence._forward_mode import load_forward_mode

    def load(message="`torch.jit.script` is deprecated. Please switch to `torch.compile`."):
        warnings.warn(message, category, stacklevel=1)

    monkeypatch.setattr(torch.autograd.forward_ad, "_maybe_load_decompositions", load, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_forward_mode()
    monkeypatch.setattr(torch.autograd.forward_ad, "_maybe_load_decompositions", lambda: load("other"))
    with pytest.warns(category, match="other"):
        load_forward_mode()


def test_reverse_hessian_equals_the_softmax_cross_entropy_hessian():
    """The loss's Hessian in a row's outputs, reverse over reverse, against its closed form
    ``diag(p) - p p^T`` (three classes, one row of each class and a confident one)."""
    logits = torch.tensor([[0.3, -1.2, 2.0], [1.0, 1.0, -0.5], [-2.0, 0.1, 0.4], [9.0, -9.0, 0.0]])
    y = torch.tensor([0, 1, 2, 0])

    def loss(o, yi):
        return torch.nn.functional.cross_entropy(o[None], yi[None])

    H = torch.func.vmap(reverse_hessian(loss))(logits.double(), y)
    p = torch.softmax(logits.double(), dim=1)
    torch.testing.assert_close(H, torch.diag_embed(p) - p[:, :, None] * p[:, None, :])


# ------------------------------------------------------------- a user's sample_weight


@pytest.mark.parametrize(
    "net, curvature, products",
    [("mlp", "hessian", "jvp"), ("mlp", "gauss_newton", "jvp"), ("cnn", "gauss_newton", "factors")],
)
def test_weighted_curvature_equals_repeated_rows(fitted, fitted_cnn, net, curvature, products):
    """Integer loss weights give the curvature of the rows repeated that many times, in every way of
    computing its products (a subsample of rows, batches that split the repeats)."""
    model, X, y = (fitted["mlp"][:3]) if net == "mlp" else fitted_cnn
    X, y = X[:30], y[:30]
    weight = np.random.RandomState(0).randint(1, 4, size=len(y)).astype(float)
    rows = np.arange(0, len(y), 2)  # a subsample: the weighted mean over these rows
    repeated = np.repeat(rows, weight[rows].astype(int))
    common = dict(curvature=curvature, damping=0.01, batch_size=7, products=products)
    names = list(model.params)
    weighted = CurvatureOperator(model, X, y, rows, names, sample_weight=weight, **common)
    plain = CurvatureOperator(model, X[repeated], y[repeated], np.arange(len(repeated)), names, **common)
    V = torch.randn(3, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with model.eval_mode():
        expected = plain.matmat(V)
        torch.testing.assert_close(weighted.matmat(V), expected, rtol=1e-4, atol=1e-6 * expected.abs().max())


def test_weighted_rates_equal_repeated_rows_and_their_errors_a_weighted_mean(fitted):
    """Annotated rows' weights: the cells' rates and gradients are those of the rows repeated; the
    standard errors are a weighted mean's (by hand), equal to the unweighted ones under equal weights."""
    model, X, y, s = fitted["mlp"]
    X, y, s = X[:200], y[:200], s[:200]
    weight = np.random.RandomState(1).randint(1, 4, size=len(y)).astype(float)
    repeated = np.repeat(np.arange(len(y)), weight.astype(int))
    names = list(model.params)
    rates, G, stderr = gaps_on(X, y, s, batch_size=64).rates_and_gradients(model, names)
    weighted = AnnotatedGaps(X, y, s, ["0", "1"], *_rates_and_settings(), sample_weight=weight)
    w_rates, w_G, w_stderr = weighted.rates_and_gradients(model, names)
    r_rates, r_G, _ = gaps_on(X[repeated], y[repeated], s[repeated], batch_size=64).rates_and_gradients(
        model, names
    )
    np.testing.assert_allclose(w_rates, r_rates, rtol=1e-6)
    torch.testing.assert_close(w_G, r_G, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(weighted.values(model), weighted.D @ w_rates, rtol=1e-5)
    # by hand: cell TPR(1), the positives of group 1
    proba = model.proba(model.params, model.inputs(X, slice(None))).detach().double().numpy()
    cell = (y == 1) & (s == 1)
    v, w = proba[cell, 1], weight[cell]
    mean = (w * v).sum() / w.sum()
    se = np.sqrt((w**2 * (v - mean) ** 2).sum() / w.sum() ** 2 * cell.sum() / (cell.sum() - 1))
    index = weighted.rate_names.index("TPR(1)")
    np.testing.assert_allclose([w_rates[index], w_stderr[index]], [mean, se], rtol=1e-5)
    # equal weights, of any scale: the unweighted rates and standard errors
    equal = AnnotatedGaps(X, y, s, ["0", "1"], *_rates_and_settings(), sample_weight=np.full(len(y), 7.5))
    e_rates, e_stderr = equal.rates_and_errors(model)
    np.testing.assert_allclose(e_rates, rates, rtol=1e-6)
    np.testing.assert_allclose(e_stderr, stderr, rtol=1e-4)  # float32 sums of squares


def _rates_and_settings():
    """``rates, temperature, batch_size`` of :func:`gaps_on`'s defaults."""
    from fairif_sklearn._rates import target_rates

    return target_rates("equalized_odds", np.array([0, 1])), 1.0, 64
