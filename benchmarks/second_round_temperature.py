"""``python benchmarks/second_round_temperature.py``: a second round at the responsive temperature,
judged on annotated rows that did not drive the fit (a developer tool).

FairIF runs a second round only where the first realised too little of its
predicted change. This study, which led to the default ``later_temperature="auto"``,
asks whether that second round should re-linearise at ``temperature="auto"``
rather than at the first round's temperature (1; ``later_temperature="same"``,
the default then and the baseline here): the first round is the default's,
unchanged, so data on which one round suffices (or none runs) are untouched. It
is built from public parts, not from the rounds' own code: where the baseline
ran a second round, the first-round model (``max_rounds=1``) is given to FairIF
through ``FrozenEstimator`` with ``temperature="auto"`` and ``max_rounds=1``.
That second round's bands, its levelling-up anchors and its realised check are
measured at the first-round model and the new temperature, and its weights
start from one; ``later_temperature="auto"`` measures them at the new
temperature too, but counts the anchors from the ERM model and goes on from the
first round's weights.

The annotated rows are cut in two as ``benchmarks/heldout.py`` cuts them; the
report is heldout's, with the value ``1`` for the baseline and ``auto`` for the
second round at the responsive temperature (the same model as the baseline's
where it ran one round or none).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from joblib import Memory
from sklearn.frozen import FrozenEstimator

from fairif_sklearn.bench._methods import _fairif_classifier, fairif

try:
    from _report import seeds_main
    from heldout import halves, load, report
except ImportError:  # imported from its file by the tests
    from benchmarks._report import seeds_main
    from benchmarks.heldout import halves, load, report

PARAM = "round 2 at"


def run_seed(dataset: str, seed: int, cache: str) -> list[dict]:
    """The baseline and the variant of one seed, judged on the held-out half of the annotated rows."""
    data = halves(load(dataset, seed), seed)
    memory = Memory(str(Path(cache) / f"{dataset.replace(':', '-')}-{seed}"), verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a round that cannot close every gap says so
        erm, default, _ = fairif(data, seed, memory, later_temperature="same")
        rounds, variant, temperature = default.extra["n_rounds"], default, None
        if rounds >= 2:
            first = _fairif_classifier(data, seed, memory, max_rounds=1).fit(data.X_train, data.y_train)
            frozen = FrozenEstimator(first.estimator_)
            _, variant, _ = fairif(data, seed, None, estimator=frozen, temperature="auto", max_rounds=1)
            rounds, temperature = 1 + variant.extra["n_rounds"], variant.extra["temperature"]
    common = {"dataset": dataset, "seed": seed, "param": PARAM, "erm": erm.test, "erm_rates": erm.rates}
    return [
        {**common, "value": 1.0, "fairif": default.test, "fairif_rates": default.rates,
         "rounds": default.extra["n_rounds"], "temperature": None},
        {**common, "value": "auto", "fairif": variant.test, "fairif_rates": variant.rates,
         "rounds": rounds, "temperature": temperature},
    ]  # fmt: skip


def main(argv=None) -> int:
    return seeds_main(
        argv,
        __doc__.splitlines()[0],
        lambda dataset, seed, cache, args: run_seed(dataset, seed, cache),
        report,
        datasets=["ci-mnist:group_shift", "ci-mnist:group_size", "ci-mnist:class_size", "adult"],
    )


if __name__ == "__main__":
    raise SystemExit(main())
