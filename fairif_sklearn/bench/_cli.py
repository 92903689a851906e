"""``fairif-bench``: FairIF against ERM, fairlearn's mitigators, DFR and JTT, over seeds.

With no argument it runs the embedded biased data set (no download) on the CPU:
60 to 351 s measured on two cores, with and without other work beside it (FairIF's variants, two
FairIFClassifierCV rows, fairlearn's mitigators, DFR and JTT; README, *Run times*).
``--dataset ci-mnist --bias ...`` and ``--dataset adult`` run the real data sets
(read from ``--data-home`` or ``FAIRIF_DATA``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
import time
from pathlib import Path

from .._cli_args import available_device, fraction, nonnegative_int, positive_int, threads
from .._runtime import free_cores
from ..datasets import BIASES, DataNotFoundError
from ..datasets._fetch import fetch_dataset
from . import _datasets, _methods, _report
from ._progress import STATUS

# --peers: the same-budget peers by their option names, to their steps (in the order they run)
PEERS = {"dfr": "DFR", "jtt": "JTT"}

DESCRIPTION = """\
FairIF against ERM, fairlearn's mitigators (ThresholdOptimizer,
ExponentiatedGradient, Kamiran-Calders reweighing) and the same-budget peers
DFR and JTT (group labels on the annotated set only), over seeds. It prints the
test set's accuracy, worst-group accuracy (WGA), AD, AOD and EOD (mean +- std),
flags a method whose WGA falls below ERM's by more than ERM's noise ("levels
down"), and writes CSV files (with each test group's TPR and TNR) and a PNG of
accuracy against AOD to --out.

With no argument it runs the embedded biased data set (no download) on the CPU
(60 to 351 s measured on two cores, with and without other work beside it; README, Run times).
--dataset ci-mnist and --dataset adult run the real data
sets, read from --data-home, else $FAIRIF_DATA, else ~/fairif_data, and
downloaded there (with SHA-256 checks) only when missing and online."""

EPILOG = """\
examples:
  fairif-bench                               # embedded biased data, CPU, one to two minutes
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
    p.add_argument("--seeds", type=positive_int, default=3, help="number of seeds")
    p.add_argument("--n-samples", type=positive_int, default=6000, help="synthetic: training rows")
    p.add_argument(
        "--device", type=available_device, default="cpu", help="torch device of the nets, e.g. cuda"
    )
    p.add_argument(
        "--out", type=Path, default=Path("fairif_results"), help="folder for the CSV and PNG files"
    )
    p.add_argument(
        "--data-home", default=None,
        help="data folder holding mnist/ and adult/ (default: $FAIRIF_DATA, else ~/fairif_data)",
    )  # fmt: skip
    p.add_argument(
        "--eg-max-iter", type=positive_int, default=5, help="ExponentiatedGradient iterations (nets to fit)"
    )
    p.add_argument("--no-fairlearn", action="store_true", help="skip the fairlearn and reweighing baselines")
    p.add_argument(
        "--no-peers", action="store_true",
        help="skip DFR and JTT (fairif_sklearn.baselines; JTT fits the net ten times: two short "
        "first stages, then eight with its default grid)",
    )  # fmt: skip
    p.add_argument(
        "--peers", nargs="+", choices=PEERS, default=list(PEERS),
        help="which peers to run, e.g. dfr alone on a net too costly to fit ten times for JTT "
        "(DFR refits the last layer on the ERM net's penultimate features)",
    )  # fmt: skip
    p.add_argument(
        "--valid-fractions", type=fraction, nargs="+", default=None, metavar="F",
        help="validation-size study (the paper's Table 4), e.g. 1 0.5 0.25 0.1: FairIF with that fraction "
        "of the annotated set, instead of the baselines (default: off)",
    )  # fmt: skip
    p.add_argument("--max-epochs", type=positive_int, default=15, help="ci-mnist: epochs of each fit")
    p.add_argument(
        "--net", choices=["mlp", "cnn", "resnet", "resnet18"], default="mlp",
        help="ci-mnist: the paper's MLP, a small CNN (fairif_sklearn.nets.CNN), the ResNet-18 layout at "
        "width 16 with BatchNorm (fairif_sklearn.nets.ResNet, 0.7M parameters), or torchvision's "
        "resnet18 (11M parameters, 3x3 stem for 32x32 images; needs torchvision)",
    )  # fmt: skip
    p.add_argument(
        "--digits", action="store_true",
        help="ci-mnist: the digit (ten classes) as the target instead of even/odd; FairIF balances every "
        "digit's recall, scored by the ten-class AOD (fairlearn's mitigators are binary and are skipped)",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=threads, default="auto",
        help="torch CPU threads; auto: the cores not busy with other processes (see README)",
    )  # fmt: skip
    p.add_argument("--no-variants", action="store_true", help="skip FairIF's labelled non-default variants")
    p.add_argument(
        "--random-groups", action="store_true",
        help="replace the groups by random ones (a data set with no real bias: FairIF should leave it alone)",
    )  # fmt: skip
    p.add_argument("--no-cv", action="store_true", help="skip FairIFClassifierCV")
    p.add_argument(
        "--prefit", action="store_true",
        help="also train a net once (another seed) and debias it with "
        "FairIFClassifier(FrozenEstimator(net)): a model you already have, without an ERM fit",
    )  # fmt: skip
    p.add_argument(
        "--first-seed", type=nonnegative_int, default=0,
        help="run seeds first-seed, ..., first-seed + seeds - 1 (to split one study over several processes)",
    )  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    args.threads = free_cores() if args.threads == "auto" else args.threads
    return args


def _load(args, seed):
    if args.dataset == "synthetic":
        data = _datasets.synthetic(seed, bias=args.bias, device=args.device, n_samples=args.n_samples)
    elif args.dataset == "ci-mnist":
        data = _datasets.ci_mnist(
            seed, bias=args.bias, device=args.device, data_home=args.data_home, max_epochs=args.max_epochs,
            digits=args.digits, net=args.net,
        )  # fmt: skip
    else:
        data = _datasets.adult(seed, device=args.device, data_home=args.data_home)
    return _datasets.with_random_groups(data, seed) if args.random_groups else data


def _steps(args) -> list[str]:
    """The steps run for each seed, in order."""
    if args.valid_fractions:
        return [f"FairIF, {f:g} of the annotated set" for f in args.valid_fractions]
    steps = ["FairIF", "ERM, another initialisation"]
    if not args.no_variants:
        steps += list(_methods.VARIANTS)
    if not args.no_cv:
        steps.append("FairIFClassifierCV")
    if args.prefit:
        steps.append("FairIF on a prefit net")
    if not (args.no_fairlearn or args.digits):
        steps += ["ThresholdOptimizer", "ExponentiatedGradient (valid groups)",
                  "ExponentiatedGradient (oracle)", "Reweighing (oracle)"]  # fmt: skip
    if not args.no_peers:
        steps += [PEERS[peer] for peer in PEERS if peer in args.peers]
    return steps


def _run_seed(args, seed: int, data, memory) -> list:
    """Every step for one draw of the data; the stages FairIF's fits share are cached in ``memory``."""
    results, erm_net = [], None
    for step in _steps(args):
        STATUS.show(f"seed {seed}: {step}")
        if step == "FairIF":
            erm, default, erm_net = _methods.fairif(data, seed, memory)
            results += [erm, default]
        elif step.startswith("FairIF, "):
            fraction = args.valid_fractions[_steps(args).index(step)]
            sub = _datasets.subsample_valid(data, fraction, seed)
            erm, result, _ = _methods.fairif(sub, seed, memory, label=f"FairIF [{fraction:g} of valid]")
            results += ([erm] if not results else []) + [result]
        elif step == "ERM, another initialisation":
            results.append(_methods.erm_other_init(data, seed))
        elif step in _methods.VARIANTS:
            results.append(_methods.fairif(data, seed, memory, label=step, **_methods.VARIANTS[step])[1])
        elif step == "FairIFClassifierCV":
            results.append(_methods.fairif_cv(data, seed, memory)[0])
            # the same path (its folds' stage 1 cached), chosen within a budget of two accuracy points
            budget, path = _methods.fairif_cv(
                data, seed, memory, label=_methods.FAIRIF_CV_BUDGET, max_accuracy_drop=_methods.CV_BUDGET
            )
            budget.extra["path"] = path
            results.append(budget)
        elif step == "FairIF on a prefit net":
            results += list(_methods.prefit(data, seed))
        elif step == "ThresholdOptimizer":
            results.append(_methods.threshold_optimizer(data, seed, erm_net, oracle=False))
            results.append(_methods.threshold_optimizer(data, seed, erm_net, oracle=True))
        elif step.startswith("ExponentiatedGradient"):
            oracle = "oracle" in step
            results.append(
                _methods.exponentiated_gradient(data, seed, oracle=oracle, max_iter=args.eg_max_iter)
            )
        elif step == "Reweighing (oracle)":
            results.append(_methods.reweighing(data, seed))
        elif step == "DFR":
            results.append(_methods.dfr(data, seed))
        elif step == "JTT":
            results.append(_methods.jtt(data, seed))
        STATUS.bar.update()
    return results


def run(args) -> tuple[list[dict], str]:
    """Run every step for every seed; return per-model rows and the data set's name."""
    import tempfile

    import torch
    from joblib import Memory
    from tqdm.auto import tqdm

    torch.set_num_threads(args.threads)
    rows, name = [], args.dataset
    STATUS.bar = tqdm(total=args.seeds * len(_steps(args)), disable=args.quiet, desc="fairif-bench")
    try:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            STATUS.show(f"seed {seed}: loading data")
            data = _load(args, seed)
            name = data.name
            with tempfile.TemporaryDirectory(prefix="fairif_bench_") as cache:
                results = _run_seed(args, seed, data, Memory(cache, verbose=0))
            rows += _report.result_rows(name, seed, results)
    finally:
        STATUS.bar.close()
        STATUS.bar = None
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
    paths = _report.split_paths(rows)
    summary = _report.summarise(rows)
    title = _report.title(name, args.seeds)
    print(f"\n{args.threads} torch thread(s)\n" + _report.format_table(summary, title))
    stem = f"{name}{'-valid-size' if args.valid_fractions else ''}"
    files = _report.write_run(args.out, stem, rows, summary, title)
    if _report.plot_path(paths, args.out / f"{stem}-path.png", name):
        _report.write_csv(args.out / f"{stem}-path.csv", paths)
        files += [args.out / f"{stem}-path.csv", args.out / f"{stem}-path.png"]
    print("\nwrote " + ", ".join(map(str, files)))
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0
