"""
=========================================
Which samples does FairIF up-weight?
=========================================

FairIF's weights come from influence, not from group labels, yet on biased data
they line up with the groups: the paper's Appendix D finds that FairIF
up-weights the under-represented group and down-weights majority-group samples
that push the model towards the bias. ``FairIFWeigher`` computes the weights
alone; here we look at them by group and class, which this synthetic data set
knows for every row.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from fairif_sklearn import FairIFWeigher
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.nets import make_mlp_classifier

X, y, s = make_biased_classification(6000, bias="group_size", random_state=0)
X_val, y_val, s_val = X[:1000], y[:1000], s[:1000]
X_tr, y_tr, s_tr = X[1000:], y[1000:], s[1000:]

net = make_mlp_classifier(X.shape[1], hidden=(16,), max_epochs=10)
weigher = FairIFWeigher(net, X_val=X_val, y_val=y_val, sensitive_val=s_val, alpha=0.03, random_state=0)
w = weigher.fit(X_tr, y_tr).sample_weight_
print("gaps at ERM:", dict(zip(weigher.gap_names_, np.round(weigher.gaps_, 4), strict=True)))
print(
    "predicted after reweighting:",
    dict(zip(weigher.gap_names_, np.round(weigher.predicted_gaps_, 4), strict=True)),
)

# %%
# The distribution of the weights in each (group, class) cell: the scarce group
# 1 is pushed above one, the majority's cells spread on both sides.
cells = [(g, c) for g in (0, 1) for c in (0, 1)]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
data = [w[(s_tr == g) & (y_tr == c)] for g, c in cells]
labels = [f"group {g}\nclass {c}\n(n={len(d)})" for (g, c), d in zip(cells, data, strict=True)]
ax1.violinplot(data, showmedians=True)
ax1.set_xticks(range(1, 5), labels, fontsize=8)
ax1.axhline(1, color="grey", lw=1, ls="--")
ax1.set_ylabel("sample weight")
ax1.set_title("weights by group and class")

# %%
# Most weight changes are small; a few rows move a lot. Which rows are they?
# Sorting rows by weight shows how the group mix changes from the down-weighted
# to the up-weighted end.
order = np.argsort(w)
bins = np.array_split(order, 10)
share = [np.mean(s_tr[b] == 1) for b in bins]
ax2.bar(range(1, 11), share, color="C1")
ax2.axhline(np.mean(s_tr == 1), color="grey", lw=1, ls="--", label="share in training data")
ax2.set_xlabel("weight decile (1 = lowest weights)")
ax2.set_ylabel("share of group 1")
ax2.set_title("group 1 among the rows by weight")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

for (g, c), d in zip(cells, data, strict=True):
    low, high = np.quantile(d, [0.1, 0.9])
    print(f"group {g} class {c}: mean weight {d.mean():.3f}, 10-90% [{low:.3f}, {high:.3f}]")
