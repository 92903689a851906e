"""``python benchmarks/heldout.py``: FairIF with one parameter varied, judged on annotated rows that did
not drive the fit (a developer tool).

For each data set of ``fairif-bench`` (CI-MNIST with one of its biases, UCI Adult,
or the embedded synthetic generator) and each seed, the annotated valid set is cut
at random into two halves: FairIF (its defaults but ``--param``, set to each of
``--values``) is fitted with the first half as ``X_val``, and judged on the
second, which drove nothing (never on the test split: this is a study for
choosing a default). The ERM fit and the net are those of ``fairif-bench`` and
shared between the values of a seed (``memory``), so every value starts from the
same ERM model.

Printed per data set and value: test-free figures on the held-out half (AOD and
EOD of FairIF against the same seeds' ERM, as the change of the mean; accuracy
and worst (class, group) cell changes in points; rounds run), each group's
rates, and per value other than the first, its difference from the first, seed
by seed paired: mean and standard error over the seeds. For example::

    python benchmarks/heldout.py --param max_rounds --values auto 3 --datasets ci-mnist:group_shift
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from joblib import Memory

from fairif_sklearn.bench._datasets import BenchData, adult, ci_mnist, synthetic
from fairif_sklearn.bench._methods import fairif

try:
    from _report import seeds_main
except ImportError:  # imported from its file by the tests
    from benchmarks._report import seeds_main

METRICS = ("AOD", "EOD", "acc", "WGA")


def load(
    dataset: str, seed: int, *, net: str = "mlp", erm_epochs: int | None = None, rows: int | None = None
) -> BenchData:
    """``ci-mnist:BIAS``, ``adult`` or ``synthetic:BIAS``, as ``fairif-bench`` draws it; on CI-MNIST
    with another of its nets (``net``) or ERM epochs, and with ``rows`` the first training rows and
    as large a share of the annotated rows."""
    name, _, bias = dataset.partition(":")
    if name != "ci-mnist" and (net != "mlp" or erm_epochs is not None):
        raise ValueError(f"another net or ERM epochs are for CI-MNIST, got {dataset!r}")
    if name == "ci-mnist":
        epochs = {} if erm_epochs is None else {"max_epochs": erm_epochs}
        data = ci_mnist(seed, bias=bias, device="cpu", net=net, **epochs)
    elif name == "adult":
        data = adult(seed, device="cpu")
    elif name == "synthetic":
        data = synthetic(seed, bias=bias, device="cpu")
    else:
        raise ValueError(f"unknown data set {dataset!r}: ci-mnist:BIAS, adult or synthetic:BIAS")
    if rows is None or rows >= len(data.y_train):
        return data
    m = len(data.y_valid) * rows // len(data.y_train)
    return replace(
        data, X_train=data.X_train[:rows], y_train=data.y_train[:rows],
        X_valid=data.X_valid[:m], y_valid=data.y_valid[:m], s_valid=data.s_valid[:m],
    )  # fmt: skip


def parse_value(text: str):
    """A command-line value as FairIF takes it: an int, a float, or a string (such as ``"auto"``)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def fits(data: BenchData, dataset: str, seed: int, param: str, values, cache: str) -> list[dict]:
    """Every value's FairIF fit of one seed with ``fairif-bench``'s own FairIF runner, all from the
    seed's one ERM fit and stage 1 (``memory``), judged on ``data``'s test split."""
    memory = Memory(str(Path(cache) / f"{dataset.replace(':', '-')}-{seed}"), verbose=0)
    out = []
    for value in values:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a round that cannot close every gap says so
            erm, result, _ = fairif(data, seed, memory, **{param: value})
        out.append(
            {
                "dataset": dataset,
                "seed": seed,
                "param": param,
                "value": value,
                "seconds": result.extra["fit_seconds"],
                "erm": erm.test,
                "fairif": result.test,
                "erm_rates": erm.rates,
                "fairif_rates": result.rates,
                "rounds": result.extra["n_rounds"],
                "temperature": result.extra["temperature"],
                "steps": result.extra["steps"],
                "weight_std": result.extra["weight_std"],
                "materialization": result.extra["materialization"],
            }
        )
    return out


def add_data_arguments(parser) -> None:
    """The command-line options of :func:`load`'s other CI-MNIST nets, ERM epochs and row subsets."""
    parser.add_argument("--net", default="mlp", choices=["mlp", "cnn", "resnet"], help="CI-MNIST's net")
    parser.add_argument("--rows", type=int, default=None, help="the first training rows only")
    parser.add_argument("--erm-epochs", type=int, default=None, help="the ERM fit's epochs (CI-MNIST)")


def run_seed(
    dataset: str, seed: int, param: str, values, cache: str, *, net="mlp", rows=None, erm_epochs=None
) -> list[dict]:
    """Every value's FairIF fit of one seed, driven by one half of the annotated rows and judged on
    the other (:func:`fits` with the halves as its annotated and test sets; ``net``, ``rows``,
    ``erm_epochs`` as :func:`load` takes them)."""
    data = load(dataset, seed, net=net, erm_epochs=erm_epochs, rows=rows)
    runs = fits(halves(data, seed), dataset, seed, param, values, cache)
    return [{**run, "net": net, "rows": len(data.y_train)} for run in runs]


