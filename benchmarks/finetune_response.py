"""``python benchmarks/finetune_response.py``: how stage 2's fine-tune responds to the size of the weight
change (a developer tool).

Influence predicts each annotated gap's change to first order in the weight
change ``u = w - 1``, so half the change of weights should give half the
change of each gap. For each data set and seed this fits FairIF's defaults
with one round (``max_rounds=1``: the first round's weights ``w``), then
fine-tunes the ERM
net as stage 2 does (the proximal Bregman fine-tune, one epoch, the fit's
proximal strength) with ``1 + s (w - 1)`` for a few scales ``s``, and with
``1 + 1e-6 z`` (``z`` standard normal: a change of weights that predicts
nothing), and prints, per scale and gap, the realised change of the annotated
gap over ``s`` times the predicted change (the materialisation at that scale),
and how far the parameters moved. A materialisation that stays below one at
small scales is a fine-tune that does not reach what influence predicts even
where the first-order prediction holds; one that falls with the scale is a
response that saturates. The optimizer's own movement is the ``1e-6 z`` row.
``--epochs`` fine-tunes longer than stage 2 does (whether the fine-tune had
converged).

``--solvers`` compares the fine-tune's optimizer with another on the same
weights: ``net`` is the net's own optimizer and learning rate (Adam for
``fairif-bench``'s nets; stage 2's default on a net without BatchNorm), ``nesterov`` is FairIF's
``finetune_solver="nesterov"``: Nesterov's accelerated gradient with a step and
momentum set by the curvature that stage 1 measured, whose move is
proportional to the weight change (an adaptive optimizer's is not: Adam's step
is about its learning rate whatever the gradient's size).
``--net``, ``--rows`` and ``--erm-epochs`` set up other nets on CI-MNIST (the
first ``--rows`` training rows and as large a share of the annotated rows), and
``--closure`` asks the weight solve for part of the way (FairIF's
``closure``). The weights are :class:`~fairif_sklearn.FairIFWeigher`'s with
one round: the first round's, whether or not stage 2's check would keep them.
For example::

    python benchmarks/finetune_response.py --datasets ci-mnist:group_shift --seeds 5
    python benchmarks/finetune_response.py --seeds 4 --solvers net nesterov
    python benchmarks/finetune_response.py --seeds 1 --net resnet --rows 3000 --erm-epochs 3 \\
        --closure 0.05 --solvers net nesterov
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch

from fairif_sklearn import FairIFWeigher
from fairif_sklearn._influence._trees import flatten
from fairif_sklearn._skorch import NetFunctions, finetune_net, nesterov_step
from fairif_sklearn._skorch._fit import seeded
from fairif_sklearn._validation import check_fit_data

try:
    from _report import seeds_main
    from heldout import add_data_arguments, load
except ImportError:  # imported from its file by the tests
    from benchmarks._report import seeds_main
    from benchmarks.heldout import add_data_arguments, load

SCALES = (0.1, 0.5, 1.0)
NOISE = 1e-6


def _moved(net, start) -> float:
    """The Euclidean distance between two nets' parameters."""
    return float(torch.linalg.norm(flatten(NetFunctions(net).params) - flatten(NetFunctions(start).params)))


