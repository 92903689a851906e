"""FairIF's stage-1 influence scores against pyDVL's, on the same net and data.

pyDVL (https://pypi.org/project/pyDVL/) is the influence library a user would
otherwise pick. It is kept out of the project's dependencies (pyDVL 0.10
declares numpy<2); run this script in its own environment::

    python3 -m venv /tmp/pydvl-venv && . /tmp/pydvl-venv/bin/activate
    pip install torch==2.13.0 && pip install --no-deps "pydvl==0.10.*"
    pip install numpy scipy pandas scikit-learn distributed zarr joblib tqdm dask cloudpickle pyDeprecate
    pip install -e . skorch fairlearn matplotlib
    python benchmarks/pydvl_influence.py --out doc/results/pydvl.json

The scores are ``a_{F,i} = v_F . grad l(z_i)`` with ``v_F = (H + d I)^{-1} G_F``
(``H`` the Hessian of the mean training loss). pyDVL 0.10's ``GAUSS_NEWTON``
mode is the empirical Fisher (outer products of per-sample gradients, not
``J^T H_out J``) and divides it by a count of matrix rows rather than of
samples, so the comparison uses the Hessian, where both compute the same matrix.
With the cross-entropy loss ``l_j = -log p_j`` the gradient of a soft rate is a
weighted sum of per-sample loss gradients (``grad p_j = -p_j grad l_j``), so a
pyDVL user gets ``v_F`` by combining pyDVL's influence factors
``(H + d I)^{-1} grad l_j`` of the annotated rows, and the scores from
``influences_from_factors`` over the training rows, in batches.
"""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np
import torch
from pydvl.influence.torch import CgInfluence, DirectInfluence
from pydvl.influence.torch.util import SecondOrderMode
from stage1 import _fitted, _peak_memory_mb, _reset_peak_memory, _stage1, _timed
from torch.utils.data import DataLoader, TensorDataset

DAMPING = 0.3  # keeps the damped Hessian of the briefly trained MLP positive definite
BATCH = 1024


def _ours(net, X, y, X_val, y_val, s_val, method):
    kw = dict(method=method, curvature="hessian", damping=DAMPING, cg_maxiter=500, cg_tol=1e-6)
    return _stage1(net, X, y, X_val, y_val, s_val, **kw)[0].scores


def _gap_weights(module, X_val, y_val, s_val):
    """c_{F,j} with G_F = sum_j c_{F,j} grad l_j, for the rows (TPR, TNR) of our gaps."""
    with torch.no_grad():
        p = torch.softmax(module(torch.as_tensor(X_val)), dim=1).double().numpy()
    p_true = p[np.arange(len(y_val)), y_val]
    C = np.zeros((2, len(y_val)))
    for row, cls in ((0, 1), (1, 0)):  # TPR on the positives, TNR on the negatives
        for g, sign in ((1, 1.0), (0, -1.0)):
            cell = (y_val == cls) & (s_val == g)
            C[row, cell] = sign * (-p_true[cell]) / cell.sum()
    return torch.as_tensor(C, dtype=torch.float32)


def _pydvl(net, X, y, X_val, y_val, s_val, kind):
    module = net.module_.eval()
    loss = torch.nn.functional.cross_entropy
    train = DataLoader(TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), batch_size=BATCH)
    if kind == "direct":
        model = DirectInfluence(
            module, loss, regularization=DAMPING, second_order_mode=SecondOrderMode.HESSIAN
        )
    else:
        model = CgInfluence(module, loss, regularization=DAMPING, rtol=1e-6, maxiter=500,
                            solve_simultaneously=True, warn_on_max_iteration=False,
                            second_order_mode=SecondOrderMode.HESSIAN)  # fmt: skip
    model = model.fit(train)
    factors = model.influence_factors(torch.as_tensor(X_val), torch.as_tensor(y_val))  # n_val x p
    V = _gap_weights(module, X_val, y_val, s_val) @ factors  # k x p
    scores = [model.influences_from_factors(V, xb, yb).detach() for xb, yb in train]
    return torch.cat(scores, dim=1).double().numpy()


def _measure(fn, repeats, single_run_above_s=60.0):
    """Median time and peak extra memory over ``repeats`` runs (one run where one takes over a minute)."""
    times, peaks, out = [], [], None
    while len(times) < repeats and not (times and times[0] > single_run_above_s):
        before = _reset_peak_memory()
        seconds, out = _timed(fn)
        times.append(seconds)
        peaks.append(_peak_memory_mb() - before)
    return out, statistics.median(times), statistics.median(peaks), len(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2000, 10_000, 50_000])
    p.add_argument(
        "--slow-max-rows", type=int, default=10_000,
        help="run FairIF exact and pyDVL CgInfluence only up to this many rows",
    )  # fmt: skip
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import pydvl

    report = {"torch": torch.__version__, "pydvl": pydvl.__version__, "numpy": np.__version__,
              "threads": args.threads, "damping": DAMPING, "runs": []}  # fmt: skip
    print(f"torch {torch.__version__}, pyDVL {pydvl.__version__}, numpy {np.__version__}, "
          f"{args.threads} threads, medians over {args.repeats} repeats; "
          f"Hessian + {DAMPING} I; tabular MLP 20-64-2\n")  # fmt: skip
    print("reference: FairIF exact where it runs, else pyDVL DirectInfluence")
    print(
        f"{'rows':>7} {'method':28s} {'time':>9} {'runs':>4} {'peak extra':>11} "
        f"{'corr. w/ ref.':>14} {'max rel. diff':>14}"
    )
    for n in args.sizes:
        net, X, y, X_val, y_val, s_val = _fitted("tabular", n + 2000, epochs=5)
        X_val, y_val, s_val = X_val[:2000], y_val[:2000], s_val[:2000]
        X, y = X[:n], y[:n]
        data = (net, X, y, X_val, y_val, s_val)
        # the first way run at each size is the reference
        ways = [("FairIF exact (JVP scores)", _ours, "exact")] if n <= args.slow_max_rows else []
        ways += [("pyDVL DirectInfluence", _pydvl, "direct"), ("FairIF cg (JVP scores)", _ours, "cg")]
        ways += [("pyDVL CgInfluence", _pydvl, "cg")] if n <= args.slow_max_rows else []
        reference = None
        for name, way, kind in ways:
            scores, seconds, peak, runs = _measure(lambda w=way, k=kind, d=data: w(*d, k), args.repeats)
            if reference is None:
                reference = scores
            # pyDVL's up-weighting influence is the negative of our score
            sign = np.sign(np.sum(scores * reference)) or 1.0
            corr = float(np.corrcoef(sign * scores.ravel(), reference.ravel())[0, 1])
            rel = float(np.abs(sign * scores - reference).max() / np.abs(reference).max())
            row = {"n": n, "method": name, "seconds": seconds, "runs": runs, "peak_extra_mb": peak,
                   "corr_with_reference": corr, "max_rel_diff_vs_reference": rel, "sign": sign}  # fmt: skip
            report["runs"].append(row)
            print(
                f"{n:7d} {name:28s} {seconds:8.2f}s {runs:4d} {peak:9.0f}MB {corr:14.6f} {rel:14.2e}",
                flush=True,
            )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