def halves(data: BenchData, seed: int) -> BenchData:
    """``data`` with its annotated rows cut in two at random (``seed``): the first half stays the
    annotated set, which drives FairIF, and the second becomes the test split, which judges it."""
    order = np.random.RandomState(seed).permutation(len(data.y_valid))
    drive, judge = order[: len(order) // 2], order[len(order) // 2 :]
    return replace(
        data,
        X_valid=data.X_valid[drive], y_valid=data.y_valid[drive], s_valid=data.s_valid[drive],
        X_test=data.X_valid[judge], y_test=data.y_valid[judge], s_test=data.s_valid[judge],
    )  # fmt: skip


def _param(run: dict) -> str:
    return run.get("param", "temperature")  # runs written before the parameter was recorded


def _value(run: dict):
    return run["value"] if "value" in run else run["temperature"]


def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def report(runs: list[dict]) -> str:
    """The table: per data set and value, against ERM, and paired against the first value."""
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        rows = [r for r in runs if r["dataset"] == dataset]
        param = _param(rows[0])
        values = list(dict.fromkeys(_value(r) for r in rows))
        seeds = sorted({r["seed"] for r in rows})
        by = {(r["seed"], _value(r)): r for r in rows}
        erm = {m: np.array([by[s, values[0]]["erm"][m] for s in seeds]) for m in METRICS}
        net, n = rows[0].get("net", "mlp"), rows[0].get("rows")
        on = f", net {net} on {n} training rows" if net != "mlp" else ""
        lines.append(
            f"{dataset}{on}: {len(seeds)} seeds, judged on the held-out half of the annotated rows;"
            + ("\n  " if on else " ")  # another net's header on two lines: the page's width
            + f"ERM AOD {erm['AOD'].mean():.4f}, EOD {erm['EOD'].mean():.4f}, acc {erm['acc'].mean():.4f}, "
            f"worst cell {erm['WGA'].mean():.4f}"
        )
        lines.append(
            f"  {param:>11}  {'AOD vs ERM':>10}  {'EOD vs ERM':>10}  {'acc (pts)':>9}  "
            f"{'worst cell (pts)':>16}  {'rounds':>6}"
        )
        fits = {v: {m: np.array([by[s, v]["fairif"][m] for s in seeds]) for m in METRICS} for v in values}
        for v in values:
            f = fits[v]
            lines.append(
                f"  {_show(v):>11}  {f['AOD'].mean() / erm['AOD'].mean() - 1:>+10.0%}  "
                f"{f['EOD'].mean() / erm['EOD'].mean() - 1:>+10.0%}  "
                f"{100 * (f['acc'] - erm['acc']).mean():>+9.2f}  "
                f"{100 * (f['WGA'] - erm['WGA']).mean():>+16.2f}  "
                f"{np.mean([by[s, v]['rounds'] for s in seeds]):>6.1f}"
            )
        if all("fairif_rates" in r for r in rows):
            lines.append(f"  each group's rates on the judging half (mean over seeds), ERM -> each {param}:")
            for name in rows[0]["erm_rates"]:
                erm_rate = np.mean([by[s, values[0]]["erm_rates"][name] for s in seeds])
                fit_rates = ", ".join(
                    f"{np.mean([by[s, v]['fairif_rates'][name] for s in seeds]):.4f}" for v in values
                )
                lines.append(f"    {name:>10}  {erm_rate:.4f} -> {fit_rates}")
        for v in values[1:]:
            diffs = []
            for m in METRICS:
                d = fits[v][m] - fits[values[0]][m]
                scale = 100 if m in ("acc", "WGA") else 1
                se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
                unit = " pts" if scale == 100 else ""
                diffs.append(f"{m} {scale * d.mean():+.4f} +- {scale * se:.4f}{unit}")
            lines.append(f"  {param} {_show(v)} - {_show(values[0])}, paired over seeds: " + ", ".join(diffs))
    return "\n".join(lines)


def main(argv=None) -> int:
    def add_arguments(parser):
        parser.add_argument("--param", default="max_rounds", help="the FairIFClassifier parameter varied")
        parser.add_argument(
            "--values",
            type=parse_value,
            nargs="+",
            default=["auto", 3],
            help="its values, the first the base",
        )
        add_data_arguments(parser)

    return seeds_main(
        argv,
        __doc__.splitlines()[0],
        lambda dataset, seed, cache, args: run_seed(
            dataset,
            seed,
            args.param,
            args.values,
            cache,
            net=args.net,
            rows=args.rows,
            erm_epochs=args.erm_epochs,
        ),
        report,
        datasets=["ci-mnist:group_shift", "adult"],
        add_arguments=add_arguments,
    )


if __name__ == "__main__":
    raise SystemExit(main())
