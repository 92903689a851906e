"""On a convex model, influence predicts what retraining with the weights does to the gaps.

Retraining and the gaps are measured with the private adapter and engine
(``fairif_sklearn._skorch``, ``fairif_sklearn._influence``), the same code the
estimators use, to compare prediction and outcome without a second copy.
"""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from fairif_sklearn import FairIFWeigher
from fairif_sklearn._skorch import NetFunctions, fit_net
from fairif_sklearn.datasets import make_biased_classification

from ._helpers import gaps_on, logreg_net

pytestmark = pytest.mark.slow


def _retrained_gaps(weigher, X, y, X_val, y_val, s_val, w):
    net = clone(weigher.estimator)
    torch.manual_seed(0)
    fit_net(net, X, y, w)
    return gaps_on(X_val, y_val, s_val).values(NetFunctions(net))


@pytest.mark.parametrize("seed", range(3))
def test_predicted_gap_change_matches_retraining(seed):
    X, y, s = make_biased_classification(
        700, bias=["group_size", "group_shift", "class_size"][seed], random_state=seed
    )
    X_val, y_val, s_val = X[500:], y[500:], s[500:]
    X, y = X[:500], y[:500]
    # logistic regression with L2, trained to convergence by full-batch gradient descent
    net = logreg_net(X.shape[1], weight_decay=1e-2, max_epochs=400, lr=2.0)
    weigher = FairIFWeigher(
        net,
        X_val=X_val,
        y_val=y_val,
        sensitive_val=s_val,
        alpha=3.0,
        tolerance=0.0,  # chase every gap, even one within the annotated set's noise
        influence="exact",
        damping=0.0,
        random_state=0,
    ).fit(X, y)
    assert weigher.influence_info_["method"] == "exact"
    assert np.ptp(weigher.sample_weight_) > 0.05, "the solve left the weights at one"
    n = len(y)
    a = weigher.influence_scores_ - weigher.influence_scores_.mean(axis=1, keepdims=True)
    rng = np.random.RandomState(seed)
    cases = {
        "solve": weigher.sample_weight_,
        "random": 1 + 0.3 * rng.uniform(-1, 1, n),
        "one group of rows": np.where(rng.uniform(size=n) < 0.3, 1.3, 1.0),
    }
    for name, w in cases.items():
        w = w / w.mean()
        predicted = -a @ (w - 1) / n
        actual = _retrained_gaps(weigher, X, y, X_val, y_val, s_val, w) - weigher.gaps_
        assert np.linalg.norm(actual - predicted) <= 0.15 * np.linalg.norm(actual), (name, predicted, actual)
    np.testing.assert_allclose(weigher.predicted_gaps_ - weigher.gaps_, -a @ (weigher.sample_weight_ - 1) / n)
