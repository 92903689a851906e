"""``python benchmarks/survey_weights.py``: FairIF given a data set's survey weights as ``sample_weight``,
judged by the weighted population's gaps (a developer tool).

UCI Adult's ``fnlwgt`` says how many people of the US population a row stands
for. Per seed, on ``fairif-bench``'s draw (its nets, its annotated valid set):
FairIF's defaults fitted without weights and with ``fnlwgt`` as
``sample_weight`` (the training rows' loss and the annotated rows' rates), each
with the ERM model it started from, and the two same-budget peers a
practitioner would try instead (DFR and JTT, their defaults, given the same
weights), every fit on the same rows in the routed form
(``sensitive_features`` missing on the training rows). All of them are judged
on the test split, which drove nothing, with the test rows' ``fnlwgt`` (the
population's AOD, EOD, accuracy, worst (class, group) cell and each group's
rates) and without. ``synthetic:BIAS`` draws weights at random (uniform on
[0.5, 3]), for a quick run.
"""

from __future__ import annotations

import warnings

import numpy as np

from fairif_sklearn import FairIFClassifier
from fairif_sklearn.baselines import DFRClassifier, JTTClassifier
from fairif_sklearn.metrics import average_odds_difference, equal_opportunity_difference, worst_group_accuracy
from fairif_sklearn.metrics._fairness import group_rates

try:
    from _report import seeds_main
    from heldout import load as load_draw
except ImportError:  # imported from its file by the tests
    from benchmarks._report import seeds_main
    from benchmarks.heldout import load as load_draw

METRICS = ("AOD", "EOD", "acc", "WGA")
MODELS = (
    "ERM", "FairIF", "DFR", "JTT", "ERM, weighted", "FairIF, weighted", "DFR, weighted", "JTT, weighted"
)  # fmt: skip
PEERS = {"DFR": DFRClassifier, "JTT": JTTClassifier}


def survey_weights(dataset: str, seed: int, data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The train, annotated valid and test rows' weights of ``fairif-bench``'s draw of ``dataset``."""
    if dataset != "adult":
        rng = np.random.RandomState(seed + 30_000)
        return tuple(rng.uniform(0.5, 3.0, len(y)) for y in (data.y_train, data.y_valid, data.y_test))
    from fairif_sklearn.bench._datasets import adult_rows
    from fairif_sklearn.datasets import load_adult

    d = load_adult()
    train, valid = adult_rows(d.y_train, seed)
    weight = d.X_train["fnlwgt"].to_numpy(dtype=float)
    return weight[train], weight[valid], d.X_test["fnlwgt"].to_numpy(dtype=float)


def figures(y, pred, s, weight=None) -> dict:
    """Test AOD, EOD, accuracy and worst cell (weighted by ``weight`` when given), and each group's
    rates."""
    kw = dict(sensitive_features=s, sample_weight=weight)
    return {
        "AOD": average_odds_difference(y, pred, **kw),
        "EOD": equal_opportunity_difference(y, pred, **kw),
        "acc": float(np.average(y == pred, weights=weight)),
        "WGA": worst_group_accuracy(y, pred, **kw),
        "rates": group_rates(y, pred, **kw),
    }


def run_seed(dataset: str, seed: int) -> dict:
    """The eight models of one seed, judged on the test split with and without its weights."""
    data = load_draw(dataset, seed)
    w_train, w_valid, w_test = survey_weights(dataset, seed, data)
    X = np.concatenate([data.X_train, data.X_valid])
    y = np.concatenate([data.y_train, data.y_valid])
    groups = np.concatenate([np.full(len(data.y_train), None, dtype=object), data.s_valid.astype(object)])
    fits = {}
    for weighted, weight in ((False, None), (True, np.concatenate([w_train, w_valid]))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a round that cannot close every gap says so
            clf = FairIFClassifier(data.make_net(), random_state=seed)
            clf.fit(X, y, sensitive_features=groups, sample_weight=weight)
        suffix = ", weighted" if weighted else ""
        erm_pred = clf.classes_[clf.erm_estimator_.predict(data.X_test).astype(int)]
        preds = {f"ERM{suffix}": erm_pred, f"FairIF{suffix}": clf.predict(data.X_test)}
        for peer, cls in PEERS.items():
            fitted = cls(data.make_net(), random_state=seed).fit(
                X, y, sensitive_features=groups, sample_weight=weight
            )
            preds[f"{peer}{suffix}"] = fitted.predict(data.X_test)
        for name, pred in preds.items():
            fits[name] = {
                "population": figures(data.y_test, pred, data.s_test, w_test),
                "rows": figures(data.y_test, pred, data.s_test),
            }
        fits[f"FairIF{suffix}"]["reweighted"] = bool(clf.reweighted_)
        fits[f"FairIF{suffix}"]["annotated_gaps"] = clf.gaps_.tolist()
    return {"dataset": dataset, "seed": seed, "fits": fits}


def report(runs: list[dict]) -> str:
    """Per data set and way of judging: each model's mean figures, and its change against the ERM fit
    of the same weighting (FairIF's and DFR's own ERM model; JTT retrains from scratch)."""
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        rows = [r for r in runs if r["dataset"] == dataset]
        for judged, title in (("population", "the test rows weighted"), ("rows", "every test row once")):
            lines.append(f"{dataset}: {len(rows)} seeds, test split, {title}")
            lines.append(
                f"  {'':18}  {'AOD':>7}  {'EOD':>7}  {'acc':>7}  {'worst':>7}  {'AOD vs ERM':>10}  "
                f"{'EOD vs ERM':>10}  {'acc (pts)':>9}  {'worst (pts)':>11}  reweighted"
            )
            for model in MODELS:
                f = {m: np.mean([r["fits"][model][judged][m] for r in rows]) for m in METRICS}
                line = f"  {model:18}  {f['AOD']:.4f}   {f['EOD']:.4f}   {f['acc']:.4f}   {f['WGA']:.4f}"
                if not model.startswith("ERM"):
                    _, comma, weighting = model.partition(",")
                    erm = "ERM" + comma + weighting  # "DFR, weighted" -> "ERM, weighted"
                    e = {m: np.mean([r["fits"][erm][judged][m] for r in rows]) for m in METRICS}
                    line += (
                        f"  {f['AOD'] / e['AOD'] - 1:>+10.0%}  {f['EOD'] / e['EOD'] - 1:>+10.0%}  "
                        f"{100 * (f['acc'] - e['acc']):>+9.2f}  {100 * (f['WGA'] - e['WGA']):>+11.2f}"
                    )
                    if model.startswith("FairIF"):
                        line += f"  {sum(r['fits'][model]['reweighted'] for r in rows)} of {len(rows)}"
                lines.append(line)
            names = list(rows[0]["fits"][MODELS[0]][judged]["rates"])
            lines.append("  each group's rates (mean over seeds): " + ", ".join(MODELS))
            for name in names:
                values = ", ".join(
                    f"{np.mean([r['fits'][m][judged]['rates'][name] for r in rows]):.4f}" for m in MODELS
                )
                lines.append(f"    {name:>12}  {values}")
    return "\n".join(lines)


def main(argv=None) -> int:
    return seeds_main(
        argv,
        __doc__.splitlines()[0],
        lambda dataset, seed, cache, args: [run_seed(dataset, seed)],
        report,
        datasets=["adult"],
    )


if __name__ == "__main__":
    raise SystemExit(main())
