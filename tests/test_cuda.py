"""Stage 1 and the estimators on a CUDA device; skipped where torch sees no GPU.

CI has no GPU: these run on a machine that has one (``pytest tests/test_cuda.py``).
"""

import copy
import pickle

import numpy as np
import pytest
import torch

from fairif_sklearn import FairIFClassifier
from fairif_sklearn._influence import influence_scores
from fairif_sklearn._skorch import NetFunctions
from fairif_sklearn.nets import make_mlp_classifier

from ._helpers import influence_of, small_net
from .test_influence import per_sample_gradients

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")


@pytest.fixture(scope="module")
def cpu_and_cuda(biased_data):
    """One MLP fitted on the CPU and an exact copy of it on the GPU."""
    X, y, s = biased_data
    torch.manual_seed(0)
    cpu = small_net(optimizer__weight_decay=1e-3).fit(X[:600], y[:600])
    cuda = copy.deepcopy(cpu)
    cuda.module_.to("cuda")
    cuda.set_params(device="cuda")
    return cpu, cuda, X[:600], y[:600], X[600:1000], y[600:1000], s[600:1000]


def test_model_lives_on_the_gpu(cpu_and_cuda):
    _, cuda, *_ = cpu_and_cuda
    model = NetFunctions(cuda)
    assert model.device.type == "cuda"
    assert all(p.is_cuda for p in model.params.values())


def test_jvp_scores_on_cuda_equal_explicit_gradient_dot_products(cpu_and_cuda):
    _, cuda, X, y, *_ = cpu_and_cuda
    model = NetFunctions(cuda)
    X, y = X[:200], y[:200]
    V = torch.randn(2, model.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    scores = influence_scores(model, X, y, list(model.params), V.to("cuda"), batch_size=64)
    expected = (V.to("cuda") @ per_sample_gradients(model, X, y).T).cpu().numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize(
    "kw",
    [
        dict(method="exact", curvature="gauss_newton"),
        dict(method="cg", curvature="gauss_newton"),
        dict(method="cg", curvature="hessian", damping=0.1),
        dict(method="last_layer"),
    ],
    ids=["exact", "cg-gn", "cg-hessian", "last_layer"],
)
def test_stage1_on_cuda_equals_stage1_on_cpu(cpu_and_cuda, kw):
    cpu, cuda, X, y, X_val, y_val, s_val = cpu_and_cuda
    results = [
        influence_of(NetFunctions(net), X, y, X_val, y_val, s_val, cg_tol=1e-8, **kw) for net in (cpu, cuda)
    ]
    np.testing.assert_allclose(results[1].gaps, results[0].gaps, rtol=1e-5, atol=1e-6)
    scale = np.abs(results[0].scores).max()
    np.testing.assert_allclose(results[1].scores, results[0].scores, rtol=1e-3, atol=1e-4 * scale)


def test_fairif_classifier_on_cuda(biased_data):
    X, y, s = biased_data
    net = make_mlp_classifier(X.shape[1], hidden=(16,), max_epochs=10, device="cuda")
    X_train, y_train = X[:1000], y[:1000]
    X_val, y_val, s_val = X[1000:], y[1000:], s[1000:]
    X_copy = X_train.copy()
    clf = FairIFClassifier(net, X_val=X_val, y_val=y_val, sensitive_val=s_val, random_state=0)
    clf.fit(X_train, y_train)

    assert net.device == "cuda" and not hasattr(net, "module_")  # the user's net is untouched
    np.testing.assert_array_equal(X_train, X_copy)
    assert all(p.is_cuda for p in clf.estimator_.module_.parameters())
    w = clf.sample_weight_
    assert w.shape == (1000,) and np.all(w >= 0) and np.isclose(w.mean(), 1.0)
    # influence promises a smaller gap than ERM's on the annotated set
    assert np.abs(clf.predicted_gaps_).max() < np.abs(clf.gaps_).max()

    proba = clf.predict_proba(X_val)
    assert proba.shape == (len(y_val), 2) and np.isfinite(proba).all()
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(again.predict_proba(X_val), proba, rtol=1e-6)

    # the same random_state gives the same weights on the GPU too
    other = FairIFClassifier(net, X_val=X_val, y_val=y_val, sensitive_val=s_val, random_state=0)
    np.testing.assert_allclose(other.fit(X_train, y_train).sample_weight_, w, rtol=1e-4, atol=1e-5)
