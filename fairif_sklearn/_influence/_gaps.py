"""Differentiable group rates and the gaps FairIF closes.

A target is a set of rates (``TPR`` and ``TNR`` for equalized odds, ``TPR`` for
equal opportunity, ``PPR`` for demographic parity, ``ACC`` for accuracy parity;
see :mod:`fairif_sklearn._rates`). The soft rate of group ``g`` is the mean, over
the annotated samples of that group (and of the rate's class, for TPR and TNR),
of the predicted probability of the true class (of the positive class, for PPR),
taken from a softmax of the log-probabilities with temperature ``tau`` (``tau =
1`` gives the model's own probabilities; smaller values approach the hard rate).
``tau = "auto"`` is chosen at the fitted model by :func:`responsive_temperature`.

Every soft rate is a ratio ``S / N`` of a differentiable sum ``S`` over samples
and a constant count ``N``, and every gap is linear in the sums. So the gaps and
their gradients are computed batch by batch from the sums, and a linear map
(:func:`gap_matrix`) turns sums into gaps.

With two groups each rate gives one gap, ``F(g1) - F(g0)``, as in the paper.
With more groups each (rate, group) pair gives one gap, ``F(g) - F(all)``,
against the rate pooled over all annotated samples.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sums of soft true-class probabilities (to ``power``, times ``weight``), shape (n_rates * n_groups,).

    Parameters
    ----------
    proba : tensor of shape (batch, n_classes)
        Class probabilities.
    y : tensor of shape (batch,)
        Class codes.
    groups : tensor of shape (batch,)
        Group codes in ``range(n_groups)``.
    weight : tensor of shape (batch,), optional
        Each row's weight (one when None).
    """
    logp = torch.log(proba.clamp_min(torch.finfo(proba.dtype).tiny))
    p = torch.softmax(logp / temperature, dim=1)
    onehot = torch.nn.functional.one_hot(groups.long(), n_groups).to(p.dtype)
    p_true = p.gather(1, y.long().reshape(-1, 1))[:, 0]
    sums = []
    for rate in rates:
        mask = torch.ones_like(p_true) if rate.rows is None else (y == rate.rows).to(p.dtype)
        value = p_true if rate.predicted is None else p[:, rate.predicted]
        if weight is not None:
            mask = mask * weight.to(p.dtype)
        sums.append((value**power * mask) @ onehot)
    return torch.cat(sums)


TEMPERATURE_GRID = np.geomspace(1.0, 16.0, 49)
"""The temperatures ``"auto"`` chooses from: 1 (the model's own probabilities) to 16, 6% apart."""


