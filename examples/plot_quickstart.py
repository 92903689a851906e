"""
==========================================
Quickstart: a fairer net from one ``fit``
==========================================

A skorch net trained by ERM on data where one group is scarce has unequal
true-positive and true-negative rates across groups. :class:`~fairif_sklearn.FairIFClassifier`
measures those gaps on a small annotated set (the only rows whose group it
needs), finds by influence functions the sample weights that close them, and
fine-tunes the ERM model with those weights. This example fits it with its
defaults, reads its diagnostics, and shows which rows it up- and down-weights.
"""

# %%
# Biased data, and group labels for a few rows
# --------------------------------------------
# Group 1 is 15% of each class. We pretend to know the group of 1000 rows only;
# the others are marked missing with NaN. The annotated rows are held out of
# training and form the annotated set.
import matplotlib.pyplot as plt
import numpy as np

from fairif_sklearn import FairIFClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.metrics import average_odds_difference, equal_opportunity_difference
from fairif_sklearn.nets import make_mlp_classifier

X, y, s = make_biased_classification(6000, bias="group_size", random_state=0)
X_test, y_test, s_test = make_biased_classification(6000, bias="group_size", random_state=1)
groups = s.astype(float)
groups[1000:] = np.nan

# %%
# Fit
# ---
# Any skorch ``NeuralNetClassifier`` works; this one is a small MLP. Every
# parameter of ``FairIFClassifier`` but the seed is at its default: gaps are
# chased only when they exceed their noise (``tolerance="auto"``), and stage 2
# fine-tunes the ERM model (``retrain="finetune"``); a second round would run
# only if the fine-tune realised less than half of the predicted change.
net = make_mlp_classifier(X.shape[1], hidden=(16,))
clf = FairIFClassifier(net, random_state=0).fit(X, y, sensitive_features=groups)

for name, model in [("ERM", clf.erm_estimator_), ("FairIF", clf)]:
    pred = model.predict(X_test)
    print(
        f"{name:7s} accuracy {np.mean(pred == y_test):.4f}  "
        f"AOD {average_odds_difference(y_test, pred, sensitive_features=s_test):.4f}  "
        f"EOD {equal_opportunity_difference(y_test, pred, sensitive_features=s_test):.4f}"
    )

# %%
# Did influence work?
# -------------------
# ``gaps_`` are the soft-rate gaps on the annotated set at the ERM model and
# ``gaps_threshold_`` their noise threshold: FairIF reweights only if a gap
# exceeds it (``reweighted_``; otherwise it keeps the ERM model), and then aims
# to bring every gap within one standard error (``gaps_stderr_``).
# ``predicted_gaps_`` is what the weight solve expects after reweighting (to
# first order), ``final_gaps_`` what the gaps are after stage 2, and
# ``materialization_`` the share of the predicted change that materialised (for
# a gap that hardly had to move, a ratio of two small numbers that means little).
# :ref:`sphx_glr_auto_examples_plot_diagnose_and_select.py` draws these numbers
# and checks the choice on annotated rows that the fit did not use.
print(f"reweighted: {clf.reweighted_}")
for i, name in enumerate(clf.gap_names_):
    print(
        f"{name}: {clf.gaps_[i]:+.4f} (threshold {clf.gaps_threshold_[i]:.4f}) -> predicted "
        f"{clf.predicted_gaps_[i]:+.4f} -> after {clf.final_gaps_[i]:+.4f} "
        f"(materialization {clf.materialization_[i]:.2f})"
    )

# %%
# Whom does FairIF up-weight?
# ---------------------------
# The training rows have no group label, but this synthetic data set knows them:
# the mean weight per group and class shows FairIF up-weighting the positive
# rows of the scarce group, whose true-positive rate was the gap beyond noise.
train = clf.train_mask_
w, s_train, y_train = clf.sample_weight_[train], s[train], y[train]
cells = [(g, c) for g in (0, 1) for c in (0, 1)]
means = [w[(s_train == g) & (y_train == c)].mean() for g, c in cells]
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar([f"group {g}\nclass {c}" for g, c in cells], means, color=["C0", "C0", "C1", "C1"])
ax.axhline(1, color="grey", lw=1, ls="--")
ax.set_ylabel("mean sample weight")
ax.set_title("FairIF's weights by group and class")
fig.tight_layout()
plt.show()
for (g, c), mean in zip(cells, means, strict=True):
    print(f"group {g} class {c}: mean weight {mean:.3f}")
