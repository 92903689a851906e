"""What the benchmarks share: printing their figures and writing them beside the docs."""

from __future__ import annotations

import json
from pathlib import Path


def publish(text: str, figures, out: Path | None) -> None:
    """Print ``text``; with ``out``, write ``figures`` to OUT.json and ``text`` to OUT.txt."""
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(figures, indent=1))
        out.with_suffix(".txt").write_text(text + "\n")


def seeds_main(argv, description: str, run_seed, report, *, datasets: list[str], add_arguments=None) -> int:
    """The command line of a benchmark over data sets and seeds: fit them, or (``--report``) read earlier
    runs back; then print the table and, with ``--out``, write it.

    ``run_seed(dataset, seed, cache, args)`` returns the runs of one seed (a list of dicts) and
    ``report(runs)`` the table; ``add_arguments(parser)`` adds the benchmark's own options.
    """
    import argparse
    import sys
    import tempfile

    import torch

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--datasets", nargs="+", default=datasets)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.txt")
    parser.add_argument(
        "--report", type=Path, nargs="+", default=None, help="no fits: the table of earlier runs' OUT.json"
    )
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    if args.report is not None:
        runs = [run for path in args.report for run in json.loads(path.read_text())]
    else:
        torch.set_num_threads(args.threads)
        runs = []
        with tempfile.TemporaryDirectory() as cache:
            for dataset in args.datasets:
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    runs += run_seed(dataset, seed, cache, args)
                    print(f"{dataset} seed {seed} done", file=sys.stderr, flush=True)
    publish(report(runs), runs, args.out)
    return 0
