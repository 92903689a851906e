"""FairIFClassifierCV: a point of FairIF's trade-off path (ERM included), chosen on held-out rows."""

from __future__ import annotations

import logging
import shutil
import tempfile
from inspect import signature
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .._rates import check_target, read_groups
from .._runtime import keeps_torch_rng, report, torch_threads, worker_threads
from .._skorch import is_dataset, take
from .._validation import check_sample_weight, validate_fit_X_y
from ..metrics._fairness import TARGET_METRICS, worst_group_accuracy
from ..model_selection import AnnotatedStratifiedKFold
from ..model_selection._split import cell_strata
from ._classifier import FairIFClassifier

# the paired bootstrap that sizes the noise of a held-out comparison
N_BOOTSTRAP = 200
NOISE_Z = 2.0
logger = logging.getLogger(__name__)


class FairIFClassifierCV(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """FairIF's trade-off path, judged on annotated rows no fit saw, and a point chosen within a budget.

    The path: the ERM model, then one round of reweighting at each ``closure``
    in ``closures`` (how much of the way to its band each chased gap is
    closed), then 2, ... ``max_rounds`` rounds at the largest closure; with
    ``temperatures``, that path at each temperature of the soft rates. The ERM
    fit is computed once per fold and stage 1 once per fold and temperature,
    shared by the one-round candidates (only the weight solve and the
    fine-tune differ); each further round re-linearises once (at the
    estimator's ``later_temperature``: by default the temperature chosen where
    the previous round ended). Each candidate is
    judged on annotated rows that did not drive its influence solve: the
    annotated set is split into ``cv`` folds stratified by group and class; for
    each fold a clone of ``estimator`` is fitted with the other folds'
    annotated rows (the fold's rows are left out entirely) and predicts the
    fold's rows. Pooling the folds gives out-of-fold
    predictions of every annotated row for every candidate.

    The rule: among the candidates whose out-of-fold accuracy is not below
    ERM's by more than ``max_accuracy_drop`` (or is within noise of it) and
    whose worst-group accuracy (over (class, group) cells) is not below ERM's
    beyond noise, the one with the smallest out-of-fold fairness gap (AOD for
    equalized odds, EOD for equal opportunity, DPD for demographic parity, AD
    for accuracy parity) is chosen if it beats ERM by more than noise: more
    than ``NOISE_Z = 2`` standard errors of the paired difference, from a
    bootstrap of the annotated rows within group and class. Otherwise the
    result is the ERM model, and ``reweighted_`` says so. The chosen candidate
    is refitted on all annotated rows; :meth:`refit_candidate` refits another
    point of the path.

    Parameters
    ----------
    estimator : FairIFClassifier or skorch net
        The FairIF configuration to tune (cloned, never modified); a skorch
        net is taken as ``FairIFClassifier(net)`` with every default.
    cv : int, cross-validation splitter, iterable or None, default=3
        How the annotated set is split into folds (None: 3): a number of folds of
        :class:`~fairif_sklearn.model_selection.AnnotatedStratifiedKFold`
        (stratified by group and class, shuffled with ``estimator``'s
        ``random_state``), any splitter with ``split`` and ``get_n_splits``
        (given ``sensitive_features=`` when its ``split`` takes it), or an
        iterable of ``(fit, held_out)`` arrays of positions. Its splits are of
        the annotated rows.
    max_rounds : int, default=2
        The largest number of rounds on the path.
    closures : sequence of float in (0, 1], default=(0.25, 0.5, 0.75, 1.0)
        The one-round points of the path (FairIF's ``closure``); later rounds
        use the largest.
    temperatures : sequence of float > 0 or None, default=None
        The soft rates' temperatures on the path (FairIF's ``temperature``);
        None: ``estimator``'s own only. Each costs a stage 1 per fold. On
        CI-MNIST group shift a temperature of 3 closed more of the gap than 1,
        and on Adult it lowered the worst (class, group) cell (the results
        page's *The soft rates' temperature*): ``temperatures=(1, 3)`` lets the
        held-out annotated rows choose.
    max_accuracy_drop : float, default=0.01
        The accuracy budget, as a fraction (0.02 is two accuracy points): a
        candidate whose out-of-fold accuracy is below ERM's by more than this
        (and by more than noise) is not chosen.
    n_jobs : int or None, default=None
        Folds fitted in parallel (joblib's convention: None is one, -1 all
        cores); each worker runs torch on its share of the free cores, so that
        workers times threads do not exceed them.
    memory : str, joblib.Memory or None, default=None
        Where the folds' and the final fit's ERM fits and stage 1 are cached.
        None: a temporary folder, removed after ``fit``. Given, it is kept, so
        that :meth:`refit_candidate` takes another point of the path without
        another ERM fit or stage 1.
    verbose : int, default=0
        1 prints each candidate's out-of-fold figures and the choice.

    Attributes
    ----------
    best_estimator_ : FairIFClassifier
        Refitted on all annotated rows with the chosen candidate's parameters
        (when ERM is chosen, a fit whose tolerance keeps the ERM model).
    best_index_ : int
        The chosen candidate's position in ``cv_results_``; 0 is ERM.
    n_rounds_ : int
        The chosen number of rounds; 0 means the ERM model.
    reweighted_ : bool
        False when the ERM model was kept because no candidate beat it by more
        than noise within the budget.
    cv_results_ : dict
        Per candidate: ``"params"`` (the FairIF parameters it sets:
        ``max_rounds``, ``closure`` and, with ``temperatures``,
        ``temperature``; empty for ERM), ``"rounds"``, ``"closure"`` and
        ``"temperature"`` (NaN for ERM, and where the temperature is ``"auto"``,
        resolved per fit: ``best_estimator_.temperature_``), the out-of-fold ``"gap"``, ``"accuracy"``
        and ``"worst_group_accuracy"``, the bootstrap standard errors of their
        differences with ERM (``"gap_diff_se"``, ``"accuracy_diff_se"``,
        ``"worst_group_diff_se"``) and ``"eligible"``: one entry per candidate
        under every key, so that ``pandas.DataFrame(cv_results_)`` is a table
        of the path, as scikit-learn's searches' are.
    folds_ : list of ndarray
        The annotated rows held out in each fold (positions among the
        annotated rows).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features.

    Examples
    --------
    >>> import numpy as np
    >>> from fairif_sklearn import FairIFClassifierCV
    >>> from fairif_sklearn.datasets import make_biased_classification
    >>> from fairif_sklearn.nets import make_mlp_classifier
    >>> X, y, s = make_biased_classification(n_samples=2000, bias="group_shift", random_state=0)
    >>> groups = np.where(np.arange(len(y)) < 700, s, np.nan)
    >>> net = make_mlp_classifier(X.shape[1], hidden=(8,), max_epochs=3)
    >>> clf = FairIFClassifierCV(net, max_rounds=1, closures=(0.5, 1.0))
    >>> clf.fit(X, y, sensitive_features=groups).cv_results_["rounds"]
    [0, 1, 1]
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "cv": ["cv_object"],  # an int of at least 2, a splitter, an iterable of splits, or None
        "n_jobs": [Integral, None],
        "max_rounds": [Interval(Integral, 1, None, closed="left")],
        "closures": ["array-like"],
        "temperatures": ["array-like", None],
        "max_accuracy_drop": [Interval(Real, 0, None, closed="left")],
        "memory": [None, str, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        cv=3,
        max_rounds=2,
        closures=(0.25, 0.5, 0.75, 1.0),
        temperatures=None,
        max_accuracy_drop=0.01,
        n_jobs=None,
        memory=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.cv = cv
        self.max_rounds = max_rounds
        self.closures = closures
        self.temperatures = temperatures
        self.max_accuracy_drop = max_accuracy_drop
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose

    def _inner(self) -> FairIFClassifier:
        if isinstance(self.estimator, FairIFClassifier):
            return clone(self.estimator)
        return FairIFClassifier(clone(self.estimator))

    def _log(self, message: str) -> None:
        report(logger, self.verbose, "[FairIFClassifierCV] %s", message)

    def _candidates(self) -> list[dict]:
        closures = [float(c) for c in np.atleast_1d(self.closures)]
        if not closures or not all(0 < c <= 1 for c in closures):
            raise ValueError(f"closures must be values in (0, 1], got {self.closures!r}.")
        closures = sorted(set(closures))
        if self.temperatures is None:
            temperatures: list[dict] = [{}]  # the estimator's own temperature
        else:
            values = [float(t) for t in np.atleast_1d(self.temperatures)]
            if not values or not all(np.isfinite(t) and t > 0 for t in values):
                raise ValueError(f"temperatures must be positive numbers, got {self.temperatures!r}.")
            temperatures = [{"temperature": t} for t in sorted(set(values))]
        # one round at each closure shares the fold's stage 1 (one per temperature); a further round
        # re-linearises (a stage 1 of its own), so later rounds are taken at the largest closure only
        steps = [(1, c) for c in closures] + [(r, closures[-1]) for r in range(2, self.max_rounds + 1)]
        return [{}] + [{"max_rounds": r, "closure": c, **t} for t in temperatures for r, c in steps]

    @_fit_context(prefer_skip_nested_validation=False)  # the inner estimator validates its own
    @keeps_torch_rng  # its predictions of the held-out rows would advance torch's random state
    def fit(self, X, y, *, sensitive_features=None, sample_weight=None):
        """Cross-fit the path on the annotated set, choose, and refit the choice.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training inputs (and, with ``sensitive_features``, the annotated rows).
        y : array-like of shape (n_samples,)
            Class labels.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns), default=None
            Group labels aligned with ``X``, missing where a row has none; or
            None when the inner estimator has an annotated set of its own
            (``X_val``, ``y_val``, ``sensitive_val``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows of ``X``, given to every fit (see
            :meth:`FairIFClassifier.fit`); the out-of-fold figures of the
            annotated rows are weighted by them too.

        Returns
        -------
        self : FairIFClassifierCV
            The fitted estimator.
        """
        inner = self._inner()
        candidates = self._candidates()
        validate_fit_X_y(clone(inner), X, y)  # bad inputs named before anything else, as FairIF's fit does
        check_target(y)
        if sample_weight is not None:  # named here, before any fold's fit
            sample_weight = check_sample_weight(sample_weight, len(np.asarray(y)))
        w_ann = None
        if sensitive_features is None:  # the annotated set given in the constructor
            annotated, X_ann, y_ann, s_ann = None, inner.X_val, np.asarray(inner.y_val), inner.sensitive_val
        else:
            annotated = np.flatnonzero(read_groups(sensitive_features, n_rows=len(y)).annotated)
            X_ann, y_ann = _rows(X, annotated), np.asarray(y)[annotated]
            s_ann = _rows(sensitive_features, annotated)
            if sample_weight is not None:
                w_ann = sample_weight[annotated]
        if X_ann is None:
            raise ValueError("FairIFClassifierCV needs an annotated set: pass sensitive_features to fit.")
        strata, _, _ = cell_strata(y_ann, s_ann)
        folds = self._folds(y_ann, s_ann, check_random_state(inner.random_state).randint(0, 2**31 - 1))

        oof = [np.empty(len(y_ann), dtype=np.asarray(y).dtype) for _ in candidates]
        cache = self.memory or inner.memory or tempfile.mkdtemp(prefix="fairif_cv_")
        try:
            shared = (inner, candidates, X, y, sensitive_features, sample_weight, X_ann, annotated)
            threads = worker_threads(self.n_jobs)
            predictions = Parallel(n_jobs=self.n_jobs)(
                delayed(self._fold)(*shared, rows, cache, threads, f"{k + 1}/{len(folds)}")
                for k, rows in enumerate(folds)
            )
            for (_, held_out), fold_predictions in zip(folds, predictions, strict=True):
                for i, pred in enumerate(fold_predictions):
                    oof[i][held_out] = pred
            self.cv_results_, chosen = self._judge(
                candidates, oof, y_ann, s_ann, strata, inner.target, inner.pos_label, inner.temperature, w_ann
            )
            self.folds_ = [held_out for _, held_out in folds]
            self._refit(inner, chosen, X, y, sensitive_features, cache, sample_weight)
        finally:
            if cache not in (self.memory, inner.memory):
                shutil.rmtree(cache, ignore_errors=True)
        return self

    def _folds(self, y_ann, s_ann, seed) -> list:
        """The (fit, held-out) splits of the annotated rows."""
        if self.cv is None or isinstance(self.cv, Integral):
            splitter = AnnotatedStratifiedKFold(
                3 if self.cv is None else self.cv, shuffle=True, random_state=seed
            )
        elif not hasattr(self.cv, "split"):  # the splits themselves
            folds = [(np.asarray(fit), np.asarray(held_out)) for fit, held_out in self.cv]
            if not folds:
                raise ValueError(
                    "cv gave no splits (a generator is used up by one fit: pass a list, or the splitter)."
                )
            return folds
        else:
            splitter = self.cv
        takes_groups = "sensitive_features" in signature(splitter.split).parameters
        extra = {"sensitive_features": s_ann} if takes_groups else {}
        return list(splitter.split(np.zeros((len(y_ann), 1)), y_ann, **extra))

    def _fold(
        self,
        inner,
        candidates,
        X,
        y,
        sensitive_features,
        sample_weight,
        X_ann,
        annotated,
        rows,
        cache,
        threads,
        name,
    ):
        """One fold's out-of-fold predictions of the held-out annotated rows, ERM first, then each
        candidate (which share the fold's ERM fit and stage 1 through ``cache``)."""
        fit_rows, held_out = rows
        self._log(f"fold {name}: {len(held_out)} annotated rows held out")
        out = []
        with torch_threads(threads):
            for params in candidates[1:]:
                candidate = clone(inner).set_params(**params)
                model = self._fit_without(
                    candidate, X, y, sensitive_features, sample_weight, annotated, rows, cache
                )
                out.append(model.predict(_rows(X_ann, held_out)))
            # the ERM net reads X as the fitted model's predict does (a DataFrame as an array)
            erm = model.erm_estimator_.predict(model._check_X(_rows(X_ann, held_out)))
        return [model.classes_[np.asarray(erm).astype(int)], *out]

    def _refit(self, inner, index, X, y, sensitive_features, cache, sample_weight=None):
        """Refit candidate ``index`` of the path on all annotated rows, as ``best_estimator_``."""
        params = self.cv_results_["params"][index]
        final = clone(inner).set_params(memory=cache)
        final.set_params(**(params or {"tolerance": np.inf, "alpha": None}))
        self.best_index_ = int(index)
        self.n_rounds_ = int(self.cv_results_["rounds"][index])
        self.reweighted_ = self.n_rounds_ > 0
        if not self.reweighted_:
            self._log("ERM is kept: no candidate beats it by more than noise within the accuracy budget")
        self.best_estimator_ = final.fit(
            X, y, sensitive_features=sensitive_features, sample_weight=sample_weight
        ).set_params(memory=inner.memory)
        self.classes_ = self.best_estimator_.classes_
        if hasattr(self.best_estimator_, "n_features_in_"):  # not for a torch Dataset
            self.n_features_in_ = self.best_estimator_.n_features_in_

    def refit_candidate(self, index: int, X, y, *, sensitive_features=None, sample_weight=None):
        """Take another point of the path: refit candidate ``index`` of ``cv_results_`` on all annotated
        rows, as ``best_estimator_``.

        With ``memory`` set, the ERM fit and stage 1 of the final fit come from
        the cache: only the weight solve and the fine-tune run.

        Parameters
        ----------
        index : int
            A position in ``cv_results_["params"]`` (0 is the ERM model).
        X, y, sensitive_features, sample_weight
            As given to :meth:`fit`.

        Returns
        -------
        self : FairIFClassifierCV
        """
        check_is_fitted(self, "cv_results_")
        if not 0 <= index < len(self.cv_results_["params"]):
            raise ValueError(f"index must be in [0, {len(self.cv_results_['params'])}), got {index!r}.")
        inner = self._inner()
        cache = self.memory or inner.memory or tempfile.mkdtemp(prefix="fairif_cv_")
        try:
            self._refit(inner, index, X, y, sensitive_features, cache, sample_weight)
        finally:
            if cache not in (self.memory, inner.memory):
                shutil.rmtree(cache, ignore_errors=True)
        return self

    def _fit_without(self, model, X, y, sensitive_features, sample_weight, annotated, rows, cache):
        """A clone fitted on everything but the held-out annotated rows (``rows``: fit and held-out
        positions among the annotated rows; ``annotated``: their positions in ``X``, or None for an
        annotated set given in the constructor)."""
        fit_rows, held_out = rows
        model = clone(model).set_params(memory=cache)
        if annotated is None:
            model.set_params(
                X_val=_rows(model.X_val, fit_rows),
                y_val=_rows(np.asarray(model.y_val), fit_rows),
                sensitive_val=_rows(model.sensitive_val, fit_rows),
            )
            return model.fit(X, y, sample_weight=sample_weight)
        keep = np.ones(len(y), dtype=bool)
        keep[annotated[held_out]] = False  # the held-out rows are neither trained on nor annotated
        return model.fit(
            _rows(X, keep),
            _rows(np.asarray(y), keep),
            sensitive_features=_rows(sensitive_features, keep),
            sample_weight=None if sample_weight is None else _rows(sample_weight, keep),
        )

    def _judge(self, candidates, oof, y, s, strata, target, pos_label, temperature, weight=None):
        """Out-of-fold gap, accuracy and worst-group accuracy per candidate (weighted by the annotated
        rows' ``weight``), their noise against ERM, and the choice (``temperature``: the estimator's
        own, for the candidates that do not set one)."""
        metric = TARGET_METRICS[target][1]
        rng = np.random.RandomState(0)
        # a row of weight zero is a row absent: the bootstrap draws from the others, so that no draw
        # leaves a cell of some weighted rows with none
        counted = np.arange(len(y)) if weight is None else np.flatnonzero(weight > 0)
        counted_strata = strata[counted]
        boot = [counted[_stratified_resample(counted_strata, rng)] for _ in range(N_BOOTSTRAP)]
        labels = {} if target == "accuracy_parity" else {"pos_label": pos_label}

        def figures(pred, rows=slice(None)):
            groups = _rows(s, rows)
            w = None if weight is None else weight[rows]
            gap = metric(y[rows], pred[rows], sensitive_features=groups, sample_weight=w, **labels)
            worst = worst_group_accuracy(y[rows], pred[rows], sensitive_features=groups, sample_weight=w)
            return gap, np.average(y[rows] == pred[rows], weights=w), worst

        erm_gap, erm_acc, erm_worst = figures(oof[0])
        erm_boot = np.array([figures(oof[0], b) for b in boot])
        keys = ("gap", "accuracy", "worst_group_accuracy", "gap_diff_se", "accuracy_diff_se")
        results = {"params": candidates, "rounds": [], "closure": [], "temperature": [], "eligible": []}
        results.update({key: [] for key in (*keys, "worst_group_diff_se")})
        best, best_gap = 0, erm_gap
        for i, (params, pred) in enumerate(zip(candidates, oof, strict=True)):
            gap, acc, worst = figures(pred)
            diff = np.array([figures(pred, b) for b in boot]) - erm_boot
            gap_se, acc_se, worst_se = diff.std(axis=0)
            drop = erm_acc - acc
            eligible = i == 0 or (
                (drop <= self.max_accuracy_drop or drop <= NOISE_Z * acc_se)
                and erm_worst - worst <= NOISE_Z * worst_se
            )
            values = (gap, acc, worst, gap_se, acc_se)
            for key, value in zip(keys, values, strict=True):
                results[key].append(float(value))
            results["worst_group_diff_se"].append(float(worst_se))
            results["rounds"].append(params.get("max_rounds", 0))
            results["closure"].append(params.get("closure", np.nan))
            tau = params.get("temperature", np.nan if i == 0 else temperature)
            results["temperature"].append(np.nan if tau == "auto" else float(tau))
            results["eligible"].append(bool(eligible))
            self._log(
                f"{_label(params)}: out-of-fold gap {gap:.4f} (ERM {erm_gap:.4f}, difference se "
                f"{gap_se:.4f}), "
                f"accuracy {acc:.4f} (ERM {erm_acc:.4f}), worst group {worst:.4f} (ERM {erm_worst:.4f})"
            )
            if i and eligible and gap < best_gap and erm_gap - gap > NOISE_Z * gap_se:
                best, best_gap = i, gap
        self._log(f"chosen: {_label(candidates[best])}")
        return results, best

    def predict_proba(self, X):
        """Class probabilities of the chosen model."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities of the chosen model."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_log_proba(X)

    def predict(self, X):
        """Predicted class labels of the chosen model."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)


def _label(params: dict) -> str:
    """A candidate's name: "ERM", "2 rounds, closure 0.5" or "1 round, closure 1, temperature 3"."""
    if not params:
        return "ERM"
    r = params["max_rounds"]
    at = f", temperature {params['temperature']:g}" if "temperature" in params else ""
    return f"{r} round{'s' * (r > 1)}, closure {params['closure']:g}{at}"


def _rows(data, rows):
    """Rows of an array, a DataFrame or a Series (by position), a list, or a torch Dataset (a Subset)."""
    if is_dataset(data):
        rows = np.asarray(rows)
        return take(data, np.flatnonzero(rows) if rows.dtype == bool else rows)
    if hasattr(data, "iloc"):
        return data.iloc[rows]
    if isinstance(data, list):
        return np.asarray(data, dtype=object)[rows]
    return np.asarray(data)[rows] if not hasattr(data, "shape") else data[rows]


def _stratified_resample(strata: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Row positions of a bootstrap sample that keeps each stratum's size."""
    out = [rng.choice(np.flatnonzero(strata == c), np.sum(strata == c)) for c in np.unique(strata)]
    return np.concatenate(out)
