"""``python benchmarks/finetune_solver.py``: FairIF with the net's optimizer in the fine-tune against
Nesterov's, on the test split (a developer tool).

For each seed, one ERM fit of ``fairif-bench``'s net on CI-MNIST (``--net``, its
first ``--rows`` training rows and as large a share of the annotated rows,
``--erm-epochs`` epochs) or on another bench data set, then FairIF with
``finetune_solver="net"`` and with ``finetune_solver="nesterov"`` from that ERM
model and its stage 1 (``memory``), every other setting the default (the
default, ``"auto"``, is ``"nesterov"`` on a net with BatchNorm such as the
ResNet, ``"net"`` otherwise): the only difference is the fine-tune's optimizer.
Printed per solver: test accuracy, worst (class, group) cell, AOD and EOD
against ERM (the change of the mean over seeds), each group's test rates, and
per seed the realised check's steps and the first round's materialisation on
the annotated set. For example::

    python benchmarks/finetune_solver.py --net resnet --rows 3000 --erm-epochs 3 --seeds 3
"""

from __future__ import annotations

import numpy as np

try:
    from _report import seeds_main
    from heldout import add_data_arguments, fits, load
except ImportError:  # imported from its file by the tests
    from benchmarks._report import seeds_main
    from benchmarks.heldout import add_data_arguments, fits, load

SOLVERS = ("net", "nesterov")
METRICS = ("acc", "WGA", "AOD", "EOD")


def run_seed(dataset: str, seed: int, cache: str, net: str, rows, erm_epochs) -> list[dict]:
    """Both solvers' FairIF fits of one seed, from one ERM fit and stage 1, judged on the test split."""
    data = load(dataset, seed, net=net, erm_epochs=erm_epochs, rows=rows)
    runs = fits(data, dataset, seed, "finetune_solver", SOLVERS, cache)
    return [{**run, "net": net, "rows": len(data.y_train)} for run in runs]


def _mean(rows: list[dict], key: str, name: str) -> float:
    return float(np.mean([r[key][name] for r in rows]))


def report(runs: list[dict]) -> str:
    """Per data set and solver: the change of each metric's mean against ERM, rates, and per seed."""
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        rows = [r for r in runs if r["dataset"] == dataset]
        by_solver = {v: [r for r in rows if r["value"] == v] for v in SOLVERS}
        base = by_solver[SOLVERS[0]]
        erm = {m: _mean(base, "erm", m) for m in METRICS}
        lines += [
            f"{dataset}, net {rows[0]['net']} on {rows[0]['rows']} training rows: {len(base)} seeds, "
            f"test split; ERM acc {erm['acc']:.4f}, worst cell {erm['WGA']:.4f}, AOD {erm['AOD']:.4f}, "
            f"EOD {erm['EOD']:.4f}",
            "     solver  acc (pts)  worst cell (pts)  AOD vs ERM  EOD vs ERM",
        ]
        for solver, at in by_solver.items():
            f = {m: _mean(at, "fairif", m) for m in METRICS}
            lines.append(
                f"  {solver:>9}  {100 * (f['acc'] - erm['acc']):>+9.2f}  "
                f"{100 * (f['WGA'] - erm['WGA']):>+16.2f}  {f['AOD'] / erm['AOD'] - 1:>+10.0%}  "
                f"{f['EOD'] / erm['EOD'] - 1:>+10.0%}"
            )
        lines.append("  each group's test rates (mean over seeds), ERM -> " + ", ".join(SOLVERS) + ":")
        for name in rows[0]["erm_rates"]:
            after = ", ".join(f"{_mean(at, 'fairif_rates', name):.4f}" for at in by_solver.values())
            lines.append(f"    {name:>12}  {_mean(base, 'erm_rates', name):.4f} -> {after}")
        lines.append("  per seed: test AOD ERM -> FairIF, the check's steps, first-round materialisation")
        for r in sorted(rows, key=lambda r: (r["seed"], SOLVERS.index(r["value"]))):
            lines.append(
                f"    seed {r['seed']} {r['value']:>9}: AOD {r['erm']['AOD']:.4f} -> "
                f"{r['fairif']['AOD']:.4f}, steps {r['steps']}, "
                f"materialisation {np.round(r['materialization'], 2).tolist()}"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    def add_arguments(parser):
        add_data_arguments(parser)

    return seeds_main(
        argv,
        __doc__.splitlines()[0],
        lambda dataset, seed, cache, args: run_seed(
            dataset, seed, cache, args.net, args.rows, args.erm_epochs
        ),
        report,
        datasets=["ci-mnist:group_shift"],
        add_arguments=add_arguments,
    )


if __name__ == "__main__":
    raise SystemExit(main())
