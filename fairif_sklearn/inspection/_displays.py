"""GapsDisplay, WeightsDisplay and TradeoffDisplay: ``from_estimator`` builds, ``plot`` draws.

Like scikit-learn's displays, each keeps the numbers it draws as attributes, so
a figure can be checked or redrawn; ``plot`` sets ``ax_`` and ``figure_``.
matplotlib is needed only to draw (``pip install matplotlib``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted

from .._rates import read_groups
from ..metrics._fairness import TARGET_METRICS


def _axes(ax, name: str):
    check_matplotlib_support(f"{name}.plot")
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def _finish(display, ax, title: str, legend: bool = True):
    """Title (and legend) on ``ax``, which becomes the display's ``ax_`` and ``figure_``."""
    ax.set_title(title)
    if legend:
        ax.legend(fontsize=8)
    display.ax_, display.figure_ = ax, ax.figure
    return display


class GapsDisplay:
    """The annotated set's gaps, or each group's rates: at ERM with their noise, as predicted and as
    realised, per round.

    A round whose soft rates were measured at another temperature than the
    first's (``later_temperature``) is drawn on its own scale, from its own
    start, and its legend says its temperature.

    ``kind="gaps"`` draws the gaps with their noise band; ``kind="rates"`` draws
    each (rate, group) cell's rate, so that a user sees *how* a gap closed: by
    raising the lower group's rate, or by lowering the higher one.

    Parameters
    ----------
    gap_names : list of str
    gaps : ndarray of shape (n_gaps,)
        At the ERM model.
    threshold : ndarray of shape (n_gaps,)
        The noise band: gaps within it are not chased.
    rounds : list of dict
        Each round's ``"predicted_gaps"``, ``"final_gaps"``, ``"predicted_rates"``
        and ``"final_rates"`` (see ``rounds_``).
    rate_names : list of str, default=None
        A name per (rate, group) cell (``rate_names_``); needed for ``kind="rates"``.
    rates, rates_stderr : ndarray of shape (n_cells,), default=None
        The cells' rates at the ERM model and their standard errors.
    final_rates_stderr : ndarray of shape (n_cells,), default=None
        The standard errors of the rates after the last round (error bars on its bars).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(
        self,
        gap_names,
        gaps,
        threshold,
        rounds,
        *,
        rate_names=None,
        rates=None,
        rates_stderr=None,
        final_rates_stderr=None,
    ):
        self.gap_names = list(gap_names)
        self.gaps = np.asarray(gaps)
        self.threshold = np.asarray(threshold)
        self.rounds = rounds
        self.rate_names = None if rate_names is None else list(rate_names)
        self.rates = None if rates is None else np.asarray(rates)
        self.rates_stderr = None if rates_stderr is None else np.asarray(rates_stderr)
        self.final_rates_stderr = None if final_rates_stderr is None else np.asarray(final_rates_stderr)

    @classmethod
    def from_estimator(cls, estimator, *, kind="gaps", ax=None):
        """Draw a fitted :class:`~fairif_sklearn.FairIFClassifier`'s (or weigher's) gaps or rates.

        Parameters
        ----------
        estimator : fitted FairIFClassifier, FairIFWeigher or FairIFClassifierCV
        kind : {"gaps", "rates"}, default="gaps"
        ax : matplotlib Axes, default=None

        Returns
        -------
        GapsDisplay
        """
        fitted = getattr(estimator, "best_estimator_", estimator)
        check_is_fitted(fitted, "gaps_")
        return cls(
            fitted.gap_names_,
            fitted.gaps_,
            fitted.gaps_threshold_,
            fitted.rounds_,
            rate_names=fitted.rate_names_,
            rates=fitted.group_rates_,
            rates_stderr=fitted.group_rates_stderr_,
            final_rates_stderr=getattr(fitted, "final_group_rates_stderr_", None),
        ).plot(kind=kind, ax=ax)

    def _series(self, kind: str) -> list:
        """(label, values, error, bar style) per bar series: ERM, then each round's prediction and result."""
        key = "gaps" if kind == "gaps" else "rates"
        first = self.gaps if kind == "gaps" else self.rates
        series = [("ERM", first, None if kind == "gaps" else self.rates_stderr, {})]
        first_temperature = self.rounds[0].get("temperature") if self.rounds else None
        for i, r in enumerate(self.rounds):
            name = f"round {r['round']}"
            on_first_scale = r.get("temperature") == first_temperature
            if not on_first_scale:  # soft rates at another temperature: the round's start, on its scale
                name += f" (temperature {r['temperature']:.3g})"
                series.append((f"{name}: start", r[key], None, {"alpha": 0.5}))
            series.append((f"{name}: predicted", r[f"predicted_{key}"], None, {"hatch": "//", "alpha": 0.5}))
            if r[f"final_{key}"] is not None:
                error = None
                if kind == "rates" and i == len(self.rounds) - 1:
                    error = self.final_rates_stderr if on_first_scale else r.get("final_rates_stderr")
                series.append((f"{name}: after stage 2", r[f"final_{key}"], error, {}))
        return series

    def plot(self, kind="gaps", ax=None):
        """Bars per gap (the noise band shaded) or per (rate, group) cell (standard errors as error bars):
        ERM, then each round's prediction (hatched) and realisation.

        Parameters
        ----------
        kind : {"gaps", "rates"}, default="gaps"
        ax : matplotlib Axes, default=None

        Returns
        -------
        self : GapsDisplay
        """
        if kind not in ("gaps", "rates"):
            raise ValueError(f'kind must be "gaps" or "rates", got {kind!r}.')
        if kind == "rates" and self.rates is None:
            raise ValueError('kind="rates" needs rate_names and rates (from_estimator gives them).')
        ax = _axes(ax, "GapsDisplay")
        series = self._series(kind)
        names = self.gap_names if kind == "gaps" else self.rate_names
        x = np.arange(len(names))
        width = 0.8 / len(series)
        for i, (label, values, error, style) in enumerate(series):
            ax.bar(x - 0.4 + (i + 0.5) * width, values, width, yerr=error, capsize=2, label=label, **style)
        ax.set_xticks(x, names, rotation=15 if len(x) > 2 else 0)
        if kind == "rates":
            low = min(np.min(v) for _, v, _, _ in series)
            ax.set_ylim(max(0.0, low - 0.1), 1.0)
            ax.set_ylabel("soft rate on the annotated set")
            return _finish(self, ax, "FairIF: each group's rates (error bars: one standard error)")
        for xi, band in zip(x, self.threshold, strict=True):
            ax.fill_between([xi - 0.45, xi + 0.45], -band, band, color="grey", alpha=0.2, linewidth=0)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_ylabel("soft-rate gap on the annotated set")
        return _finish(self, ax, "FairIF: gaps (grey: within noise)")