def responsive_temperature(log_proba: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> float:
    """The temperature of :data:`TEMPERATURE_GRID` at which the soft true-class probabilities respond
    most to the model's log-probabilities, on average over the rows.

    At temperature ``tau`` a row's soft value is ``p = softmax(log_proba / tau)[y]``, and its
    derivative in the true class's log-probability is ``p (1 - p) / tau``. Where a model is
    confident (most ``p`` near 1 at ``tau = 1``) that derivative vanishes on most rows, and the soft
    rates respond to changes of the model through a few rows only; a higher ``tau`` spreads the
    response over more rows, until ``1 / tau`` shrinks it again. The mean derivative (weighted by
    ``weight``) over the rows is largest at one temperature; below 1 it would grow again towards the
    density of the decision margin at zero, so the grid starts at the model's own probabilities.

    Parameters
    ----------
    log_proba : ndarray of shape (n_rows, n_classes)
    y : ndarray of shape (n_rows,)
        Class codes.
    weight : ndarray of shape (n_rows,), optional

    Returns
    -------
    float
    """
    logp = np.asarray(log_proba, dtype=float)
    best, best_value = TEMPERATURE_GRID[0], -np.inf
    for tau in TEMPERATURE_GRID:
        z = logp / tau
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p_true = p[np.arange(len(y)), y] / p.sum(axis=1)
        value = np.average(p_true * (1.0 - p_true), weights=weight) / tau
        if value > best_value:
            best, best_value = tau, value
    return float(best)


def rate_counts(
    y: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
    rates: tuple[Rate, ...],
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Counts ``N`` matching :func:`soft_rate_sums` (sums of ``weight``, when given), shape
    (n_rates * n_groups,)."""
    rows = [np.ones(len(y), bool) if r.rows is None else y == r.rows for r in rates]
    return np.concatenate(
        [np.bincount(groups[m], None if weight is None else weight[m], minlength=n_groups) for m in rows]
    ).astype(float)


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
    temperature : float or "auto"
        ``"auto"`` is resolved at a fitted model by :meth:`at_temperature_of`.
    batch_size : int
    sample_weight : ndarray of shape (n_annotated,), optional
        The annotated rows' weights: each cell's rate is then the weighted mean
        of its soft values, and its standard error that of a weighted mean
        (over the effective number of rows: it does not change with the
        weights' scale).
    """

    X_val: object
    y_val: np.ndarray
    g_val: np.ndarray
    group_names: list[str]
    rates: tuple[Rate, ...]
    temperature: float | str
    batch_size: int
    sample_weight: np.ndarray | None = None

    def __post_init__(self):
        n_groups, w = len(self.group_names), self.sample_weight
        self.counts = rate_counts(self.y_val, self.g_val, n_groups, self.rates, w)
        if w is not None:  # for the standard errors: each cell's rows and sum of squared weights
            self._rows = rate_counts(self.y_val, self.g_val, n_groups, self.rates)
            self._squared = rate_counts(self.y_val, self.g_val, n_groups, self.rates, w**2)
        self.C, self.names = gap_matrix(self.counts, len(self.group_names), self.rates, self.group_names)
        # gaps = C @ sums = D @ rates, with rates = sums / counts: one per (rate, group) cell
        self.D = self.C * self.counts
        self.rate_names = [f"{rate.name}({group})" for rate in self.rates for group in self.group_names]

    def at_temperature_of(self, model) -> AnnotatedGaps:
        """These gaps with ``temperature="auto"`` resolved at ``model``'s parameters
        (:func:`responsive_temperature` on the annotated rows, weighted by their weights); themselves
        when the temperature is a number."""
        if not isinstance(self.temperature, str):
            return self
        parts = []
        with model.eval_mode(), torch.no_grad():
            for _, x, _ in model.batches(self.X_val, self.y_val, None, self.batch_size):
                proba = model.proba(model.params, x).double()
                parts.append(torch.log(proba.clamp_min(torch.finfo(proba.dtype).tiny)).cpu().numpy())
        tau = responsive_temperature(np.concatenate(parts), self.y_val.astype(int), self.sample_weight)
        return replace(self, temperature=tau)

    def _sums(self, model, names, with_jacobian=False):
        """Soft rate sums over the annotated set and the sums the standard errors need (of the squared
        soft values; with weights, of the values and their squares times the squared weights,
        stacked), from one forward pass of each annotated row: ``(sums, squares, jacobian)``, the
        sums' Jacobian in ``names`` None unless ``with_jacobian`` (then the sums come from the
        Jacobian's own pass)."""
        sub = {k: model.params[k] for k in names}
        fixed = {k: v for k, v in model.params.items() if k not in sub}
        n_groups = len(self.group_names)
        weighted = self.sample_weight is not None
        sums = torch.zeros(len(self.counts), dtype=torch.float64, device=model.device)
        squares = sums.new_zeros((2, len(self.counts)) if weighted else len(self.counts))
        jac = None
        # for the Jacobian, the rows in (class, group) order: a batch's blocks are slices of it
        order = np.lexsort((self.g_val, self.y_val)) if with_jacobian else None
        with model.eval_mode():
            for positions, x, yb in model.batches(self.X_val, self.y_val, order, self.batch_size):
                rows = positions if order is None else order[positions]
                gb = torch.as_tensor(self.g_val[rows], device=model.device)
                wb = torch.as_tensor(self.sample_weight[rows], device=model.device) if weighted else None

                def batch_sums(s, x=x, yb=yb, gb=gb, wb=wb, run=slice(None)):
                    """The batch's (or its ``run`` of rows') cell sums (differentiable in ``s``) and the
                    sums for the standard errors (not)."""
                    proba = model.proba({**fixed, **s}, x)
                    args = (yb[run], gb[run], n_groups, self.rates, self.temperature)
                    if wb is None:
                        return soft_rate_sums(proba, *args), soft_rate_sums(proba.detach(), *args, power=2)
                    w = wb[run]
                    moments = [soft_rate_sums(proba.detach(), *args, power=k, weight=w**2) for k in (1, 2)]
                    return soft_rate_sums(proba, *args, weight=w), torch.stack(moments)

                if with_jacobian:
                    batch, batch_squares, batch_jac = self._batch_jacobian(sub, x, yb, gb, batch_sums)
                    jac = batch_jac if jac is None else jac.add_(batch_jac)
                else:
                    with torch.no_grad():
                        batch, batch_squares = batch_sums({})
                sums += batch.detach().double()
                squares += batch_squares.double()
        return sums, squares, jac

    @staticmethod
    def _batch_jacobian(sub, x, yb, gb, batch_sums) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The batch's cell sums, their sums of squares, and the sums' Jacobian in ``sub``, shape
        (n_cells, p), from one forward pass of each row.

        A backward pass per cell and per run of rows of one (class, group) block: a row adds to the
        cells of its class and group only (one, for the rates FairIF compares), so the passes
        together cost about one backward pass over the batch (a vmapped Jacobian is slow through
        convolutions). Rows sorted by block make one run per block, each a slice of the batch.
        """
        live = {k: v.detach().requires_grad_(True) for k, v in sub.items()}
        n_sub = sum(t.numel() for t in live.values())
        sums = squares = jac = None
        blocks = np.stack([yb.cpu().numpy(), gb.cpu().numpy()], axis=1)
        cuts = [0, *(np.flatnonzero(np.any(blocks[1:] != blocks[:-1], axis=1)) + 1), len(blocks)]
        with torch.enable_grad():
            for run in (slice(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)):
                xs = x[run] if torch.is_tensor(x) else {k: v[run] for k, v in x.items()}
                cells, cell_squares = batch_sums(live, x=xs, run=run)
                if jac is None:
                    jac = torch.zeros(len(cells), n_sub, dtype=torch.float64, device=cells.device)
                    sums = torch.zeros_like(jac[:, 0])
                    squares = sums.new_zeros(cell_squares.shape)
                sums += cells.detach().double()
                squares += cell_squares.double()
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
        return sums, squares, jac

    def _rates_and_errors(self, sums, squares) -> tuple[np.ndarray, np.ndarray]:
        """The cells' rates and their standard errors from the cells' sums and sums of squares.

        A cell's rows are independent draws, so its rate's variance is ``s**2 / n`` with ``s**2``
        the cell's sample variance of the soft values. With weights ``w``, a weighted mean's:
        ``sum(w**2 (v - mean)**2) / sum(w)**2``, times ``n / (n - 1)`` over the cell's ``n`` rows
        (the same as unweighted when the weights are equal).
        """
        n = self.counts
        mean = sums.cpu().numpy() / n
        if self.sample_weight is None:
            var = np.maximum((squares.cpu().numpy() / n - mean**2) * n / np.maximum(n - 1, 1), 0.0) / n
            return mean, np.sqrt(var)
        first, second = squares.cpu().numpy()  # sum(w**2 v), sum(w**2 v**2)
        spread = np.maximum(second - 2 * mean * first + mean**2 * self._squared, 0.0)
        rows = self._rows
        return mean, np.sqrt(spread / n**2 * rows / np.maximum(rows - 1, 1))

    def gap_errors(self, rates_stderr: np.ndarray) -> np.ndarray:
        """The gaps' standard errors from the cells' (independent, over the draw of the annotated
        rows): a gap is ``D @ rates``, so its variance is ``sum over cells of D**2 * stderr**2``."""
        return np.sqrt((self.D**2) @ rates_stderr**2)

    def values(self, model) -> np.ndarray:
        """The gaps at the model's parameters, shape (k,)."""
        return self.D @ self.rates_of(model)

    def rates_of(self, model) -> np.ndarray:
        """Each (rate, group) cell's soft rate at the model's parameters, shape (n_cells,)."""
        return self.rates_and_errors(model)[0]

    def rates_and_errors(self, model) -> tuple[np.ndarray, np.ndarray]:
        """Each cell's soft rate and its standard error over the draw of the annotated rows, shapes
        (n_cells,), from one forward pass."""
        sums, squares, _ = self._sums(model, [])
        return self._rates_and_errors(sums, squares)

    def rates_and_gradients(self, model, names) -> tuple[np.ndarray, torch.Tensor, np.ndarray]:
        """The cells' rates, their gradients in the parameters ``names`` and their standard errors,
        shapes (n_cells,), (n_cells, p) and (n_cells,), from one forward pass; the gaps are ``D @``
        the first two."""
        sums, squares, jac = self._sums(model, names, with_jacobian=True)
        rates, rates_stderr = self._rates_and_errors(sums, squares)
        counts = torch.as_tensor(self.counts, dtype=torch.float64, device=model.device)
        return rates, jac / counts[:, None], rates_stderr

    def values_and_gradients(self, model, names) -> tuple[np.ndarray, torch.Tensor]:
        """The gaps and their gradients in the parameters ``names``, shapes (k,) and (k, p)."""
        rates, G, _ = self.rates_and_gradients(model, names)
        D = torch.as_tensor(self.D, dtype=torch.float64, device=model.device)
        return self.D @ rates, D @ G
