"""``python benchmarks/curvature.py``: stage 1's inverse-curvature back ends compared (a developer tool).

It times the library's private stage-1 pieces, so it imports them by their
private names (``fairif_sklearn._influence`` and friends); users never do.

On CI-MNIST (``fairif_sklearn.datasets.make_ci_mnist``, needing ``mnist/`` in
``$FAIRIF_DATA``) or, with ``--data synthetic``, random images of the same shape,
for (i) the default CNN (``fairif_sklearn.nets.make_cnn_classifier()``) and (ii) a
ResNet-18-shaped net with BatchNorm (BasicBlocks, widths 16/32/64/128, blocks
(2, 2, 2, 2), about 700k parameters; defined here), each trained by ERM for a
few epochs, it solves ``M V = G`` for the gradients ``G`` of the four (rate,
group) cells of equalized odds on the annotated rows, ``M`` the damped
Gauss-Newton matrix of the mean loss over the curvature rows, with

* ``cg``: today's exact solve, conjugate gradient on the exact GGN products
  (``CurvatureOperator`` + ``solve_cg``, the estimators' tolerance 0.01 unless
  ``--cg-maxiter`` caps it);
* ``last_layer``: CG on the last ``Linear`` layer only;
* ``kfac`` / ``ekfac``: ``solve_kronecker`` (curvlinops' K-FAC / EK-FAC with the
  exact inverse of the damped approximation; BatchNorm parameters by their exact
  GGN diagonal), ``*+scale`` the same with ``rescale=True`` (each direction scaled
  by one exact GGN product: the first step of K-FAC-preconditioned CG),
  ``*-reduce`` with curvlinops' KFAC-reduce for convolutions (the patches
  averaged over positions per row, not every position a row), and on
  nets with BatchNorm the variants ``*-identity`` and ``*-exclude`` of the
  BatchNorm treatment;

all at one damping, the engine's ``damping="auto"`` (0.02 x the largest eigenvalue
by 10 power iterations on 1000 rows; its cost is printed apart, as it is shared).

Printed per back end: the time of the curvature build and solve (median over
``--repeats``, the back ends taking turns) in seconds and in ERM epochs of the
same net on the same training rows, measured in the same run; the residual
``||M V - G|| / ||G||`` against the exact damped GGN; the Spearman rank correlation
of each gap's per-row influence scores with CG's (min over the two gaps); and the
predicted change of the two gaps under two fixed weight vectors (the
weights ``solve_weights`` finds from CG's scores at ``alpha=1``, and doubling the
weight of group 1), as a ratio to CG's prediction.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from skorch import NeuralNetClassifier

from fairif_sklearn._influence import AnnotatedGaps, CurvatureOperator, influence_scores, solve_cg
from fairif_sklearn._influence._curvature import subsample_rows
from fairif_sklearn._influence._engine import (
    AUTO_DAMPING_BLOCK,
    AUTO_DAMPING_FRACTION,
    AUTO_DAMPING_ROWS,
    AUTO_DAMPING_STEPS,
)
from fairif_sklearn._influence._kfac import solve_kronecker
from fairif_sklearn._rates import target_rates
from fairif_sklearn._skorch import NetFunctions, fit_net
from fairif_sklearn._weights import first_order, solve_weights
from fairif_sklearn.nets import make_cnn_classifier


class BasicBlock(torch.nn.Module):
    """Two 3x3 convolutions with BatchNorm and a residual connection (projected when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c_out)
        self.conv2 = torch.nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c_out)
        self.shortcut = torch.nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = torch.nn.Sequential(
                torch.nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), torch.nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(torch.nn.Module):
    """ResNet-18-shaped: a 3x3 stem, four stages of BasicBlocks, global pooling, a linear layer."""

    def __init__(self, in_channels=3, widths=(16, 32, 64, 128), blocks=(2, 2, 2, 2), n_classes=2):
        super().__init__()
        layers = [
            torch.nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            torch.nn.BatchNorm2d(widths[0]),
            torch.nn.ReLU(),
        ]
        c_in = widths[0]
        for stage, (width, n) in enumerate(zip(widths, blocks, strict=True)):
            for b in range(n):
                layers.append(BasicBlock(c_in, width, 2 if stage > 0 and b == 0 else 1))
                c_in = width
        layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(c_in, n_classes)]
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


