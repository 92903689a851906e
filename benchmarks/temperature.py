"""``python benchmarks/temperature.py``: the soft rates' ``temperature``, judged on annotated rows
that did not drive the fit (a developer tool).

For each data set of ``fairif-bench`` (CI-MNIST with one of its biases, UCI Adult,
or the embedded synthetic generator) and each seed, the annotated valid set is cut
at random into two halves: FairIF (its defaults but ``temperature``) is fitted
with the first half as ``X_val``, and judged on the second, which drove nothing
(never on the test split: this is a study for choosing a default). The ERM fit
and the net are those of ``fairif-bench`` and shared between the temperatures of
a seed (``memory``), so every temperature starts from the same ERM model.

Printed per data set and temperature: test-free figures on the held-out half
(AOD and EOD of FairIF against the same seeds' ERM, as the change of the mean;
accuracy and worst (class, group) cell changes in points; rounds run), and per
temperature other than the first, its difference from the first, seed by seed
paired: mean and standard error over the seeds. The machinery is
``benchmarks/heldout.py``'s, with ``temperature`` as its parameter.
"""

from __future__ import annotations

try:
    from _report import seeds_main
    from heldout import report, run_seed
except ImportError:  # imported from its file by the tests
    from benchmarks._report import seeds_main
    from benchmarks.heldout import report, run_seed


def main(argv=None) -> int:
    return seeds_main(
        argv,
        __doc__.splitlines()[0],
        lambda dataset, seed, cache, args: run_seed(dataset, seed, "temperature", args.temperatures, cache),
        report,
        datasets=["ci-mnist:group_shift", "adult"],
        add_arguments=lambda parser: parser.add_argument(
            "--temperatures", type=float, nargs="+", default=[1.0, 2.0, 3.0]
        ),
    )


if __name__ == "__main__":
    raise SystemExit(main())
