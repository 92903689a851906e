"""FairIFClassifierCV: how many rounds of FairIF (none: ERM), chosen on annotated rows no fit saw."""

from __future__ import annotations

import shutil
import tempfile
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .._rates import read_groups
from .._skorch import is_dataset, take
from ..metrics._fairness import TARGET_METRICS
from ._classifier import FairIFClassifier

# the paired bootstrap that sizes the noise of a held-out comparison
N_BOOTSTRAP = 200
NOISE_Z = 2.0


class FairIFClassifierCV(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """FairIF with the number of rounds chosen by cross-fitting on the annotated set, ERM included.

    Each candidate (0 rounds, i.e. the ERM model, then 1, 2, ... ``max_rounds``
    rounds of reweighting) is judged on annotated rows that did not drive its
    influence solve: the annotated set is split into ``cv`` folds stratified by
    group and class; for each fold a clone of ``estimator`` is fitted with the
    other folds' annotated rows (the fold's rows are left out entirely) and
    predicts the fold's rows. Pooling the folds gives out-of-fold predictions of
    every annotated row for every candidate.

    The rule: the candidate with the smallest out-of-fold fairness gap (AOD for
    equalized odds, EOD for equal opportunity, DPD for demographic parity, AD
    for accuracy parity), among those whose out-of-fold
    accuracy is not significantly below ERM's by more than ``max_accuracy_drop``,
    is chosen if it beats ERM by more than noise: more than ``NOISE_Z = 2``
    standard errors of the paired difference, from a bootstrap of the annotated
    rows within group and class. Otherwise the result is the ERM model, and
    ``reweighted_`` says so. The chosen candidate is refitted on all annotated
    rows.

    Parameters
    ----------
    estimator : FairIFClassifier or skorch net
        The FairIF configuration to tune (cloned, never modified); a skorch
        net is taken as ``FairIFClassifier(net)`` with every default.
    cv : int, default=3
        Folds of the annotated set.
    max_rounds : int, default=2
        The largest number of rounds considered.
    max_accuracy_drop : float, default=0.01
        A candidate whose out-of-fold accuracy is below ERM's by more than this
        (and by more than noise) is not considered.
    verbose : int, default=0
        1 prints each candidate's out-of-fold figures and the choice.

    Attributes
    ----------
    best_estimator_ : FairIFClassifier
        Refitted on all annotated rows with the chosen number of rounds (when
        ERM is chosen, a fit whose tolerance keeps the ERM model).
    n_rounds_ : int
        The chosen number of rounds; 0 means the ERM model.
    reweighted_ : bool
        False when the ERM model was kept because no candidate beat it by more
        than noise.
    cv_results_ : dict
        Per candidate (``"rounds"``): out-of-fold ``"gap"`` and ``"accuracy"``,
        the bootstrap standard errors of their differences with ERM
        (``"gap_diff_se"``, ``"accuracy_diff_se"``), and ``"eligible"``; and
        ``"folds"``: the annotated rows held out in each fold (positions among
        the annotated rows).
    classes_ : ndarray of shape (2,)
        The class labels.
    n_features_in_ : int
        Number of features.

    Examples
    --------
    >>> import numpy as np
    >>> from fairif_sklearn import FairIFClassifierCV
    >>> from fairif_sklearn.datasets import make_biased_classification
    >>> from fairif_sklearn.nets import make_mlp_classifier
    >>> X, y, s = make_biased_classification(n_samples=3000, bias="group_shift", random_state=0)
    >>> groups = np.where(np.arange(len(y)) < 1000, s, np.nan)
    >>> clf = FairIFClassifierCV(make_mlp_classifier(X.shape[1], hidden=(8,), max_epochs=5), max_rounds=1)
    >>> clf.fit(X, y, sensitive_features=groups).n_rounds_ in (0, 1)
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "max_rounds": [Interval(Integral, 1, None, closed="left")],
        "max_accuracy_drop": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator, *, cv=3, max_rounds=2, max_accuracy_drop=0.01, verbose=0):
        self.estimator = estimator
        self.cv = cv
        self.max_rounds = max_rounds
        self.max_accuracy_drop = max_accuracy_drop
        self.verbose = verbose

    def _inner(self) -> FairIFClassifier:
        if isinstance(self.estimator, FairIFClassifier):
            return clone(self.estimator)
        return FairIFClassifier(clone(self.estimator))

    def _log(self, message: str) -> None:
        if self.verbose:
            print(f"[FairIFClassifierCV] {message}", flush=True)

    @_fit_context(prefer_skip_nested_validation=False)  # the inner estimator validates its own
    def fit(self, X, y, *, sensitive_features=None):
        """Cross-fit the candidates on the annotated set, choose, and refit the choice.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training inputs (and, with ``sensitive_features``, the annotated rows).
        y : array-like of shape (n_samples,)
            Binary target.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns), default=None
            Group labels aligned with ``X``, missing where a row has none; or
            None when the inner estimator has an annotated set of its own
            (``X_val``, ``y_val``, ``sensitive_val``).

        Returns
        -------
        self : FairIFClassifierCV
            The fitted estimator.
        """
        inner = self._inner()
        constructor_set = sensitive_features is None
        if constructor_set:
            X_ann, y_ann, s_ann = inner.X_val, np.asarray(inner.y_val), inner.sensitive_val
        else:
            annotated = read_groups(sensitive_features, n_rows=len(y)).annotated
            X_ann, y_ann = _rows(X, annotated), np.asarray(y)[annotated]
            s_ann = _rows(sensitive_features, annotated)
        if X_ann is None:
            raise ValueError("FairIFClassifierCV needs an annotated set: pass sensitive_features to fit.")
        groups = read_groups(s_ann, n_rows=len(y_ann), name="the annotated set")
        classes, y_codes = np.unique(y_ann, return_inverse=True)
        strata = groups.codes * len(classes) + y_codes
        seed = check_random_state(inner.random_state).randint(0, 2**31 - 1)
        folds = list(StratifiedKFold(self.cv, shuffle=True, random_state=seed).split(strata, strata))

        candidates = range(self.max_rounds + 1)
        oof = {r: np.empty(len(y_ann), dtype=np.asarray(y).dtype) for r in candidates}
        cache = tempfile.mkdtemp(prefix="fairif_cv_")
        try:
            for k, (fit_rows, held_out) in enumerate(folds):
                self._log(f"fold {k + 1}/{self.cv}: {len(held_out)} annotated rows held out")
                for rounds in candidates[1:]:
                    model = self._fit_without(
                        inner, X, y, sensitive_features, fit_rows, held_out, rounds, cache, constructor_set
                    )
                    oof[rounds][held_out] = model.predict(_rows(X_ann, held_out))
                oof[0][held_out] = model.erm_estimator_.predict(_rows(X_ann, held_out))
                oof[0][held_out] = model.classes_[oof[0][held_out].astype(int)]
        finally:
            shutil.rmtree(cache, ignore_errors=True)

        self.cv_results_ = self._judge(oof, y_ann, s_ann, strata, inner.target, inner.pos_label)
        self.cv_results_["folds"] = [held_out for _, held_out in folds]
        chosen = self.cv_results_["chosen"]
        self.n_rounds_ = int(chosen)
        self.reweighted_ = self.n_rounds_ > 0
        if self.reweighted_:
            final = inner.set_params(max_rounds=self.n_rounds_)
        else:
            self._log("no candidate beats ERM on the held-out annotated rows by more than noise: ERM is kept")
            final = inner.set_params(tolerance=np.inf, alpha=None)
        self.best_estimator_ = final.fit(X, y, sensitive_features=sensitive_features)
        self.classes_ = self.best_estimator_.classes_
        if hasattr(self.best_estimator_, "n_features_in_"):  # not for a torch Dataset
            self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    def _fit_without(self, inner, X, y, sensitive_features, fit_rows, held_out, rounds, cache, constructor):
        """A clone fitted on everything but the held-out annotated rows, with ``rounds`` rounds."""
        model = clone(inner).set_params(max_rounds=rounds, memory=inner.memory or cache)
        if constructor:
            model.set_params(
                X_val=_rows(inner.X_val, fit_rows),
                y_val=_rows(np.asarray(inner.y_val), fit_rows),
                sensitive_val=_rows(inner.sensitive_val, fit_rows),
            )
            return model.fit(X, y)
        annotated = np.flatnonzero(read_groups(sensitive_features, n_rows=len(y)).annotated)
        keep = np.ones(len(y), dtype=bool)
        keep[annotated[held_out]] = False  # the held-out rows are neither trained on nor annotated
        return model.fit(
            _rows(X, keep), _rows(np.asarray(y), keep), sensitive_features=_rows(sensitive_features, keep)
        )

    def _judge(self, oof, y, s, strata, target, pos_label) -> dict:
        """Out-of-fold gap and accuracy per candidate, their noise against ERM, and the choice."""
        metric = TARGET_METRICS[target][1]
        rng = np.random.RandomState(0)
        boot = [_stratified_resample(strata, rng) for _ in range(N_BOOTSTRAP)]

        labels = {} if target == "accuracy_parity" else {"pos_label": pos_label}

        def figures(pred, rows=slice(None)):
            gap = metric(y[rows], pred[rows], sensitive_features=_rows(s, rows), **labels)
            return gap, np.mean(y[rows] == pred[rows])

        erm_gap, erm_acc = figures(oof[0])
        erm_boot = np.array([figures(oof[0], b) for b in boot])
        results = {
            "rounds": [],
            "gap": [],
            "accuracy": [],
            "gap_diff_se": [],
            "accuracy_diff_se": [],
            "eligible": [],
        }
        best, best_gap = 0, erm_gap
        for r, pred in oof.items():
            gap, acc = figures(pred)
            diff = np.array([figures(pred, b) for b in boot]) - erm_boot
            gap_se, acc_se = diff.std(axis=0)
            drop = erm_acc - acc
            eligible = r == 0 or drop <= self.max_accuracy_drop or drop <= NOISE_Z * acc_se
            for key, value in zip(results, (r, gap, acc, gap_se, acc_se, eligible), strict=True):
                results[key].append(value)
            self._log(
                f"{r} round(s): out-of-fold gap {gap:.4f} (ERM {erm_gap:.4f}, difference se {gap_se:.4f}), "
                f"accuracy {acc:.4f} (ERM {erm_acc:.4f})"
            )
            if r and eligible and gap < best_gap and erm_gap - gap > NOISE_Z * gap_se:
                best, best_gap = r, gap
        results["chosen"] = best
        self._log(f"chosen: {best} round(s)")
        return results

    def predict_proba(self, X):
        """Class probabilities of the chosen model."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def predict(self, X):
        """Predicted class labels of the chosen model."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)


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
