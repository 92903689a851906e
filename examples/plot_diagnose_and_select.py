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
# first 1500 rows only; ``sensitive_features`` marks the others missing with NaN.
# The annotated rows form the annotated set and are held out of training.
import matplotlib.pyplot as plt
import numpy as np

from fairif_sklearn import FairIFClassifier, FairIFClassifierCV
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.inspection import GapsDisplay, TradeoffDisplay, WeightsDisplay
from fairif_sklearn.metrics import average_odds_difference
from fairif_sklearn.nets import make_mlp_classifier

X, y, s = make_biased_classification(6000, bias="group_shift", random_state=0)
X_test, y_test, s_test = make_biased_classification(5000, bias="group_shift", random_state=1)
groups = s.astype(float)
groups[1500:] = np.nan


def net():
    return make_mlp_classifier(X.shape[1], hidden=(16,), max_epochs=10)


def report(name, model):
    pred = model.predict(X_test)
    aod = average_odds_difference(y_test, pred, sensitive_features=s_test)
    print(f"{name:8s} test accuracy {np.mean(pred == y_test):.4f}  AOD {aod:.4f}")


# %%
# Fit with the defaults
# ---------------------
# ``tolerance="auto"``: a gap is chased only if it exceeds its noise threshold
# (``gaps_threshold_``, a number of standard errors set for a 5% family-wise
# level), and is then closed to within one standard error. Stage 2 fine-tunes
# the ERM model with the new weights, as influence assumes.
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
# For each gap: the ERM model's value, the grey band of noise (a gap inside it is
# not chased), the gap influence predicts after reweighting (hatched) and the gap
# the reweighted model has. ``materialization_`` is the realised change over the
# predicted one: near 1, the first-order prediction held; near 0, the weights did
# not move the model (then the fit's ``rounds_`` or ``max_rounds`` help);
# above 1, it overshot.
_ = GapsDisplay.from_estimator(clf)
plt.show()

# %%
# Who is up- and down-weighted? ``WeightsDisplay``
# ------------------------------------------------
# On the left, the weights of the training rows by class: all FairIF knows of
# them. On the right, by class and group. The training rows' groups are unknown
# to FairIF; this synthetic data knows them, and we pass them for diagnosis
# only. The rows of the group that is rare in a class (group 1 in class 0,
# group 0 in class 1) get weights above one: FairIF finds them through their
# influence, without their labels.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
_ = WeightsDisplay.from_estimator(clf, y, ax=ax1)
_ = WeightsDisplay.from_estimator(clf, y, sensitive_features=s, ax=ax2)
ax2.set_title("by group (known here for diagnosis only)")
fig.tight_layout()
plt.show()

# %%
# Does it beat ERM on rows it did not use? ``FairIFClassifierCV``
# ---------------------------------------------------------------
# The annotated set both drives the weights and measures the gaps, so
# ``final_gaps_`` flatters the fit. :class:`~fairif_sklearn.FairIFClassifierCV`
# splits the annotated rows into folds, fits FairIF without each fold's rows
# and predicts them, for 0 rounds (the ERM model), 1 round and 2 rounds. It
# keeps a number of rounds only if its out-of-fold gap beats ERM's by more than
# twice the noise of that difference, without losing more than a point of
# accuracy; otherwise it keeps ERM.
cv = FairIFClassifierCV(FairIFClassifier(net(), random_state=0), cv=3, max_rounds=2)
cv.fit(X, y, sensitive_features=groups)
print(f"chosen rounds: {cv.n_rounds_}, reweighted: {cv.reweighted_}")
res = cv.cv_results_
for r, gap, se, acc in zip(res["rounds"], res["gap"], res["gap_diff_se"], res["accuracy"], strict=True):
    print(f"{r} round(s): out-of-fold AOD {gap:.4f} (difference with ERM: se {se:.4f}), accuracy {acc:.4f}")
report("chosen", cv)

# %%
# ``TradeoffDisplay`` draws these candidates: out-of-fold AOD against accuracy,
# with the standard error of each candidate's AOD difference with ERM as error
# bar. A point left of ERM by more than two of its error bars is a real
# improvement; overlapping points are not distinguishable on this annotated set.
_ = TradeoffDisplay.from_estimator(cv)
plt.show()

# %%
# When there is nothing to correct
# --------------------------------
# Now the annotated rows carry random "groups", unrelated to the data. Their
# gaps are noise: they stay inside the grey band, FairIF keeps the ERM model
# (``reweighted_`` is False, ``sample_weight_`` is all ones on the training rows)
# and the display shows no prediction.
random_groups = np.random.RandomState(0).randint(0, 2, size=len(y)).astype(float)
random_groups[1500:] = np.nan
null = FairIFClassifier(net(), random_state=0).fit(X, y, sensitive_features=random_groups)
print(f"reweighted: {null.reweighted_}")
for name, gap, threshold in zip(null.gap_names_, null.gaps_, null.gaps_threshold_, strict=True):
    print(f"{name}: ERM {gap:+.4f}, threshold {threshold:.4f}")
_ = GapsDisplay.from_estimator(null)
plt.show()
