"""Differentiable group rates and the gaps FairIF closes.

A target is a set of rates (``TPR`` and ``TNR`` for equalized odds, ``TPR`` for
equal opportunity). The soft rate of group ``g`` is the mean, over the annotated
samples of that group and of the rate's class, of the predicted probability of
the true class, taken from a softmax of the log-probabilities with temperature
``tau`` (``tau = 1`` gives the model's own probabilities; smaller values approach
the hard rate).

Every soft rate is a ratio ``S / N`` of a differentiable sum ``S`` over samples
and a constant count ``N``, and every gap is linear in the sums. So the gaps and
their gradients are computed batch by batch from the sums, and a linear map
(:func:`gap_matrix`) turns sums into gaps.

With two groups each rate gives one gap, ``F(g1) - F(g0)``, as in the paper.
With more groups each (rate, group) pair gives one gap, ``F(g) - F(all)``,
against the rate pooled over all annotated samples.
"""

from __future__ import annotations

import numpy as np
import torch

from .._rates import RATE_CLASS


def soft_rate_sums(
    proba: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor,
    n_groups: int,
    rates: tuple[str, ...],
    temperature: float,
) -> torch.Tensor:
    """Sums of soft true-class probabilities, shape (n_rates * n_groups,).

    Parameters
    ----------
    proba : tensor of shape (batch, 2)
        Class probabilities.
    y : tensor of shape (batch,)
        Encoded target, 0 or 1.
    groups : tensor of shape (batch,)
        Group codes in ``range(n_groups)``.
    """
    logp = torch.log(proba.clamp_min(torch.finfo(proba.dtype).tiny))
    p = torch.softmax(logp / temperature, dim=1)
    onehot = torch.nn.functional.one_hot(groups.long(), n_groups).to(p.dtype)
    sums = []
    for rate in rates:
        c = RATE_CLASS[rate]
        mask = (y == c).to(p.dtype)
        sums.append((p[:, c] * mask) @ onehot)
    return torch.cat(sums)


def rate_counts(y: np.ndarray, groups: np.ndarray, n_groups: int, rates: tuple[str, ...]) -> np.ndarray:
    """Counts ``N`` matching :func:`soft_rate_sums`, shape (n_rates * n_groups,)."""
    return np.concatenate(
        [np.bincount(groups[y == RATE_CLASS[r]], minlength=n_groups) for r in rates]
    ).astype(float)


def gap_matrix(
    counts: np.ndarray, n_groups: int, rates: tuple[str, ...], group_names: list[str]
) -> tuple[np.ndarray, list[str]]:
    """The linear map from rate sums to gaps, and a name for each gap.

    Returns
    -------
    C : ndarray of shape (n_gaps, n_rates * n_groups)
        ``gaps = C @ sums``.
    names : list of str
    """
    rows, names = [], []
    for r_idx, rate in enumerate(rates):
        block = slice(r_idx * n_groups, (r_idx + 1) * n_groups)
        n = counts[block]
        if n_groups == 2:
            row = np.zeros(len(counts))
            row[block] = [-1.0 / n[0], 1.0 / n[1]]
            rows.append(row)
            names.append(f"{rate}({group_names[1]}) - {rate}({group_names[0]})")
            continue
        for g in range(n_groups):
            row = np.zeros(len(counts))
            row[block] = -1.0 / n.sum()
            row[r_idx * n_groups + g] += 1.0 / n[g]
            rows.append(row)
            names.append(f"{rate}({group_names[g]}) - {rate}(all)")
    return np.array(rows), names
