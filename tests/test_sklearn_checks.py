"""scikit-learn's estimator checks, each expected failure listed with its reason.

The checks fit on data without group labels and mostly with a 3-class target.
FairIF needs an annotated set (the checks cannot pass one) and a binary target,
so the checks that fit FairIFClassifier or FairIFWeigher fail for one of those
two reasons; WeightedNetClassifier needs only the binary target. Every other
check, those that need no fit among them, must pass.
"""

import warnings

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fairif_sklearn import FairIFClassifier, FairIFWeigher, WeightedNetClassifier

from ._helpers import any_width_net

pytestmark = pytest.mark.slow

NO_ANNOTATED_SET = "fit needs an annotated set (group labels) that the checks do not pass"
BINARY_ONLY = "the check fits a 3-class target; these estimators support binary targets only"
# the checks that fit a 3-class target
MULTICLASS_CHECKS = [
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_dtype_object", "check_f_contiguous_array_estimator", "check_supervised_y_2d",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_dict_unchanged",
    "check_fit2d_predict1d",
]  # fmt: skip

# check name -> reason, for the FairIF estimators
FAIRIF_FAILURES = {
    **dict.fromkeys(MULTICLASS_CHECKS, BINARY_ONLY),
    **dict.fromkeys(
        ["check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_pipeline_consistency",
         "check_estimators_nan_inf", "check_estimators_pickle", "check_classifier_data_not_an_array",
         "check_classifiers_classes", "check_classifiers_train",
         "check_fit2d_1feature", "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in"],
        NO_ANNOTATED_SET,
    ),
    "check_array_api_input": "needs SCIPY_ARRAY_API",
}  # fmt: skip

WEIGHTED_NET_FAILURES = {
    **dict.fromkeys(
        [
            *MULTICLASS_CHECKS,
            "check_classifiers_classes",
            "check_classifiers_train",
            "check_positive_only_tag_during_fit",
            "check_sample_weight_equivalence_on_dense_data",
            "check_sample_weights_list",
        ],
        BINARY_ONLY,
    ),
    "check_array_api_input": "needs SCIPY_ARRAY_API",
}


def _expected_failures(estimator):
    if isinstance(estimator, WeightedNetClassifier):
        return WEIGHTED_NET_FAILURES
    return FAIRIF_FAILURES


@parametrize_with_checks(
    [
        FairIFClassifier(any_width_net(), random_state=0),
        FairIFWeigher(any_width_net(), random_state=0),
        WeightedNetClassifier(any_width_net(), random_state=0),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)
