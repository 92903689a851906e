"""
===========================================================
Tuning ``alpha`` with ``GridSearchCV`` and fairness scorers
===========================================================

``alpha`` (the paper's lambda, in a scale-free form) trades fairness for
fidelity to ERM: small values let the weights move far to close the gaps, large
values keep them near one. This example tunes it the scikit-learn way: a
``GridSearchCV`` whose scorers ``ad_scorer``, ``aod_scorer`` and ``eod_scorer``
receive each fold's group labels through metadata routing. With ``memory=``, the
ERM fit and the influence computation, which do not depend on ``alpha``, run once
per fold instead of once per grid point.
"""

# %%
# Data with group labels for a quarter of the rows
# ------------------------------------------------
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import sklearn
from sklearn.model_selection import GridSearchCV

from fairif_sklearn import FairIFClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.metrics import ad_scorer, aod_scorer, eod_scorer
from fairif_sklearn.model_selection import AnnotatedStratifiedKFold
from fairif_sklearn.nets import make_mlp_classifier

sklearn.set_config(enable_metadata_routing=True)

X, y, s = make_biased_classification(4000, bias="group_size", random_state=0)
groups = s.astype(float)
groups[np.random.RandomState(42).uniform(size=len(s)) > 0.25] = np.nan  # unknown groups

# %%
# The search
# ----------
# ``set_fit_request(sensitive_features=True)`` routes the groups to ``fit`` (the
# annotated rows of each training fold form its annotated set); the scorers and
# ``AnnotatedStratifiedKFold`` (which keeps annotated rows of every group and
# class on both sides of each fold) request them on their own. Scorers are
# negated gaps: higher is fairer.
net = make_mlp_classifier(X.shape[1], hidden=(16,), max_epochs=10)
cache = tempfile.mkdtemp(prefix="fairif_cache_")
clf = FairIFClassifier(net, memory=cache, random_state=0).set_fit_request(sensitive_features=True)
search = GridSearchCV(
    clf,
    {"alpha": [3.0, 1.0, 0.3, 0.1, 0.03, 0.01]},
    scoring={"accuracy": "accuracy", "AD": ad_scorer, "AOD": aod_scorer, "EOD": eod_scorer},
    refit=False,
    cv=AnnotatedStratifiedKFold(3, shuffle=True, random_state=0),
)
search.fit(X, y, sensitive_features=groups)

# %%
# The trade-off
# -------------
# Each point is one ``alpha``, averaged over the folds' held-out rows whose group
# is known (the scorers ignore the others).
res = search.cv_results_
alphas = np.array(res["param_alpha"], dtype=float)
acc = res["mean_test_accuracy"]
fig, ax = plt.subplots(figsize=(5.5, 4))
for metric, marker in (("AOD", "o"), ("EOD", "s"), ("AD", "^")):
    ax.plot(-res[f"mean_test_{metric}"], acc, marker=marker, label=metric)
for a, x, y_ in zip(alphas, -res["mean_test_AOD"], acc, strict=True):
    ax.annotate(f"{a:g}", (x, y_), textcoords="offset points", xytext=(4, 4), fontsize=8)
ax.set_xlabel("gap on held-out annotated rows (lower is fairer)")
ax.set_ylabel("accuracy")
ax.set_title("FairIF over alpha (labels: alpha)")
ax.legend()
fig.tight_layout()
plt.show()

for a, ac, aod in zip(alphas, acc, -res["mean_test_AOD"], strict=True):
    print(f"alpha={a:<5g} accuracy {ac:.4f}  AOD {aod:.4f}")

# %%
# Pick, for example, the fairest ``alpha`` within half a point of the best
# accuracy, and refit on everything.
ok = acc >= acc.max() - 0.005
best = alphas[ok][np.argmin(-res["mean_test_AOD"][ok])]
final = clf.set_params(alpha=best).fit(X, y, sensitive_features=groups)
print("chosen alpha:", best)
sklearn.set_config(enable_metadata_routing=False)
