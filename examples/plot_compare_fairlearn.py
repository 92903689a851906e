"""
==========================================
FairIF against fairlearn's mitigators
==========================================

fairlearn's mitigators need the group of the rows they learn from, and
``ThresholdOptimizer`` also the group of every row it predicts. FairIF needs
groups for a small annotated set only. This example runs each method with the
labels it can get when only the annotated set is labelled, and the fairlearn
ones also as an oracle with every training row's group, on the same skorch net.
Every method runs with its defaults except ``ExponentiatedGradient``'s number
of iterations (see below).
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

from fairif_sklearn import FairIFClassifier, WeightedNetClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.metrics import average_odds_difference
from fairif_sklearn.nets import make_mlp_classifier

X, y, s = make_biased_classification(6000, bias="group_shift", random_state=0)
X_val, y_val, s_val = X[:1500], y[:1500], s[:1500]  # the annotated set
X_tr, y_tr, s_tr = X[1500:], y[1500:], s[1500:]  # s_tr: for the oracles only
X_test, y_test, s_test = make_biased_classification(5000, bias="group_shift", random_state=1)


def net():
    return make_mlp_classifier(X.shape[1], hidden=(16,), max_epochs=10)


results = {}


def record(name, labels, pred):
    aod = average_odds_difference(y_test, pred, sensitive_features=s_test)
    results[f"{name}\n[{labels}]"] = (np.mean(pred == y_test), aod)


# %%
# FairIF and ERM: groups of the annotated set only. FairIF (with its defaults)
# reweights only if a gap on the annotated set exceeds its noise; here it does.
fairif = FairIFClassifier(net(), X_val=X_val, y_val=y_val, sensitive_val=s_val, random_state=0)
_ = fairif.fit(X_tr, y_tr)
print(f"FairIF reweighted: {fairif.reweighted_}")
record("ERM", "none", fairif.erm_estimator_.predict(X_test))
record("FairIF", "annotated", fairif.predict(X_test))

# %%
# ThresholdOptimizer post-processes an ERM net: thresholds per group, fitted on
# the annotated set or (oracle) on the training set; it needs the test rows'
# groups too. ``WeightedNetClassifier`` is the skorch net with a scikit-learn
# face (``sample_weight``, float64 probabilities), which fairlearn expects.
erm = WeightedNetClassifier(net(), random_state=0).fit(X_tr, y_tr)
for labels, (Xf, yf, sf) in (
    ("annotated + test", (X_val, y_val, s_val)),
    ("train + test", (X_tr, y_tr, s_tr)),
):
    post = ThresholdOptimizer(
        estimator=erm,
        constraints="equalized_odds",
        prefit=True,
        predict_method="predict_proba",
    ).fit(Xf, yf, sensitive_features=sf)
    record("ThresholdOptimizer", labels, post.predict(X_test, sensitive_features=s_test, random_state=0))

# %%
# ExponentiatedGradient retrains the net under an equalized-odds constraint; it
# can only learn from rows whose group it knows: the annotated set, or (oracle)
# the training set. ``WeightedNetClassifier`` gives the skorch net the
# ``sample_weight`` that the reduction needs.
#
# The reduction returns a randomized mixture of the nets it trained along the
# way (``weights_``): that of its iterate with the smallest duality gap
# (``best_gap_``). The net of its first iterate is the unconstrained one: the
# Lagrange multipliers start equal for the two sides of each constraint, which
# cancel, so it is trained with equal weights, and with the same seed it is the
# ERM net exactly. The multipliers then move slowly (a step of ``eta0 / B =
# 0.02`` with the defaults), and the next best response is often that net
# again. With ``max_iter=3`` on the training set, the best iterate here still
# puts two thirds of its weight on that net, with a duality gap near 2, far
# from converged; with 800 annotated rows of 5000 it put all its weight on it,
# and the result was the ERM model, accuracy and AOD alike. The
# linear-programming step over the nets trained so far finds constrained
# mixtures from the fourth iteration on; we run six (about three fits of the net
# per iteration). The gap printed below is still above fairlearn's convergence
# threshold (``nu``, 0.002 to 0.003 here), so more iterations would tighten the
# result further, at that cost per iteration.
for labels, (Xf, yf, sf) in (("annotated", (X_val, y_val, s_val)), ("train", (X_tr, y_tr, s_tr))):
    eg = ExponentiatedGradient(WeightedNetClassifier(net(), random_state=0), EqualizedOdds(), max_iter=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        eg.fit(Xf, yf, sensitive_features=sf)
    print(
        f"ExponentiatedGradient [{labels}]: {eg.n_oracle_calls_} fits of the net, duality gap "
        f"{eg.best_gap_:.4f}, a mixture of {int((eg.weights_ > 0).sum())} of them"
    )
    record("ExponentiatedGradient", labels, eg.predict(X_test, random_state=0))

# %%
# The test set's accuracy against AOD; the bracket says which group labels each
# method used.
fig, ax = plt.subplots(figsize=(6.5, 4.5))
for i, (name, (acc, aod)) in enumerate(results.items()):
    ax.scatter(aod, acc, s=60, color=f"C{i}", label=name.replace("\n", " "))
ax.set_xlabel("AOD on the test set (lower is fairer)")
ax.set_ylabel("accuracy on the test set")
ax.legend(fontsize=7, loc="lower right")
fig.tight_layout()
plt.show()
for name, (acc, aod) in results.items():
    print(f"{name.replace(chr(10), ' '):45s} accuracy {acc:.4f}  AOD {aod:.4f}")
