"""
=====================================================
A ``Pipeline`` with partially annotated group labels
=====================================================

Real data needs preprocessing, and group labels are usually known for a few rows
only. Give ``FairIFClassifier`` the labels as ``sensitive_features``, aligned
with ``X``, with the unknown ones missing (NaN, None or -1): the annotated rows
become the annotated set (held out of training by default), and everything a
``Pipeline`` does to ``X``, such as scaling, reaches them too.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import sklearn
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fairif_sklearn import FairIFClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.metrics import average_odds_difference, equal_opportunity_difference
from fairif_sklearn.nets import make_mlp_classifier

sklearn.set_config(enable_metadata_routing=True)

X, y, s = make_biased_classification(6000, bias="group_size", random_state=0)
X = X * np.linspace(1, 50, X.shape[1]) + 10  # features on very different scales
X_train, X_test, y_train, y_test, s_train, s_test = train_test_split(X, y, s, test_size=0.5, random_state=0)

# group labels as strings, known for 30% of the training rows
rng = np.random.RandomState(42)
groups = np.where(s_train == 1, "minority", "majority").astype(object)
groups[rng.uniform(size=len(groups)) > 0.3] = None
n_annotated = int(np.sum(groups != None))  # noqa: E711
print(f"{n_annotated} of {len(groups)} training rows annotated")

# %%
# The pipeline: the scaler is fitted on all training rows, then FairIF (with its
# defaults) trains on the unannotated ones and measures the gaps on the
# annotated ones. It reweights only if a gap exceeds its noise threshold
# (``reweighted_``; otherwise the ERM model is kept and ``final_gaps_`` equals
# ``gaps_``).
net = make_mlp_classifier(X.shape[1], hidden=(16,), max_epochs=10)
fairif = FairIFClassifier(net, random_state=0).set_fit_request(sensitive_features=True)
pipe = make_pipeline(StandardScaler(), fairif)
_ = pipe.fit(X_train, y_train, sensitive_features=groups)

model = pipe[-1]
print(f"trained on {int(model.train_mask_.sum())} rows; annotated groups: {', '.join(model.groups_)}")
print(f"reweighted: {model.reweighted_}")
for i, name in enumerate(model.gap_names_):
    print(
        f"annotated-set gap {name}: {model.gaps_[i]:+.4f} at ERM (threshold "
        f"{model.gaps_threshold_[i]:.4f}), {model.final_gaps_[i]:+.4f} after reweighting"
    )

# %%
# ERM against FairIF on the test rows (whose groups we know here to measure).
# One split with under a thousand annotated rows is noisy: the benchmark
# (``fairif-bench``) averages such comparisons over seeds, and
# ``FairIFClassifierCV`` (which fits in a ``Pipeline`` the same way) checks on
# held-out annotated rows whether reweighting beats ERM at all.
# ``erm_estimator_`` is the plain skorch net: it takes the scaled rows as float32.
Z_test = pipe[0].transform(X_test).astype(np.float32)
scores = {}
for name, pred in (("ERM", model.erm_estimator_.predict(Z_test)), ("FairIF", pipe.predict(X_test))):
    scores[name] = (
        average_odds_difference(y_test, pred, sensitive_features=s_test),
        equal_opportunity_difference(y_test, pred, sensitive_features=s_test),
    )
    aod, eod = scores[name]
    print(f"{name:7s} accuracy {np.mean(pred == y_test):.4f}  AOD {aod:.4f}  EOD {eod:.4f}")

fig, ax = plt.subplots(figsize=(5, 3))
for k, (name, values) in enumerate(scores.items()):
    ax.bar(np.arange(2) + 0.4 * k, values, width=0.4, label=name)
ax.set_xticks(np.arange(2) + 0.2, ["AOD", "EOD"])
ax.set_ylabel("gap on the test set")
ax.legend()
fig.tight_layout()
plt.show()
sklearn.set_config(enable_metadata_routing=False)
