"""``fairif-bench``: FairIF against ERM and fairlearn's mitigators, over seeds.

With no argument it runs the embedded biased data set (no download) on the CPU
in under two minutes. ``--dataset ci-mnist --bias ...`` and ``--dataset adult``
run the real data sets (read from ``--data-home`` or ``FAIRIF_DATA``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
import time
from pathlib import Path

from ..datasets import BIASES, DataNotFoundError
from ..datasets._fetch import fetch_dataset
from . import _datasets, _methods, _report

DESCRIPTION = """\
FairIF against ERM and fairlearn's mitigators (ThresholdOptimizer,
ExponentiatedGradient, Kamiran-Calders reweighing), over seeds. It prints the
test set's accuracy, AD, AOD and EOD (mean +- std) and writes CSV files and a
PNG of accuracy against AOD to --out.

With no argument it runs the embedded biased data set (no download) on the CPU
in under two minutes. --dataset ci-mnist and --dataset adult run the real data
sets, read from --data-home, else $FAIRIF_DATA, else ~/fairif_data, and
downloaded there (with SHA-256 checks) only when missing and online."""

EPILOG = """\
examples:
  fairif-bench                               # embedded biased data, CPU, about a minute
  fairif-bench --dataset ci-mnist --bias class_size --seeds 5 --device cuda
  fairif-bench --dataset adult --data-home /path/to/data   # holds adult/adult.data(.gz)"""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help (unless None or a flag's False), line breaks kept."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help  # the help text says what happens when the option is not given
        return super()._get_help_string(action)


