"""FairIFClassifier: the whole FairIF method as one scikit-learn classifier."""

from __future__ import annotations

from dataclasses import replace

from sklearn.base import ClassifierMixin, _fit_context

from .._runtime import keeps_torch_rng
from .._skorch import NetFunctions
from ._base import _FairIFBase
from ._docs import fill_doc
from ._predict import _NetPredictMixin


@fill_doc
class FairIFClassifier(_NetPredictMixin, ClassifierMixin, _FairIFBase):
    """A skorch classifier made fairer by influence-balanced reweighting (FairIF).

    ``fit`` runs the whole method of Wang, Wu and He: an ERM fit, the influence
    of every training row on the gaps in true-positive and true-negative rates
    between the groups of a small annotated set, the sample weights that close
    those gaps (stage 1, as :class:`FairIFWeigher` computes it), and a final fit
    of the net with those weights. ``predict``, ``predict_proba`` and ``score``
    use the final net.

    Parameters
    ----------
    {{parameters}}

    Attributes
    ----------
    estimator_ : skorch net
        The final net, trained with ``sample_weight_``.
    final_gaps_ : ndarray of shape (n_gaps,)
        The soft-rate gaps on the annotated set at the final model: compare with
        ``gaps_`` and ``predicted_gaps_`` to see whether influence worked.
    final_group_rates_ : ndarray of shape (n_cells,)
        Each (rate, group) cell's soft rate on the annotated set at the final
        model (names in ``rate_names_``): compare with ``group_rates_`` and
        ``predicted_group_rates_`` to see how each gap closed.
    final_group_rates_stderr_ : ndarray of shape (n_cells,)
        Their standard errors over the draw of the annotated rows.
    {{attributes}}

    See Also
    --------
    FairIFWeigher : Stage 1 alone: the weights without the final fit.

    Examples
    --------
    >>> import numpy as np
    >>> from fairif_sklearn import FairIFClassifier
    >>> from fairif_sklearn.datasets import make_biased_classification
    >>> from fairif_sklearn.nets import make_mlp_classifier
    >>> X, y, s = make_biased_classification(n_samples=2000, random_state=0)
    >>> groups = s.astype(float)
    >>> groups[500:] = np.nan  # group labels for 500 rows only
    >>> net = make_mlp_classifier(X.shape[1], hidden=(8,), max_epochs=5)
    >>> clf = FairIFClassifier(net, random_state=0).fit(X, y, sensitive_features=groups)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.gap_names_
    ['TPR(1) - TPR(0)', 'TNR(1) - TNR(0)']
    """

    @_fit_context(prefer_skip_nested_validation=False)  # the net is cloned and checked in fit
    @keeps_torch_rng  # a Dataset's rows are read through DataLoaders, which draw from it
    def fit(self, X, y, *, sensitive_features=None, sample_weight=None):
        """Run FairIF: ERM, influence, weight solve, weighted fit.

        {{fit_sections}}
        """
        data, stage1 = self._fit_stage1(X, y, sensitive_features, sample_weight)
        self.estimator_ = self._reweight(data, stage1, final_fit=True)
        last = self.rounds_[-1] if self.reweighted_ else None
        if last is None:
            self.final_gaps_ = self.gaps_.copy()
            self.final_group_rates_ = self.group_rates_.copy()
            self.final_group_rates_stderr_ = self.group_rates_stderr_.copy()
        elif last["temperature"] == self.temperature_:
            self.final_gaps_ = last["final_gaps"]
            self.final_group_rates_ = last["final_rates"]
            self.final_group_rates_stderr_ = last["final_rates_stderr"]
        else:  # a later round's own temperature: measured again at the first's, to compare with gaps_
            gaps_of = replace(self._gaps_of(data), temperature=self.temperature_)
            rates = gaps_of.rates_and_errors(NetFunctions(self.estimator_))
            self.final_group_rates_, self.final_group_rates_stderr_ = rates
            self.final_gaps_ = stage1.influence.gap_rows @ self.final_group_rates_
        return self
