"""The estimators' docstrings say what the code does: parameters, defaults, fitted attributes.

Read with numpydoc as the API pages render them:

* every ``__init__`` parameter is documented, nothing else is, and each
  documented ``default=`` is the signature's default (a parameter without a
  default documents none);
* after a tiny fit, every documented attribute is set, and every public
  attribute ending in ``_`` that the fit set is documented;
* the keys documented for ``influence_info_`` are the keys it holds.

A parameter, attribute or key added, removed or renamed without its
documentation (or the other way round) fails here.
"""

import ast
import inspect
import re

import numpy as np
import pandas as pd
import pytest
from numpydoc.docscrape import NumpyDocString

from fairif_sklearn import FairIFClassifier, FairIFClassifierCV, FairIFWeigher, WeightedNetClassifier
from fairif_sklearn.datasets import make_biased_classification

from ._helpers import small_net

ESTIMATORS = [FairIFClassifier, FairIFWeigher, FairIFClassifierCV, WeightedNetClassifier]
NO_DEFAULT = object()


def _section(cls, name: str) -> dict[str, str]:
    """{name: type} of a section of the class docstring; "a, b : t" documents a and b."""
    entries = {}
    for item in NumpyDocString(inspect.getdoc(cls))[name]:
        for each in item.name.split(","):
            entries[each.strip()] = item.type
    return entries


def _documented_default(type_: str):
    found = re.search(r"default\s*=\s*(.+?)\s*$", type_)
    if found is None:
        return NO_DEFAULT
    text = found.group(1)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pytest.fail(f"a documented default that is not a Python literal: default={text}")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_parameter_is_documented_with_its_real_default(cls):
    signature = {
        name: (NO_DEFAULT if p.default is inspect.Parameter.empty else p.default)
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
    }
    documented = _section(cls, "Parameters")
    assert set(documented) == set(signature), (
        f"undocumented: {sorted(set(signature) - set(documented))}, "
        f"documented but not a parameter: {sorted(set(documented) - set(signature))}"
    )
    wrong = {}
    for name, default in signature.items():
        said = _documented_default(documented[name])
        same = said is default if NO_DEFAULT in (said, default) else said == default
        if not same or type(said) is not type(default):
            wrong[name] = (said, default)
    assert not wrong, f"{cls.__name__}: (documented, real) defaults differ: {wrong}"


@pytest.fixture(scope="module")
def tiny_fits():
    """One tiny fit of each estimator, on a DataFrame with string column names."""
    X, y, s = make_biased_classification(600, bias="group_shift", random_state=0)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    groups = np.where(np.arange(len(y)) < 300, s, np.nan)
    net = small_net(X.shape[1], max_epochs=2)
    fits = {}
    for cls in (FairIFClassifier, FairIFWeigher):
        fits[cls] = cls(net, random_state=0).fit(X, y, sensitive_features=groups)
    cv = FairIFClassifierCV(FairIFClassifier(net, random_state=0), max_rounds=1)
    # an array: FairIFClassifierCV hands the held-out rows of a DataFrame to the bare net
    fits[FairIFClassifierCV] = cv.fit(X.to_numpy(), y, sensitive_features=groups)
    fits[WeightedNetClassifier] = WeightedNetClassifier(net, random_state=0).fit(X, y)
    return fits


def _fitted_attributes(estimator) -> set[str]:
    """The public attributes ending in one underscore that the estimator holds."""
    names = set(vars(estimator)) | {
        name
        for name, value in inspect.getmembers(type(estimator))
        if isinstance(value, property) and hasattr(estimator, name)
    }
    return {n for n in names if n.endswith("_") and not n.startswith("_") and not n.endswith("__")}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_documented_attributes_are_the_fitted_ones(cls, tiny_fits):
    documented = set(_section(cls, "Attributes"))
    fitted = _fitted_attributes(tiny_fits[cls])
    assert not documented - fitted, f"{cls.__name__} documents attributes a fit does not set: " + str(
        sorted(documented - fitted)
    )
    assert not fitted - documented, f"{cls.__name__} sets undocumented attributes: " + str(
        sorted(fitted - documented)
    )


@pytest.mark.parametrize("cls", [FairIFClassifier, FairIFWeigher], ids=lambda c: c.__name__)
def test_documented_influence_info_keys_are_the_real_keys(cls, tiny_fits):
    description = next(
        "\n".join(item.desc)
        for item in NumpyDocString(inspect.getdoc(cls))["Attributes"]
        if item.name == "influence_info_"
    )
    documented = set(re.findall(r'``"(\w+)"``', description))
    assert documented == set(tiny_fits[cls].influence_info_), (
        f"documented only: {sorted(documented - set(tiny_fits[cls].influence_info_))}, "
        f"held only: {sorted(set(tiny_fits[cls].influence_info_) - documented)}"
    )


def test_user_guide_states_the_engines_constants():
    # the user guide's "Defaults, and why" and influence sections quote the engine's constants
    from pathlib import Path

    from fairif_sklearn._influence import _curvature, _engine

    guide = " ".join((Path(__file__).parents[1] / "doc" / "user_guide.rst").read_text().split())
    claims = {
        f'``curvature_subsample="auto"`` ({_engine.AUTO_CURVATURE_ROWS} rows; '
        f"{_engine.AUTO_CURVATURE_ROWS_FACTORS} on a net with convolutions)",
        f'``damping="auto"``: {_engine.AUTO_DAMPING_FRACTION:.0%} of the curvature',
        f"when the batches' fit in {_curvature.LINEARISED_MEMORY // 2**20} MB",
    }
    assert {claim for claim in claims if claim not in guide} == set()
