"""The quickstart: ERM against FairIF (every default) on the embedded biased data, over seeds.

Run ``fairif-quickstart`` (or ``python -m fairif_sklearn._quickstart``). It needs
no download, and prints its run time when it ends.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from . import FairIFClassifier
from ._cli_args import available_device, positive_int, threads
from ._runtime import free_cores
from .datasets import BIASES, make_biased_classification
from .metrics import accuracy_difference, average_odds_difference, equal_opportunity_difference
from .nets import make_mlp_classifier

METRICS = {
    "acc": lambda y, p, s: float(np.mean(y == p)),
    "AD": lambda y, p, s: accuracy_difference(y, p, sensitive_features=s),
    "AOD": lambda y, p, s: average_odds_difference(y, p, sensitive_features=s),
    "EOD": lambda y, p, s: equal_opportunity_difference(y, p, sensitive_features=s),
}


def run(bias: str, seeds: int, n_samples: int, n_annotated: int, device: str) -> dict:
    """Fit ERM and FairIF on ``seeds`` draws; return per-method lists of test metrics."""
    results: dict[str, list[list[float]]] = {"ERM": [], "FairIF": []}
    for seed in range(seeds):
        X, y, s = make_biased_classification(n_samples, bias=bias, random_state=seed)
        X_test, y_test, s_test = make_biased_classification(n_samples, bias=bias, random_state=10_000 + seed)
        groups = s.astype(float)
        groups[n_annotated:] = np.nan  # group labels for the first rows only
        net = make_mlp_classifier(X.shape[1], hidden=(16,), device=device)
        clf = FairIFClassifier(net, random_state=seed).fit(X, y, sensitive_features=groups)
        for name, model in (("ERM", clf.erm_estimator_), ("FairIF", clf)):
            pred = (
                clf.classes_[np.asarray(model.predict(X_test)).astype(int)]
                if name == "ERM"
                else model.predict(X_test)
            )
            results[name].append([f(y_test, pred, s_test) for f in METRICS.values()])
        predicted, final = np.round(clf.predicted_gaps_, 4), np.round(clf.final_gaps_, 4)
        what = f"predicted {predicted} -> after the fine-tune {final}" if clf.reweighted_ else "within noise"
        print(f"  seed {seed}: annotated-set gaps {np.round(clf.gaps_, 4)} -> {what}", flush=True)
    return results


DESCRIPTION = """\
The quickstart: ERM against FairIF on the embedded biased data, over seeds.
Each seed draws a training and a test set, fits an MLP without weights (ERM)
and FairIFClassifier with group labels for the first --n-annotated rows only,
and prints the test set's accuracy, AD, AOD and EOD (mean +- std). It needs no
download, and prints its run time when it ends."""

EPILOG = """\
examples:
  fairif-quickstart
  fairif-quickstart --bias class_size --seeds 3 --threads 1"""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help, line breaks of the description and epilog kept."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="fairif-quickstart", description=DESCRIPTION, epilog=EPILOG, formatter_class=_HelpFormatter
    )
    parser.add_argument(
        "--bias", choices=sorted(BIASES), default="group_shift", help="how the embedded data are biased"
    )
    parser.add_argument("--seeds", type=positive_int, default=5, help="number of seeds (data draws and fits)")
    parser.add_argument(
        "--n-samples", type=positive_int, default=6000, help="rows of the training and test sets"
    )
    parser.add_argument(
        "--n-annotated", type=positive_int, default=1000, help="rows with group labels, held out of training"
    )
    parser.add_argument(
        "--device", type=available_device, default="cpu", help="torch device of the nets, e.g. cuda"
    )
    parser.add_argument(
        "--threads",
        type=threads,
        default="auto",
        help="torch CPU threads; auto: the cores not busy with other processes",
    )
    args = parser.parse_args(argv)
    n_threads = free_cores() if args.threads == "auto" else args.threads
    if args.n_annotated >= args.n_samples:
        parser.error(
            f"--n-annotated ({args.n_annotated}) must be below --n-samples ({args.n_samples}): "
            "the annotated rows are held out of training"
        )
    torch.set_num_threads(n_threads)
    start = time.perf_counter()
    print(
        f"FairIF quickstart: bias={args.bias}, {args.n_samples} rows ({args.n_annotated} with group "
        f"labels, held out of training), {args.seeds} seeds, {n_threads} torch thread(s)"
    )
    results = run(args.bias, args.seeds, args.n_samples, args.n_annotated, args.device)
    print(f"\nHeld-out test set, mean +- std over {args.seeds} seeds:")
    print(f"{'method':8s}" + "".join(f"{m:>18s}" for m in METRICS))
    for name, rows in results.items():
        arr = np.array(rows)
        cells = "".join(f"{m:>11.4f} +-{s:.4f}" for m, s in zip(arr.mean(0), arr.std(0), strict=True))
        print(f"{name:8s}{cells}")
    print(f"\ndone in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