def run_seed(
    dataset: str,
    seed: int,
    scales=SCALES,
    epochs: int = 1,
    *,
    solvers=("net",),
    net: str = "mlp",
    rows: int | None = None,
    erm_epochs: int | None = None,
    closure: float = 1.0,
) -> list[dict]:
    """One seed: the first round's weights, then per solver one fine-tune per scale (and the noise row)."""
    data = load(dataset, seed, net=net, erm_epochs=erm_epochs, rows=rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a round that cannot close every gap says so
        clf = FairIFWeigher(
            data.make_net(), X_val=data.X_valid, y_val=data.y_valid, sensitive_val=data.s_valid,
            random_state=seed, max_rounds=1, closure=closure,
        ).fit(data.X_train, data.y_train)  # fmt: skip
    if not clf.rounds_:
        return [{"dataset": dataset, "seed": seed, "chased": False}]
    erm, first = clf.erm_estimator_, clf.rounds_[0]
    annotated = check_fit_data(
        data.X_train, data.y_train, None, X_val=data.X_valid, y_val=data.y_valid, sensitive_val=data.s_valid,
        target=clf.target, pos_label=clf.pos_label, holdout_annotated=clf.holdout_annotated,
    )  # fmt: skip
    gaps_of = clf._gaps_of(annotated)  # the fit's own: its groups, rates, temperature
    start = gaps_of.D @ gaps_of.rates_and_errors(NetFunctions(erm))[0]
    np.testing.assert_allclose(start, first["gaps"], rtol=1e-4, atol=1e-5)  # the fit's own gaps (float32)
    predicted = np.asarray(first["predicted_gaps"]) - start
    w = clf.sample_weight_[clf.train_mask_]
    strength = NetFunctions(erm).proximal_strength(clf.damping_)
    z = np.random.RandomState(seed).standard_normal(len(w))
    out = []
    for solver in solvers:
        for scale in (0.0, *scales):
            weights = 1 + (NOISE * z if scale == 0 else scale * (w - 1))
            tuned, nesterov = copy.deepcopy(erm), None
            if solver == "nesterov":
                nesterov = nesterov_step(weights, clf.influence_info_["largest_eigenvalue"], strength)
            with seeded(seed + 1, "cpu"):
                finetune_net(
                    tuned, data.X_train, data.y_train, weights, strength=strength, epochs=epochs,
                    nesterov=nesterov,
                )  # fmt: skip
            realised = gaps_of.D @ gaps_of.rates_and_errors(NetFunctions(tuned))[0] - start
            out.append({
                "dataset": dataset, "seed": seed, "chased": True, "scale": scale, "gaps": start.tolist(),
                "gap_names": list(clf.gap_names_), "epochs": epochs, "solver": solver, "net": net,
                "rows": len(data.y_train), "closure": closure,
                "predicted": (scale * predicted).tolist(), "realised": realised.tolist(),
                "moved": _moved(tuned, erm), "weight_std": float(np.std(weights)),
            })  # fmt: skip
    return out


def _setup(run: dict) -> str:
    """The net, rows and closure of a run (runs written before they were recorded: the defaults')."""
    return f"net {run['net']} on {run['rows']} rows, closure {run['closure']:g}, " if "net" in run else ""


def report(runs: list[dict]) -> str:
    """Per data set and scale: the median materialisation of each gap, and the parameters' move."""
    lines = []
    chased = [r for r in runs if r["chased"]]
    for dataset, solver in dict.fromkeys((r["dataset"], r.get("solver")) for r in chased):
        rows = [r for r in chased if r["dataset"] == dataset and r.get("solver") == solver]
        seeds = sorted({r["seed"] for r in rows})
        n_seeds = len({r["seed"] for r in runs if r["dataset"] == dataset})
        lines += [
            f"{dataset}: {len(seeds)} seeds with a chased gap (of {n_seeds}), {_setup(rows[0])}"
            f"fine-tunes of {rows[0].get('epochs', 1)} epoch(s)" + (f", solver {solver}" if solver else ""),
            f"  realised / predicted change of each annotated gap ({', '.join(rows[0]['gap_names'])}):",
            "  median over seeds [min, max]; and the parameters' move (median over seeds)",
        ]
        for scale in dict.fromkeys(r["scale"] for r in rows):
            at = [r for r in rows if r["scale"] == scale]
            moved = np.median([r["moved"] for r in at])
            if scale == 0:
                change = np.median([np.abs(r["realised"]) for r in at], axis=0)
                lines.append(
                    f"  {f'u = {NOISE:g} z (noise)':<22}gaps moved by {np.round(change, 4).tolist()} "
                    f"(median |change|); parameters moved {moved:.4g}"
                )
                continue
            ratio = np.array([np.divide(r["realised"], r["predicted"]) for r in at])
            cells = ", ".join(f"{np.median(col):.2f} [{col.min():.2f}, {col.max():.2f}]" for col in ratio.T)
            lines.append(f"  {f'u = {scale:g} (w - 1)':<22}{cells}; parameters moved {moved:.4g}")
    return "\n".join(lines)


def main(argv=None) -> int:
    def add_arguments(parser):
        parser.add_argument("--epochs", type=int, default=1, help="the fine-tunes' epochs (stage 2's: 1)")
        parser.add_argument("--solvers", nargs="+", default=["net"], choices=["net", "nesterov"])
        add_data_arguments(parser)
        parser.add_argument("--closure", type=float, default=1.0, help="FairIF's closure for the weights")

    return seeds_main(
        argv,
        __doc__.splitlines()[0],
        lambda dataset, seed, cache, args: run_seed(
            dataset,
            seed,
            epochs=args.epochs,
            solvers=args.solvers,
            net=args.net,
            rows=args.rows,
            erm_epochs=args.erm_epochs,
            closure=args.closure,
        ),
        report,
        datasets=["ci-mnist:group_shift"],
        add_arguments=add_arguments,
    )


if __name__ == "__main__":
    raise SystemExit(main())
