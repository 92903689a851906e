"""``python benchmarks/cv_temperatures.py``: FairIFClassifierCV choosing the soft rates' temperature on
held-out annotated rows, against its default path (a developer tool).

For each data set of ``fairif-bench`` and each seed: the ERM model, FairIF's
defaults, ``FairIFClassifierCV`` with its defaults (its path at temperature 1),
and ``FairIFClassifierCV(temperatures=(1, 3))`` (the same path at temperatures 1
and 3, one chosen on the annotated rows held out of each fold). All four share
the seed's ERM fit and, where they meet, stage 1 (``memory``). Each is judged
on the test split, which drove no choice. Printed per data set: the change of
the mean test AOD and EOD against the same seeds' ERM, accuracy and worst (class,
group) cell changes in points, how many seeds each CV reweighted, at which
temperature the second chose, and each group's test rates under each model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from joblib import Memory

from fairif_sklearn.bench._methods import fairif, fairif_cv

try:
    from _report import seeds_main
    from heldout import METRICS, load
except ImportError:  # imported from its file by the tests
    from benchmarks._report import seeds_main
    from benchmarks.heldout import METRICS, load

METHODS = ("FairIF", "FairIFClassifierCV", "FairIFClassifierCV(temperatures=(1, 3))")


def run_seed(dataset: str, seed: int, cache: str, temperatures=(1.0, 3.0)) -> dict:
    """The four models of one seed, judged on the test split."""
    data = load(dataset, seed)
    memory = Memory(str(Path(cache) / f"{dataset.replace(':', '-')}-{seed}"), verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a round that cannot close every gap says so
        erm, default, _ = fairif(data, seed, memory)
        cv, _ = fairif_cv(data, seed, memory)
        cv_t, path = fairif_cv(data, seed, memory, temperatures=temperatures)
    chosen = path["chosen"]
    return {
        "dataset": dataset,
        "seed": seed,
        "erm": erm.test,
        "fits": dict(zip(METHODS, (default.test, cv.test, cv_t.test), strict=True)),
        "erm_rates": erm.rates,
        "rates": dict(zip(METHODS, (default.rates, cv.rates, cv_t.rates), strict=True)),
        "reweighted": {
            method: bool(result.extra["reweighted"])
            for method, result in zip(METHODS, (default, cv, cv_t), strict=True)
        },  # fmt: skip
        "temperature_chosen": float(path["temperature"][chosen]),
    }


def report(runs: list[dict]) -> str:
    """Per data set: each model against the same seeds' ERM, on the test split."""
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        rows = [r for r in runs if r["dataset"] == dataset]
        erm = {m: np.array([r["erm"][m] for r in rows]) for m in METRICS}
        lines.append(
            f"{dataset}: {len(rows)} seeds, test split; ERM AOD {erm['AOD'].mean():.4f}, EOD "
            f"{erm['EOD'].mean():.4f}, acc {erm['acc'].mean():.4f}, worst cell {erm['WGA'].mean():.4f}"
        )
        lines.append(
            f"  {'':40}  {'AOD vs ERM':>10}  {'EOD vs ERM':>10}  {'acc (pts)':>9}  {'worst cell (pts)':>16}  "
            f"{'reweighted':>10}"
        )
        for method in METHODS:
            f = {m: np.array([r["fits"][method][m] for r in rows]) for m in METRICS}
            lines.append(
                f"  {method:40}  {f['AOD'].mean() / erm['AOD'].mean() - 1:>+10.0%}  "
                f"{f['EOD'].mean() / erm['EOD'].mean() - 1:>+10.0%}  "
                f"{100 * (f['acc'] - erm['acc']).mean():>+9.2f}  "
                f"{100 * (f['WGA'] - erm['WGA']).mean():>+16.2f}  "
                f"{sum(r['reweighted'][method] for r in rows):>5} of {len(rows)}"
            )
        chosen = [r["temperature_chosen"] for r in rows if r["reweighted"][METHODS[2]]]
        counts = ", ".join(f"{t:g}: {chosen.count(t)}" for t in sorted(set(chosen))) or "none"
        lines.append(f"  temperature chosen where the second CV reweighted: {counts}")
        if all("rates" in r for r in rows):  # runs before the rates were kept have none
            lines.append("  each group's test rates (mean over seeds): ERM -> " + ", ".join(METHODS))
            for name in rows[0]["erm_rates"]:
                erm_rate = np.mean([r["erm_rates"][name] for r in rows])
                fit_rates = ", ".join(f"{np.mean([r['rates'][m][name] for r in rows]):.4f}" for m in METHODS)
                lines.append(f"    {name:>10}  {erm_rate:.4f} -> {fit_rates}")
    return "\n".join(lines)


def main(argv=None) -> int:
    return seeds_main(
        argv,
        __doc__.splitlines()[0],
        lambda dataset, seed, cache, args: [run_seed(dataset, seed, cache)],
        report,
        datasets=["adult", "ci-mnist:group_shift"],
    )


if __name__ == "__main__":
    raise SystemExit(main())
