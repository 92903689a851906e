"""
=========================================
Which samples does FairIF up-weight?
=========================================

FairIF's weights come from influence, not from group labels, yet on biased data
they line up with the groups: the paper's Appendix D finds that FairIF
up-weights the under-represented group and down-weights majority-group samples
that push the model towards the bias. ``FairIFWeigher`` computes the weights
alone (stage 1, without the weighted fit); here we look at them by group and
class, which this synthetic data set knows for every row.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from fairif_sklearn import FairIFWeigher
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.nets import make_mlp_classifier

X, y, s = make_biased_classification(6000, bias="group_size", random_state=0)
X_val, y_val, s_val = X[:1500], y[:1500], s[:1500]  # the annotated set
X_tr, y_tr, s_tr = X[1500:], y[1500:], s[1500:]  # s_tr: for this diagnosis only

# %%
# The weights, with the defaults
# ------------------------------
# With ``tolerance="auto"`` the weights are the smallest change from one that
# brings every gap within one standard error of zero (to first order), and they
# are computed only if some gap is beyond its noise threshold (``reweighted_``).
net = make_mlp_classifier(X.shape[1], hidden=(16,), max_epochs=10)
weigher = FairIFWeigher(net, X_val=X_val, y_val=y_val, sensitive_val=s_val, random_state=0)
w = weigher.fit(X_tr, y_tr).sample_weight_
print(f"reweighted: {weigher.reweighted_}")
for i, name in enumerate(weigher.gap_names_):
    print(
        f"{name}: {weigher.gaps_[i]:+.4f} at ERM (threshold {weigher.gaps_threshold_[i]:.4f}), "
        f"{weigher.predicted_gaps_[i]:+.4f} predicted after reweighting"
    )

# %%
# The distribution of the weights in each (group, class) cell: the scarce group
# 1 is pushed above one, the majority's cells slightly below.
cells = [(g, c) for g in (0, 1) for c in (0, 1)]
data = [w[(s_tr == g) & (y_tr == c)] for g, c in cells]
labels = [f"group {g}\nclass {c}\n(n={len(d)})" for (g, c), d in zip(cells, data, strict=True)]
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.violinplot(data, showmedians=True)
ax.set_xticks(range(1, 5), labels, fontsize=8)
ax.axhline(1, color="grey", lw=1, ls="--")
ax.set_ylabel("sample weight")
ax.set_title("weights by group and class")
fig.tight_layout()
plt.show()

# %%
# Most weight changes are small; a few rows move a lot. Which rows are they?
# Sorting rows by weight shows how the group mix changes from the down-weighted
# to the up-weighted end: group 1 is 15% of the training rows, but more than
# half of the most up-weighted tenth.
order = np.argsort(w)
share = [np.mean(s_tr[b] == 1) for b in np.array_split(order, 10)]
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.bar(range(1, 11), share, color="C1")
ax.axhline(np.mean(s_tr == 1), color="grey", lw=1, ls="--", label="share in training data")
ax.set_xlabel("weight decile (1 = lowest weights)")
ax.set_ylabel("share of group 1")
ax.set_title("group 1 among the rows by weight")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
print("share of group 1 per decile: " + ", ".join(f"{v:.2f}" for v in share))

# %%
# For comparison (not the default): the paper's penalty form
# -----------------------------------------------------------
# Setting ``alpha`` replaces the bound by the paper's penalty on ``||w - 1||^2``:
# small values close the gaps almost completely, at the cost of larger weights.
# ``reweight`` solves it from the fitted influence scores, without a new fit.
# The same cells move, further.
w_alpha, predicted_alpha = weigher.reweight(alpha=0.03)
print("predicted gaps with alpha=0.03: " + ", ".join(f"{g:+.4f}" for g in predicted_alpha))
print(f"{'cell':18s} {'default':>26s} {'alpha=0.03 (penalty form)':>28s}")
for (g, c), d in zip(cells, data, strict=True):
    d_alpha = w_alpha[(s_tr == g) & (y_tr == c)]
    figures = []
    for v in (d, d_alpha):
        low, high = np.quantile(v, [0.1, 0.9])
        figures.append(f"mean {v.mean():.3f} [{low:.3f}, {high:.3f}]")
    print(f"group {g} class {c}:   {figures[0]:>26s} {figures[1]:>28s}")
print("(brackets: the 10% and 90% quantiles of the cell's weights)")