class WeightsDisplay:
    """The distribution of the sample weights over the training rows, by class and by group.

    Parameters
    ----------
    weights : ndarray of shape (n_train,)
    labels : ndarray of shape (n_train,) of str
        The cell of each training row ("class 1", or "class 1, group red").

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, weights, labels):
        self.weights = np.asarray(weights)
        self.labels = np.asarray(labels)

    @classmethod
    def from_estimator(cls, estimator, y, *, sensitive_features=None, bins=40, ax=None):
        """Histograms of a fitted FairIF estimator's ``sample_weight_`` over its training rows.

        Parameters
        ----------
        estimator : fitted FairIFClassifier or FairIFWeigher
        y : array-like of shape (n_samples,)
            The ``y`` given to ``fit``.
        sensitive_features : array-like of shape (n_samples,), default=None
            Groups of the rows given to ``fit``, where known (the training rows'
            groups are usually not: FairIF needs none, but a diagnosis may use
            them).
        bins : int, default=40
        ax : matplotlib Axes, default=None

        Returns
        -------
        WeightsDisplay
        """
        fitted = getattr(estimator, "best_estimator_", estimator)
        check_is_fitted(fitted, "sample_weight_")
        rows = fitted.train_mask_
        y = np.asarray(y)
        if len(y) != len(rows):
            raise ValueError(
                f"y has {len(y)} rows, but the estimator was fitted on {len(rows)}: give the y given to fit."
            )
        labels = np.array([f"class {c}" for c in y[rows]], dtype=object)
        if sensitive_features is not None:
            groups = read_groups(sensitive_features, n_rows=len(rows))
            known = groups.annotated[rows]
            names = np.array(groups.names, dtype=object)[np.maximum(groups.codes[rows], 0)]
            labels = np.where(known, labels + ", group " + names, labels + ", group unknown")
        return cls(fitted.sample_weight_[rows], labels).plot(bins=bins, ax=ax)

    def plot(self, bins=40, ax=None):
        """One step histogram per cell.

        Returns
        -------
        self : WeightsDisplay
        """
        ax = _axes(ax, "WeightsDisplay")
        edges = np.histogram_bin_edges(self.weights, bins=bins)
        for label in sorted(set(self.labels)):
            w = self.weights[self.labels == label]
            ax.hist(w, bins=edges, histtype="step", linewidth=1.5, label=f"{label} (mean {w.mean():.2f})")
        ax.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_xlabel("sample weight (1: as in ERM)")
        ax.set_ylabel("training rows")
        return _finish(self, ax, "FairIF: who is up- and down-weighted")


class TradeoffDisplay:
    """Accuracy against a fairness gap over candidates (numbers of rounds, or a grid's values).

    Parameters
    ----------
    gap, accuracy : ndarray of shape (n_candidates,)
    labels : list of str
        One per candidate.
    gap_error : ndarray of shape (n_candidates,), default=None
        Error bars on the gap (e.g. the noise of its difference with ERM).
    gap_name : str, default="AOD"

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, gap, accuracy, labels, gap_error=None, gap_name="AOD"):
        self.gap = np.asarray(gap, dtype=float)
        self.accuracy = np.asarray(accuracy, dtype=float)
        self.labels = list(labels)
        self.gap_error = None if gap_error is None else np.asarray(gap_error, dtype=float)
        self.gap_name = gap_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """A fitted :class:`~fairif_sklearn.FairIFClassifierCV`'s out-of-fold path: ERM, then each
        number of rounds with its closures, the gaps' noise against ERM as error bars.

        Returns
        -------
        TradeoffDisplay

        Raises
        ------
        TypeError
            If ``estimator`` is not a FairIFClassifierCV (a single fit is one point, not a path).
        """
        from .._estimators._cv import FairIFClassifierCV, _label

        if not isinstance(estimator, FairIFClassifierCV):
            raise TypeError(
                "TradeoffDisplay.from_estimator draws the path of a FairIFClassifierCV, got "
                f"{type(estimator).__name__}: fit FairIFClassifierCV(...) for FairIF's path, or draw a "
                "search's candidates with TradeoffDisplay.from_cv_results(search.cv_results_, param=...)."
            )
        check_is_fitted(estimator, "cv_results_")
        res = estimator.cv_results_
        labels = [_label(p) for p in res["params"]]
        labels[estimator.best_index_] += " (chosen)"
        name = TARGET_METRICS[estimator.best_estimator_.target][0]
        return cls(res["gap"], res["accuracy"], labels, res["gap_diff_se"], gap_name=name).plot(ax=ax)

    @classmethod
    def from_cv_results(cls, cv_results, *, param, fairness="aod", accuracy="accuracy", ax=None):
        """A search's candidates, from ``cv_results_`` with a fairness scorer (negated gaps) and accuracy.

        Parameters
        ----------
        cv_results : dict
            A :class:`~sklearn.model_selection.GridSearchCV`'s ``cv_results_``.
        param : str
            The searched parameter that labels the points, e.g. ``"alpha"``.
        fairness, accuracy : str
            The names of the scorers in ``scoring=``.
        ax : matplotlib Axes, default=None

        Returns
        -------
        TradeoffDisplay
        """
        path = "; a FairIFClassifierCV's path is drawn by TradeoffDisplay.from_estimator(fitted_cv)"
        if not isinstance(cv_results, Mapping):
            raise TypeError(
                f"cv_results must be a search's cv_results_ dict, got {type(cv_results).__name__}{path}."
            )
        needed = [f"mean_test_{fairness}", f"std_test_{fairness}", f"mean_test_{accuracy}", f"param_{param}"]
        missing = [key for key in needed if key not in cv_results]
        if missing:
            raise ValueError(
                f"cv_results has no {', '.join(repr(k) for k in missing)}: pass the search's scorer names "
                f"as fairness= and accuracy=, and a searched parameter as param={path}."
            )
        gap = -np.asarray(cv_results[f"mean_test_{fairness}"], dtype=float)
        error = np.asarray(cv_results[f"std_test_{fairness}"], dtype=float)
        labels = [f"{param}={v}" for v in cv_results[f"param_{param}"]]
        acc = cv_results[f"mean_test_{accuracy}"]
        return cls(gap, acc, labels, error, gap_name=fairness.upper()).plot(ax=ax)

    def plot(self, ax=None):
        """One point per candidate, labelled.

        Returns
        -------
        self : TradeoffDisplay
        """
        ax = _axes(ax, "TradeoffDisplay")
        ax.errorbar(self.gap, self.accuracy, xerr=self.gap_error, fmt="o-", capsize=3)
        for x, y, label in zip(self.gap, self.accuracy, self.labels, strict=True):
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
        ax.set_xlabel(f"{self.gap_name} on held-out annotated rows (lower is fairer)")
        ax.set_ylabel("accuracy on held-out annotated rows")
        return _finish(self, ax, "FairIF: fairness against accuracy", legend=False)
