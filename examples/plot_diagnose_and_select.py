"""
=====================================================
Diagnosing a FairIF fit and choosing it honestly
=====================================================

A FairIF fit makes three claims: the ERM model's gaps on the annotated set are
real (beyond their noise), influence predicts how far reweighting closes them,
and the reweighted model delivers that change. This example reads each claim off
a fitted :class:`~fairif_sklearn.FairIFClassifier` with the displays of
:mod:`fairif_sklearn.inspection`, then lets
:class:`~fairif_sklearn.FairIFClassifierCV` decide on annotated rows no fit saw
whether reweighting beats ERM at all, and ends with data whose "groups" are
random, where FairIF rightly keeps the ERM model.
"""

# %%
# Biased data with a few annotated rows
# -------------------------------------
# With ``bias="group_shift"`` group 1 is 15% of class 0 and 85% of class 1, so
# an ERM model treats the groups' rates differently. We know the group of the
# first 2000 rows only; ``sensitive_features`` marks the others missing with NaN.
# The annotated rows form the annotated set and are held out of training.
import matplotlib.pyplot as plt
import numpy as np

from fairif_sklearn import FairIFClassifier, FairIFClassifierCV
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.inspection import GapsDisplay, TradeoffDisplay, WeightsDisplay
from fairif_sklearn.metrics import average_odds_difference
from fairif_sklearn.nets import make_mlp_classifier

X, y, s = make_biased_classification(8000, bias="group_shift", random_state=0)
X_test, y_test, s_test = make_biased_classification(5000, bias="group_shift", random_state=1)
groups = s.astype(float)
groups[2000:] = np.nan


def net():
    return make_mlp_classifier(X.shape[1], hidden=(16,), max_epochs=10)


def report(name, model):
    pred = model.predict(X_test)
    aod = average_odds_difference(y_test, pred, sensitive_features=s_test)
    print(f"{name:8s} test accuracy {np.mean(pred == y_test):.4f}  AOD {aod:.4f}")


# %%
# Fit with the defaults
# ---------------------
# Every parameter but the seed at its default. ``tolerance="auto"``: a gap is
# chased only if it exceeds its noise threshold (``gaps_threshold_``: so many
# standard errors, ``gaps_stderr_``, that all gaps together stay within noise at
# a 5% family-wise level), and it is then closed to within one standard error.
# ``retrain="finetune"``: stage 2 fine-tunes the ERM model with the new weights,
# the change that influence predicts. ``max_rounds="auto"``: one weight solve,
# and a second, re-linearised where the fine-tune ended, only if the first
# realised less than half of the change it predicted for a chased gap.
clf = FairIFClassifier(net(), random_state=0).fit(X, y, sensitive_features=groups)
print(f"reweighted: {clf.reweighted_}")
for i, name in enumerate(clf.gap_names_):
    print(
        f"{name}: ERM {clf.gaps_[i]:+.4f} (threshold {clf.gaps_threshold_[i]:.4f}), "
        f"predicted {clf.predicted_gaps_[i]:+.4f}, realised {clf.final_gaps_[i]:+.4f}, "
        f"materialization {clf.materialization_[i]:.2f}"
    )
report("ERM", clf.erm_estimator_)
report("FairIF", clf)

# %%
# Did influence deliver? ``GapsDisplay``
# --------------------------------------
# For each gap on the annotated set: its value at the ERM model (blue), the grey
# band of noise (a gap inside it is not chased), the value that influence
# predicts after reweighting (hatched) and the value at the reweighted model
# (green). ``materialization_`` is the realised change over the predicted one,
# per gap: near 1, the first-order prediction held; between 0 and 1, the model
# moved the right way but less far than predicted (below one half, the default
# runs a second round, re-linearised at the new model); near 0 or
# negative, influence did not describe this net, and the weights should not be
# trusted. Here both ERM gaps are beyond the band, and about four fifths of the
# predicted change materialised, which brings both gaps inside it.
_ = GapsDisplay.from_estimator(clf)
plt.show()

