"""``python benchmarks/versions.py OLD NEW``: stage 1 of two checkouts side by side (a developer tool).

Fits one net on CI-MNIST rows (group shift, the ``fairif-bench`` nets) with
the checkout this script runs from, then times, in fresh processes taking
turns, each checkout's stage 1 at the defaults on that same fitted net, next
to one ERM epoch of the same net in the same process (the median of epochs
two and three, the first warming the process up). It prints, per checkout,
the medians, stage 1 in epochs, stage 1 run a second time in the same process
(the first run's extra is what a process pays once), the time of the curvature products, scores
and rates' gradients, the damping and iterations chosen, and the rank
correlation of each cell's scores with the first checkout's; then stage 2's
one-epoch fine-tune of a copy of the net (the same fixed weights and strength
for both checkouts): its time, and the sum of its parameters, which is the
same to the digit where the two checkouts train alike.

It times stage 1 as ``benchmarks/stage1.py`` runs it (its ``_stage1``, the weight solve included),
which imports the library's private pieces by their private names; the
checkouts must both have them (``compute_influence``, ``AnnotatedGaps``, ``finetune_net``).
Needs the CI-MNIST data (``FAIRIF_DATA``)::

    git worktree add ../old <commit>
    python benchmarks/versions.py ../old . --net resnet --n 5000 --epochs 2 --repeats 1
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.stats import spearmanr


def child(path: str, threads: int) -> None:
    """In a fresh process of one checkout: one ERM epoch and stage 1 on the pickled net; JSON out."""
    import torch

    from fairif_sklearn._influence import AnnotatedGaps, _curvature
    from fairif_sklearn._influence import _engine as engine
    from fairif_sklearn._skorch import finetune_net, fit_net

    stage1 = _stage1_benchmark()
    stage1.configure(threads, "cpu")
    with open(path, "rb") as f:
        net, fresh, X, y, X_val, y_val, s_val = pickle.load(f)
    fit_net(fresh.set_params(max_epochs=3), X, y)  # the first epoch warms the process up
    epoch = statistics.median(fresh.history[1:, "dur"])
    parts: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            parts[name] = parts.get(name, 0.0) + time.perf_counter() - start
            return out

        return wrapper

    _curvature.CurvatureOperator.matmat = timed("curvature products", _curvature.CurvatureOperator.matmat)
    engine.influence_scores = timed("scores", engine.influence_scores)
    AnnotatedGaps.rates_and_gradients = timed("rates and gradients", AnnotatedGaps.rates_and_gradients)
    start = time.perf_counter()
    result, _ = stage1._stage1(net, X, y, X_val, y_val, s_val)  # the defaults, the weight solve included
    seconds = time.perf_counter() - start
    first_parts = dict(parts)  # the first run's: the second adds to them
    start = time.perf_counter()
    stage1._stage1(net, X, y, X_val, y_val, s_val)  # again: what the first paid once per process
    again = time.perf_counter() - start
    diagnostics = {k: v for k, v in result.diagnostics.items() if k != "gap_gradient_norm"}
    # stage 2's one-epoch fine-tune of a copy of the net, with fixed weights and strength (the same
    # in both checkouts): its time, and its parameters' sum to compare the checkouts' training
    weights = np.random.RandomState(0).uniform(0.5, 1.5, len(y))
    tuned = copy.deepcopy(net)
    torch.manual_seed(0)
    start = time.perf_counter()
    finetune_net(tuned, X, y, weights / weights.mean(), strength=0.3, epochs=1)
    finetune = time.perf_counter() - start
    checksum = float(sum(p.detach().double().sum() for p in tuned.module_.parameters()))
    print(json.dumps({
        "epoch_s": epoch, "stage1_s": seconds, "stage1_again_s": again, "parts_s": first_parts,
        "damping": result.damping,
        "cg_iterations": result.solve.n_iter, "residual": result.solve.residual,
        "diagnostics": diagnostics, "scores": result.rate_scores.tolist(),
        "finetune_s": finetune, "finetune_checksum": checksum,
    }))  # fmt: skip


def _stage1_benchmark():
    """``benchmarks/stage1.py`` as a module: its stage 1 at the defaults and its CI-MNIST nets.

    Loaded from its file, not by putting ``benchmarks/`` on ``sys.path``: that folder's
    ``distributed.py`` would then shadow Dask's ``distributed`` for the whole process.
    """
    if "stage1" not in sys.modules:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stage1.py")
        spec = importlib.util.spec_from_file_location("stage1", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["stage1"] = module  # its measuring subprocesses import it by name
        spec.loader.exec_module(module)
    return sys.modules["stage1"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/versions.py", description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs=2, help="the two checkouts (their repository roots)")
    p.add_argument("--net", default="mlp", choices=["mlp", "cnn", "resnet"])
    p.add_argument("--n", type=int, default=50_000, help="CI-MNIST training rows (annotated: one for five)")
    p.add_argument("--epochs", type=int, default=5, help="epochs of the ERM fit")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.threads)
        return 0
    stage1 = _stage1_benchmark()
    stage1.configure(args.threads, "cpu")
    d, X, y, (X_val, y_val, s_val), net = stage1.ci_mnist_fitted(args.net, args.n, args.epochs)
    m = len(y_val)
    trees = [os.path.abspath(t) for t in args.trees]
    runs: list[list[dict]] = [[] for _ in trees]  # by position: the same checkout may come twice
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fitted.pkl")
        with open(path, "wb") as f:
            fresh = d.make_net().set_params(max_epochs=1)
            pickle.dump((net, fresh, X, y, X_val, y_val, s_val), f)
        for _ in range(args.repeats):
            for tree, tree_runs in zip(trees, runs, strict=True):  # fresh processes taking turns
                command = [sys.executable, os.path.abspath(__file__), *trees, "--child", path,
                           "--threads", str(args.threads)]  # fmt: skip
                env = {**os.environ, "PYTHONPATH": tree}
                out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
                if out.returncode:
                    print(out.stderr[-3000:], file=sys.stderr)
                    return 1
                tree_runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = np.array(runs[0][-1]["scores"])
    report = []
    print(f"{args.net} on {len(y)} CI-MNIST rows ({m} annotated), {args.epochs}-epoch ERM, "
          f"{args.threads} threads, medians of {args.repeats}:")  # fmt: skip
    for tree, rs in zip(trees, runs, strict=True):
        epoch = statistics.median(r["epoch_s"] for r in rs)
        stage1 = statistics.median(r["stage1_s"] for r in rs)
        finetune = statistics.median(r["finetune_s"] for r in rs)
        again = statistics.median(r["stage1_again_s"] for r in rs)
        last = rs[-1]
        scores = np.array(last.pop("scores"))
        correlation = [float(spearmanr(a, b)[0]) for a, b in zip(first, scores, strict=True)]
        row = {"tree": tree, "epoch_s": epoch, "stage1_s": stage1, "stage1_in_epochs": stage1 / epoch,
               "stage1_again_s": again, "stage1_first_and_again_s": [
                   [r["stage1_s"], r["stage1_again_s"]] for r in rs],
               "first_call_extra_s": statistics.median(
                   r["stage1_s"] - r["stage1_again_s"] for r in rs),
               "finetune_s": finetune, "finetune_in_epochs": finetune / epoch,
               **{k: v for k, v in last.items() if k not in ("epoch_s", "stage1_s", "stage1_again_s",
                                                             "finetune_s")},
               "rank_correlation_with_first": correlation}  # fmt: skip
        report.append(row)
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in last["parts_s"].items())
        print(f"  {tree}: one epoch {epoch:.2f} s, stage 1 {stage1:.2f} s = {stage1 / epoch:.2f} epochs "
              f"(again in the same process {again:.2f} s; the first's extra, median of the runs' "
              f"differences: {row['first_call_extra_s']:.2f} s)\n"
              f"      ({parts}; damping {last['damping']:.4g}, CG iterations {last['cg_iterations']}, "
              f"rank correlation with the first "
              f"{np.round(row['rank_correlation_with_first'], 4).tolist()})\n"
              f"      one-epoch fine-tune {finetune:.2f} s = {finetune / epoch:.2f} epochs "
              f"(parameters' sum {last['finetune_checksum']!r})", flush=True)  # fmt: skip
    if args.out:
        with open(args.out, "w") as f:
            figures = {"net": args.net, "n_train": len(y), "n_annotated": m, "epochs": args.epochs,
                       "threads": args.threads, "repeats": args.repeats, "runs": report}  # fmt: skip
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