def load(data: str, n_train: int, n_valid: int, seed: int, size: int):
    """Train and annotated rows: ``X, y, s`` each, images (n, 3, size, size) in float32."""
    if data == "ci-mnist":
        from fairif_sklearn.datasets import make_ci_mnist

        d = make_ci_mnist("group_size", splits=("train", "valid"), random_state=seed)
        parts = [(d.X_train[:n_train], d.y_train[:n_train], d.s_train[:n_train])]
        parts.append((d.X_valid[:n_valid], d.y_valid[:n_valid], d.s_valid[:n_valid]))
    else:
        rng = np.random.RandomState(seed)
        n = n_train + n_valid
        X = rng.normal(size=(n, 3, 32, 32)).astype(np.float32)
        s = (rng.uniform(size=n) < 0.2).astype(np.int64)
        logit = (
            X[:, 0, 8:24, 8:24].mean(axis=(1, 2)) * 8
            + np.where(s == 1, 1.0, -0.3) * X[:, 1].mean(axis=(1, 2)) * 8
        )
        y = (logit + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
        parts = [(X[:n_train], y[:n_train], s[:n_train]), (X[n_train:], y[n_train:], s[n_train:])]
    out = []
    for X, y, s in parts:
        X = np.asarray(X, dtype=np.float32)
        if size != X.shape[-1]:
            X = torch.nn.functional.adaptive_avg_pool2d(torch.as_tensor(X), size).numpy()
        out.append((X, np.asarray(y).astype(np.int64), np.asarray(s).astype(np.int64)))
    return out


def make_net(kind: str, epochs: int):
    if kind == "cnn":
        return make_cnn_classifier(lr=1e-3, batch_size=256, max_epochs=epochs)
    return NeuralNetClassifier(
        ResNet, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=1e-3,
        batch_size=128, max_epochs=epochs, train_split=None, iterator_train__shuffle=True, verbose=0,
    )  # fmt: skip


def relative_residual(model, X, y, rows, names, V, B, damping, batch_size) -> float:
    op = CurvatureOperator(
        model, X, y, rows, names, curvature="gauss_newton", damping=damping, batch_size=batch_size
    )
    return float((torch.linalg.norm(op.matmat(V) - B, dim=1) / torch.linalg.norm(B, dim=1)).max())


def run(kind: str, seed: int, args) -> dict:
    (X, y, s), (X_val, y_val, s_val) = load(args.data, args.n_train, args.n_valid, seed, args.size)
    torch.manual_seed(seed)
    net = make_net(kind, args.epochs)
    fit_net(net, X, y)
    epoch = statistics.median(net.history[:, "dur"])
    model = NetFunctions(net)
    bs = args.batch_size
    gaps_of = AnnotatedGaps(
        X_val, y_val, s_val, ["0", "1"], target_rates("equalized_odds", np.array([0, 1])), 1.0, bs
    )
    rng = np.random.RandomState(seed)
    rows = subsample_rows(len(y), args.curvature_rows, rng)
    names = list(model.params)
    last = model.last_linear_names()
    rates, G, _ = gaps_of.rates_and_gradients(model, names)
    _, G_last, _ = gaps_of.rates_and_gradients(model, last)
    gaps = gaps_of.D @ rates

    start = time.perf_counter()
    few = np.sort(rng.choice(rows, min(len(rows), AUTO_DAMPING_ROWS), replace=False))
    spectrum = CurvatureOperator(
        model, X, y, few, names, curvature="gauss_newton", damping=0.0, batch_size=bs
    )
    top = spectrum.largest_eigenvalue(AUTO_DAMPING_STEPS, AUTO_DAMPING_BLOCK, rng)
    damping = AUTO_DAMPING_FRACTION * top
    auto_time = time.perf_counter() - start
    shift = model.proximal_strength(damping)

    def cg(names_, B):
        op = CurvatureOperator(
            model, X, y, rows, names_, curvature="gauss_newton", damping=damping, batch_size=bs
        )
        return solve_cg(op, B, tol=args.cg_tol, maxiter=args.cg_maxiter)

    backends = {
        "cg": (names, lambda: cg(names, G)),
        "last_layer": (last, lambda: cg(last, G_last)),
    }
    has_others = any(isinstance(m, torch.nn.BatchNorm2d) for m in net.module_.modules())
    for k in ("kfac", "ekfac"):
        variants = [
            ("diagonal", False, "expand"),
            ("diagonal", False, "reduce"),
            ("diagonal", True, "expand"),
        ]
        variants += [("identity", False, "expand"), ("exclude", False, "expand")] if has_others else []
        for others, rescale, approx in variants:
            label = (
                k + ("" if others == "diagonal" else f"-{others}") + ("-reduce" if approx == "reduce" else "")
            )
            label += "+scale" if rescale else ""
            backends[label] = (
                names,
                lambda k=k, others=others, rescale=rescale, approx=approx: solve_kronecker(
                    model, X, y, rows, names, G, shift=shift, kind=k, batch_size=bs, others=others,
                    residual=False, rescale=rescale, kfac_approx=approx,
                ),
            )  # fmt: skip
    if args.only:  # CG stays: it is the reference
        backends = {b: v for b, v in backends.items() if b == "cg" or b in args.only.split(",")}
    times = {b: [] for b in backends}
    results = {}
    for r in range(args.repeats):
        for b, (_, fn) in backends.items():
            if r > 0 and b in ("cg", "last_layer") and r >= args.cg_repeats:
                continue
            t0 = time.perf_counter()
            results[b] = fn()
            times[b].append(time.perf_counter() - t0)

    out = {
        "net": kind, "seed": seed, "n_params": model.n_params(), "n_train": len(y),
        "n_curvature_rows": len(rows),
        "erm_epoch_s": epoch, "damping": damping, "largest_eigenvalue": top, "auto_damping_s": auto_time,
        "gaps": gaps.tolist(), "backends": {},
    }  # fmt: skip
    w_fair = None
    group = np.where(s == 1, 2.0, 1.0)
    group /= group.mean()
    reference = None
    for b, (names_, _) in backends.items():
        V, info = results[b]
        B = G if names_ is names else G_last
        res = info.max_residual if b in ("cg", "last_layer") or b.endswith("+scale") else None
        if res is None:
            res = relative_residual(model, X, y, rows, names_, V, B, damping, bs)
        t0 = time.perf_counter()
        scores = gaps_of.D @ influence_scores(model, X, y, names_, V, batch_size=bs)
        score_time = time.perf_counter() - t0
        if b == "cg":
            reference = scores
            w_fair = solve_weights(scores, gaps, alpha=1.0).sample_weight
        change = {
            name: first_order(scores, gaps, w - 1) - gaps for name, w in (("fair", w_fair), ("group", group))
        }
        out["backends"][b] = {
            "time_s": statistics.median(times[b]),
            "epochs": statistics.median(times[b]) / epoch,
            "n_iter": max(info.n_iter),
            "residual": res,
            "spearman": [float(spearmanr(a, r)[0]) for a, r in zip(scores, reference, strict=True)],
            "predicted_change": {k: v.tolist() for k, v in change.items()},
            "scores_s": score_time,
        }
    for b in out["backends"].values():
        ref = out["backends"]["cg"]["predicted_change"]
        b["change_ratio"] = {
            k: [x / r for x, r in zip(v, ref[k], strict=True)] for k, v in b["predicted_change"].items()
        }
    return out


def report(out: dict) -> None:
    print(
        f"\n{out['net']} seed {out['seed']}: {out['n_params']} params, {out['n_train']} train rows, "
        f"{out['n_curvature_rows']} curvature rows; ERM epoch {out['erm_epoch_s']:.2f} s; damping "
        f"{out['damping']:.3g} (0.02 x {out['largest_eigenvalue']:.3g}, found in "
        f"{out['auto_damping_s']:.1f} s = "
        f"{out['auto_damping_s'] / out['erm_epoch_s']:.2f} epochs); gaps {np.round(out['gaps'], 4).tolist()}"
    )
    print(
        f"{'back end':<16} {'time s':>8} {'epochs':>7} {'iters':>5} {'resid':>7} {'spearman (2 gaps)':>18} "
        f"{'pred. change / CG: fair':>24} {'group':>14}"
    )
    for b, r in out["backends"].items():
        sp = " ".join(f"{v:.3f}" for v in r["spearman"])
        fair = " ".join(f"{v:.2f}" for v in r["change_ratio"]["fair"])
        grp = " ".join(f"{v:.2f}" for v in r["change_ratio"]["group"])
        print(
            f"{b:<16} {r['time_s']:>8.2f} {r['epochs']:>7.2f} {r['n_iter']:>5} {r['residual']:>7.3f} "
            f"{sp:>18} {fair:>24} {grp:>14}"
        )
    scores_s = statistics.median(r["scores_s"] for r in out["backends"].values())
    print(f"(the influence scores of all rows, the same for every back end: {scores_s:.1f} s)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", default="cnn,resnet", help="comma-separated: cnn, resnet")
    parser.add_argument("--data", choices=("ci-mnist", "synthetic"), default="ci-mnist")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of K-FAC / EK-FAC")
    parser.add_argument("--cg-repeats", type=int, default=1, help="timed repeats of the CG back ends")
    parser.add_argument("--seeds", default="0", help="comma-separated")
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-valid", type=int, default=1000)
    parser.add_argument("--curvature-rows", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=3, help="ERM epochs")
    parser.add_argument("--size", type=int, default=32, help="image side (CI-MNIST average-pooled to it)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--cg-tol", type=float, default=0.01)
    parser.add_argument("--cg-maxiter", type=int, default=100)
    parser.add_argument("--only", help="comma-separated back ends to run (and cg, the reference)")
    parser.add_argument("--json", help="write the results there")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = []
    for kind in args.nets.split(","):
        for seed in map(int, args.seeds.split(",")):
            out = run(kind, seed, args)
            report(out)
            results.append(out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