# %%
# Who is up- and down-weighted? ``WeightsDisplay``
# ------------------------------------------------
# The histograms of the training rows' weights (1: as in ERM; a log scale shows
# the few rows that move far). On the left, by class: all that FairIF knows of
# these rows. On the right, by class and group. FairIF needs no group for a
# training row, and a real data set would not have them; this synthetic one
# does, and we pass them for diagnosis only. Most weights stay near one; the
# means in the legend show that the rows of the group that is rare in their
# class (group 1 in class 0, group 0 in class 1) are up-weighted, and the others
# slightly down-weighted: FairIF found them through their influence on the
# annotated set's gaps, not through their labels. A picture where a few rows
# carry very large weights, or where the weights follow the class only, is a
# reason to look closer before trusting the fit.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
_ = WeightsDisplay.from_estimator(clf, y, ax=ax1)
_ = WeightsDisplay.from_estimator(clf, y, sensitive_features=s, ax=ax2)
ax2.set_title("by class and group (oracle groups, for diagnosis only)")
for ax in (ax1, ax2):
    ax.set_yscale("log")
fig.tight_layout()
plt.show()

# %%
# Does it beat ERM on rows it did not use? ``FairIFClassifierCV``
# ---------------------------------------------------------------
# The annotated set both drives the weights and measures the gaps above, so
# ``final_gaps_`` flatters the fit, and the test set we used to check it is a
# luxury of synthetic data. :class:`~fairif_sklearn.FairIFClassifierCV` judges
# FairIF on annotated rows that no fit used: it splits the annotated rows into
# ``cv=3`` folds (by group and class), fits FairIF without each fold's rows and
# predicts them, for 0 rounds (the ERM model) up to ``max_rounds=2`` rounds (its
# defaults). It keeps a number of rounds only if its out-of-fold AOD beats ERM's
# by more than twice the standard error of the difference, and its accuracy is
# not below ERM's by both more than a point (``max_accuracy_drop=0.01``) and more
# than noise; otherwise it keeps ERM, and ``reweighted_`` is False. The chosen
# number of rounds is then refitted on all the data (``best_estimator_``).
cv = FairIFClassifierCV(FairIFClassifier(net(), random_state=0))
cv.fit(X, y, sensitive_features=groups)
print(f"chosen rounds: {cv.n_rounds_}, reweighted: {cv.reweighted_}")
res = cv.cv_results_
for r, gap, se, acc in zip(res["rounds"], res["gap"], res["gap_diff_se"], res["accuracy"], strict=True):
    noise = "the ERM model" if r == 0 else f"standard error of the difference with ERM {se:.4f}"
    print(f"{r} round(s): out-of-fold AOD {gap:.4f}, accuracy {acc:.4f} ({noise})")
report("chosen", cv)

# %%
# ``TradeoffDisplay`` draws these candidates: out-of-fold AOD against accuracy,
# with the standard error of each candidate's AOD difference with ERM as error
# bar. A point left of ERM by more than two of its error bars is an improvement
# beyond noise; one within them is not distinguishable from ERM on this many
# annotated rows, and ``FairIFClassifierCV`` would keep ERM. Two rounds land on
# one round here: a second round runs only while a gap is still beyond its noise,
# and after the first none was.
_ = TradeoffDisplay.from_estimator(cv)
plt.show()

# %%
# When there is nothing to correct
# --------------------------------
# Now the annotated rows carry random "groups", unrelated to the data. Their
# gaps are noise: they stay inside the grey band, FairIF keeps the ERM model
# (``reweighted_`` is False, ``sample_weight_`` is one on every training row)
# and the display has no prediction to show.
random_groups = np.random.RandomState(0).randint(0, 2, size=len(y)).astype(float)
random_groups[2000:] = np.nan
null = FairIFClassifier(net(), random_state=0).fit(X, y, sensitive_features=random_groups)
print(f"reweighted: {null.reweighted_}")
print(f"all training weights one: {bool(np.all(null.sample_weight_[null.train_mask_] == 1))}")
for name, gap, threshold in zip(null.gap_names_, null.gaps_, null.gaps_threshold_, strict=True):
    print(f"{name}: ERM {gap:+.4f}, threshold {threshold:.4f}")
_ = GapsDisplay.from_estimator(null)
plt.show()

# %%
# For comparison (not the default): without the noise threshold,
# ``tolerance=0.0`` closes every gap, noise included. It reweights these random
# groups too and changes the model, for no real reason.
chase = FairIFClassifier(net(), tolerance=0.0, random_state=0)
chase.fit(X, y, sensitive_features=random_groups)
w = chase.sample_weight_[chase.train_mask_]
print(f"tolerance=0.0: reweighted: {chase.reweighted_}, weights from {w.min():.2f} to {w.max():.2f}")
print("gaps after reweighting: " + ", ".join(f"{g:+.4f}" for g in chase.final_gaps_))