def _parse(argv):
    p = argparse.ArgumentParser(
        prog="fairif-bench", description=DESCRIPTION, epilog=EPILOG, formatter_class=_HelpFormatter
    )
    p.add_argument(
        "--dataset", choices=("synthetic", "ci-mnist", "adult"), default="synthetic",
        help="the embedded biased data (no download), CI-MNIST or UCI Adult",
    )  # fmt: skip
    p.add_argument("--bias", choices=sorted(BIASES), default="group_size", help="for synthetic and ci-mnist")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds")
    p.add_argument("--n-samples", type=int, default=6000, help="synthetic: training rows")
    p.add_argument("--device", default="cpu", help="torch device of the nets, e.g. cuda")
    p.add_argument(
        "--out", type=Path, default=Path("fairif_results"), help="folder for the CSV and PNG files"
    )
    p.add_argument(
        "--data-home", default=None,
        help="data folder holding mnist/ and adult/ (default: $FAIRIF_DATA, else ~/fairif_data)",
    )  # fmt: skip
    p.add_argument(
        "--alphas", type=float, nargs="+", default=list(_methods.ALPHA_GRID),
        help=f"FairIF's path of alphas ({_methods.DEFAULT_ALPHA:g} is always added)",
    )  # fmt: skip
    p.add_argument(
        "--eg-max-iter", type=int, default=5, help="ExponentiatedGradient iterations (nets to fit)"
    )
    p.add_argument("--no-fairlearn", action="store_true", help="skip the fairlearn and reweighing baselines")
    p.add_argument(
        "--valid-fractions", type=float, nargs="+", default=None, metavar="F",
        help="validation-size study (the paper's Table 4), e.g. 1 0.5 0.25 0.1: FairIF with that fraction "
        "of the annotated set, instead of the baselines (default: off)",
    )  # fmt: skip
    p.add_argument("--max-epochs", type=int, default=15, help="ci-mnist: epochs of each fit")
    p.add_argument(
        "--influence", choices=("auto", "exact", "last_layer", "cg"), default="auto",
        help="FairIF's influence back end",
    )  # fmt: skip
    p.add_argument(
        "--hessian-subsample", type=float, default=None,
        help="rows (>= 1) or fraction (< 1) of the training set for the curvature (default: all rows, "
        "or 5000 rows for ci-mnist)",
    )  # fmt: skip
    p.add_argument(
        "--damping", type=float, default=None,
        help="FairIF's damping (default: the estimator's, 1e-3); larger values give stronger weights",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if _methods.DEFAULT_ALPHA not in args.alphas:
        args.alphas.append(_methods.DEFAULT_ALPHA)
    return args


def _load(args, seed):
    if args.dataset == "synthetic":
        return _datasets.synthetic(seed, bias=args.bias, device=args.device, n_samples=args.n_samples)
    if args.dataset == "ci-mnist":
        return _datasets.ci_mnist(
            seed, bias=args.bias, device=args.device, data_home=args.data_home, max_epochs=args.max_epochs
        )
    return _datasets.adult(seed, device=args.device, data_home=args.data_home)


def _fairif_params(args) -> dict:
    subsample = args.hessian_subsample
    if subsample is None and args.dataset == "ci-mnist":
        subsample = 5000
    if subsample is not None and subsample >= 1:
        subsample = int(subsample)
    params = {"influence": args.influence, "hessian_subsample": subsample}
    if args.damping is not None:
        params["damping"] = args.damping
    return params


def _steps(args):
    """The (name, function) steps run for each seed."""
    if args.valid_fractions:
        steps = [("ERM", "erm")]
        steps += [(f"FairIF, {f:g} of valid", ("fraction", f)) for f in args.valid_fractions]
        return steps
    steps = [("ERM", "erm"), ("FairIF", "fairif")]
    if not args.no_fairlearn:
        steps += [
            ("ThresholdOptimizer", "to"),
            ("ExponentiatedGradient (valid groups)", "eg_valid"),
            ("ExponentiatedGradient (oracle)", "eg_oracle"),
            ("Reweighing (oracle)", "reweighing"),
        ]
    return steps


def run(args) -> tuple[list[dict], str]:
    """Run every step for every seed; return per-model rows and the data set's name."""
    from tqdm.auto import tqdm

    _datasets.set_threads(args.threads)
    steps = _steps(args)
    rows, name = [], args.dataset
    bar = tqdm(total=args.seeds * len(steps), disable=args.quiet, desc="fairif-bench")
    for seed in range(args.seeds):
        bar.set_postfix_str(f"seed {seed}: loading data")
        data = _load(args, seed)
        name = data.name
        results, erm_result, erm_model = [], None, None
        for label, step in steps:
            bar.set_postfix_str(f"seed {seed}: {label}")
            if step == "erm":
                erm_result, erm_model = _methods.erm(data, seed)
                results.append(erm_result)
            elif step == "fairif":
                path = _methods.fairif_path(data, seed, args.alphas, **_fairif_params(args))
                results += path + _methods.fairif_summary(path, erm_result)
            elif isinstance(step, tuple):
                fraction = step[1]
                label_f = f"FairIF [{fraction:g} of valid]"
                sub = _datasets.subsample_valid(data, fraction, seed)
                path = _methods.fairif_path(sub, seed, args.alphas, label=label_f, **_fairif_params(args))
                results += path + _methods.fairif_summary(path, erm_result, label=label_f)
            elif step == "to":
                results.append(_methods.threshold_optimizer(data, seed, erm_model, oracle=False))
                results.append(_methods.threshold_optimizer(data, seed, erm_model, oracle=True))
            elif step == "eg_valid":
                results.append(
                    _methods.exponentiated_gradient(data, seed, oracle=False, max_iter=args.eg_max_iter)
                )
            elif step == "eg_oracle":
                results.append(
                    _methods.exponentiated_gradient(data, seed, oracle=True, max_iter=args.eg_max_iter)
                )
            elif step == "reweighing":
                results.append(_methods.reweighing(data, seed))
            bar.update()
        rows += _report.result_rows(name, seed, results)
    bar.close()
    return rows, name


def _check_data(args) -> None:
    """Find (or download) a real data set's files before the progress bar starts."""
    if args.dataset != "synthetic":
        fetch_dataset("mnist" if args.dataset == "ci-mnist" else "adult", data_home=args.data_home)


def _error(message: str) -> None:
    """Print ``message`` to stderr as one wrapped paragraph (paths and URLs kept whole)."""
    width = min(shutil.get_terminal_size((100, 24)).columns, 100) - 1
    text = textwrap.fill(
        f"fairif-bench: error: {message}", width=width, break_long_words=False, break_on_hyphens=False
    )
    print(text, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fairif-bench``; 2 when a real data set's files are missing."""
    args = _parse(argv)
    start = time.perf_counter()
    try:
        _check_data(args)
        rows, name = run(args)
    except DataNotFoundError as error:  # its message says what is missing and where to get it
        _error(str(error))
        return 2
    summary = _report.summarise(rows)
    title = f"{name}: test set, mean +- std over {args.seeds} seeds"
    print("\n" + _report.format_table(summary, title))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{name}{'-valid-size' if args.valid_fractions else ''}"
    _report.write_csv(args.out / f"{stem}-runs.csv", rows)
    _report.write_csv(args.out / f"{stem}-summary.csv", summary)
    _report.plot(summary, args.out / f"{stem}.png", title)
    files = [args.out / f"{stem}{suffix}" for suffix in ("-runs.csv", "-summary.csv", ".png")]
    print("\nwrote " + ", ".join(map(str, files)))
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0
