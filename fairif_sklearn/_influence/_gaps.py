"""Differentiable group rates and the gaps FairIF closes.

A target is a set of rates (``TPR`` and ``TNR`` for equalized odds, ``TPR`` for
equal opportunity, ``PPR`` for demographic parity, ``ACC`` for accuracy parity;
see :mod:`fairif_sklearn._rates`). The soft rate of group ``g`` is the mean, over
the annotated samples of that group (and of the rate's class, for TPR and TNR),
of the predicted probability of the true class (of the positive class, for PPR),
taken from a softmax of the log-probabilities with temperature ``tau`` (``tau =
1`` gives the model's own probabilities; smaller values approach the hard rate).

Every soft rate is a ratio ``S / N`` of a differentiable sum ``S`` over samples
and a constant count ``N``, and every gap is linear in the sums. So the gaps and
their gradients are computed batch by batch from the sums, and a linear map
(:func:`gap_matrix`) turns sums into gaps.

With two groups each rate gives one gap, ``F(g1) - F(g0)``, as in the paper.
With more groups each (rate, group) pair gives one gap, ``F(g) - F(all)``,
against the rate pooled over all annotated samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._rates import Rate


def soft_rate_sums(
    proba: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor,
    n_groups: int,
    rates: tuple[Rate, ...],
    temperature: float,
    power: int = 1,
) -> torch.Tensor:
    """Sums of soft true-class probabilities (to ``power``), shape (n_rates * n_groups,).

    Parameters
    ----------
    proba : tensor of shape (batch, n_classes)
        Class probabilities.
    y : tensor of shape (batch,)
        Class codes.
    groups : tensor of shape (batch,)
        Group codes in ``range(n_groups)``.
    """
    logp = torch.log(proba.clamp_min(torch.finfo(proba.dtype).tiny))
    p = torch.softmax(logp / temperature, dim=1)
    onehot = torch.nn.functional.one_hot(groups.long(), n_groups).to(p.dtype)
    p_true = p.gather(1, y.long().reshape(-1, 1))[:, 0]
    sums = []
    for rate in rates:
        mask = torch.ones_like(p_true) if rate.rows is None else (y == rate.rows).to(p.dtype)
        value = p_true if rate.predicted is None else p[:, rate.predicted]
        sums.append((value**power * mask) @ onehot)
    return torch.cat(sums)


def rate_counts(y: np.ndarray, groups: np.ndarray, n_groups: int, rates: tuple[Rate, ...]) -> np.ndarray:
    """Counts ``N`` matching :func:`soft_rate_sums`, shape (n_rates * n_groups,)."""
    rows = [np.ones(len(y), bool) if r.rows is None else y == r.rows for r in rates]
    return np.concatenate([np.bincount(groups[m], minlength=n_groups) for m in rows]).astype(float)


def gap_matrix(
    counts: np.ndarray, n_groups: int, rates: tuple[Rate, ...], group_names: list[str]
) -> tuple[np.ndarray, list[str]]:
    """The linear map from rate sums to gaps, and a name for each gap.

    Returns
    -------
    C : ndarray of shape (n_gaps, n_rates * n_groups)
        ``gaps = C @ sums``.
    names : list of str
    """
    rows, names = [], []
    for r_idx, rate in enumerate(r.name for r in rates):
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


@dataclass
class AnnotatedGaps:
    """The soft-rate gaps of a target on an annotated set, as functions of a model.

    Parameters
    ----------
    X_val, y_val, g_val
        The annotated rows, their 0/1 classes and group codes in
        ``range(len(group_names))``.
    group_names : list of str
    rates : tuple of Rate
        The target's rates (:func:`fairif_sklearn._rates.target_rates`).
    temperature : float
    batch_size : int
    """

    X_val: object
    y_val: np.ndarray
    g_val: np.ndarray
    group_names: list[str]
    rates: tuple[Rate, ...]
    temperature: float
    batch_size: int

    def __post_init__(self):
        self.counts = rate_counts(self.y_val, self.g_val, len(self.group_names), self.rates)
        self.C, self.names = gap_matrix(self.counts, len(self.group_names), self.rates, self.group_names)
        # gaps = C @ sums = D @ rates, with rates = sums / counts: one per (rate, group) cell
        self.D = self.C * self.counts
        self.rate_names = [f"{rate.name}({group})" for rate in self.rates for group in self.group_names]

    def _sums(self, model, names, with_jacobian=False, with_squares=False):
        """Soft rate sums over the annotated set, in one pass: ``(sums, squares, jacobian)``, the sums of
        the squared soft values (``with_squares``) and the sums' Jacobian in ``names``
        (``with_jacobian``) None unless asked for."""
        sub = {k: model.params[k] for k in names}
        fixed = {k: v for k, v in model.params.items() if k not in sub}
        n_groups = len(self.group_names)
        sums = torch.zeros(len(self.counts), dtype=torch.float64, device=model.device)
        squares = torch.zeros_like(sums) if with_squares else None
        jac = None
        if with_jacobian:
            n_sub = sum(t.numel() for t in sub.values())
            jac = torch.zeros(len(self.counts), n_sub, dtype=torch.float64, device=model.device)
        with model.eval_mode():
            for rows, x, yb in model.batches(self.X_val, self.y_val, None, self.batch_size):
                gb = torch.as_tensor(self.g_val[rows], device=model.device)

                def batch_sums(s, x=x, yb=yb, gb=gb, power=1):
                    proba = model.proba({**fixed, **s}, x)
                    return soft_rate_sums(proba, yb, gb, n_groups, self.rates, self.temperature, power)

                with torch.no_grad():
                    proba = model.proba(model.params, x)
                    sums += soft_rate_sums(proba, yb, gb, n_groups, self.rates, self.temperature).double()
                    if with_squares:
                        squares += soft_rate_sums(
                            proba, yb, gb, n_groups, self.rates, self.temperature, power=2
                        ).double()
                if with_jacobian:
                    jac += self._batch_jacobian(sub, x, yb, gb, batch_sums)
        return sums, squares, jac

    @staticmethod
    def _batch_jacobian(sub, x, yb, gb, batch_sums) -> torch.Tensor:
        """The Jacobian of a batch's cell sums in ``sub``, shape (n_cells, p).

        A backward pass per cell and per (class, group) block of rows: a row adds to the cells of
        its class and group only (one, for the rates FairIF compares), so the passes together cost
        about one backward pass over the batch (a vmapped Jacobian is slow through convolutions).
        """
        live = {k: v.detach().requires_grad_(True) for k, v in sub.items()}
        jac = None
        with torch.enable_grad():
            blocks = np.stack([yb.cpu().numpy(), gb.cpu().numpy()], axis=1)
            for block in np.unique(blocks, axis=0):
                rows = torch.as_tensor(np.flatnonzero((blocks == block).all(axis=1)), device=yb.device)
                xs = x[rows] if torch.is_tensor(x) else {k: v[rows] for k, v in x.items()}
                cells = batch_sums(live, x=xs, yb=yb[rows], gb=gb[rows])
                if jac is None:
                    n_sub = sum(t.numel() for t in live.values())
                    jac = torch.zeros(len(cells), n_sub, dtype=torch.float64, device=cells.device)
                touched = [
                    c for c in range(len(cells)) if cells[c].requires_grad and float(cells[c].detach()) != 0.0
                ]
                for i, c in enumerate(touched):
                    grads = torch.autograd.grad(
                        cells[c], list(live.values()), retain_graph=i + 1 < len(touched), allow_unused=True
                    )
                    jac[c] += torch.cat(
                        [
                            (torch.zeros_like(t) if g is None else g).reshape(-1)
                            for g, t in zip(grads, live.values(), strict=True)
                        ]
                    ).double()
        return jac

    def values(self, model) -> np.ndarray:
        """The gaps at the model's parameters, shape (k,)."""
        return self.D @ self.rates_of(model)

    def rates_of(self, model) -> np.ndarray:
        """Each (rate, group) cell's soft rate at the model's parameters, shape (n_cells,)."""
        sums, _, _ = self._sums(model, [])
        return sums.cpu().numpy() / self.counts

    def standard_errors(self, model) -> tuple[np.ndarray, np.ndarray]:
        """The standard errors over the draw of the annotated rows: of each gap, shape (k,), and of
        each cell's rate, shape (n_cells,).

        A cell's rows are independent draws, so its rate's variance is ``s**2 / n``
        with ``s**2`` the cell's sample variance of the soft values; a gap is a
        linear combination ``D @ rates`` of the cells' rates, so its variance is
        ``sum over cells of D**2 * s**2 / n``.
        """
        sums, squares, _ = self._sums(model, [], with_squares=True)
        n = self.counts
        mean = sums.cpu().numpy() / n
        var = np.maximum((squares.cpu().numpy() / n - mean**2) * n / np.maximum(n - 1, 1), 0.0) / n
        return np.sqrt((self.D**2) @ var), np.sqrt(var)

    def rates_and_gradients(self, model, names) -> tuple[np.ndarray, torch.Tensor]:
        """The cells' rates and their gradients in the parameters ``names``, shapes (n_cells,) and
        (n_cells, p); the gaps are ``D @`` either."""
        sums, _, jac = self._sums(model, names, with_jacobian=True)
        counts = torch.as_tensor(self.counts, dtype=torch.float64, device=model.device)
        return (sums / counts).cpu().numpy(), jac / counts[:, None]

    def values_and_gradients(self, model, names) -> tuple[np.ndarray, torch.Tensor]:
        """The gaps and their gradients in the parameters ``names``, shapes (k,) and (k, p)."""
        rates, G = self.rates_and_gradients(model, names)
        D = torch.as_tensor(self.D, dtype=torch.float64, device=model.device)
        return self.D @ rates, D @ G
