"""The results page's tables, from the summary CSVs ``fairif-bench`` wrote.

::

    python benchmarks/results_tables.py doc/results

writes ``doc/results/table1.rst`` (the paper's Table 1 beside ours) and
``doc/results/floor.rst`` (ERM against FairIF on every CI-MNIST variant, and
whether the issue's floor is met: mean AOD and EOD below ERM's, accuracy within
0.5 points).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

VARIANTS = {"group_size": "group size", "group_shift": "group shift", "class_size": "class size"}
# Wang, Wu and He, Table 1: (Acc %, AD %, AOD, EOD) of ERM ("Original") and FairIF
PAPER = {
    "group_size": {"ERM": (97.78, 1.13, 0.0127, 0.0114), "FairIF": (98.20, 0.29, 0.0001, 0.0001)},
    "group_shift": {"ERM": (98.53, 0.13, 0.0223, 0.0335), "FairIF": (98.69, 0.05, 0.0131, 0.0259)},
    "class_size": {"ERM": (97.81, 0.28, 0.0068, 0.0054), "FairIF": (97.92, 0.06, 0.0024, 0.0032)},
}
# the bench's method name: (our label, the paper's row beside it)
ROWS = {
    "ERM": ("ERM", "ERM"),
    "FairIF (alpha=0.1)": ("FairIF, α = 0.1", "FairIF"),
    "FairIF (alpha tuned on valid)": ("FairIF, α tuned on valid", None),
}


def _summary(folder: Path, bias: str) -> dict[str, dict[str, str]]:
    with open(folder / f"ci-mnist-{bias}-summary.csv") as f:
        return {r["method"]: r for r in csv.DictReader(f) if r["method"] in ROWS}


def _ours(row: dict) -> list[str]:
    out = []
    for metric, scale, digits in (("acc", 100, 2), ("AD", 100, 2), ("AOD", 1, 4), ("EOD", 1, 4)):
        mean, std = float(row[f"{metric}_mean"]) * scale, float(row[f"{metric}_std"]) * scale
        out.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
    return out


def _list_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines += [f"   * - {row[0]}"] + [f"     - {cell}".rstrip() for cell in row[1:]]
    return "\n".join(lines) + "\n"


def table1(folder: Path, variants: list[str]) -> str:
    """One cell per metric: the paper's figure / ours (mean ± std over seeds)."""
    header = ["variant", "model"] + [f"{m} (paper / ours)" for m in ("Acc", "AD", "AOD", "EOD")]
    rows = []
    for bias in variants:
        summary = _summary(folder, bias)
        for method, (label, paper_key) in ROWS.items():
            paper = PAPER[bias][paper_key] if paper_key else (None,) * 4
            cells = [
                f"{'—' if p is None else f'{p:.{d}f}'} / {o}"
                for p, d, o in zip(paper, (2, 2, 4, 4), _ours(summary[method]), strict=True)
            ]
            rows.append([VARIANTS[bias], label, *cells])
    return _list_table(header, rows)


def floor(folder: Path, variants: list[str]) -> str:
    header = ["variant", "FairIF", "AOD: ERM → FairIF", "EOD: ERM → FairIF", "accuracy change", "floor met"]
    rows = []
    for bias in variants:
        summary = _summary(folder, bias)
        erm = {m: float(summary["ERM"][f"{m}_mean"]) for m in ("acc", "AOD", "EOD")}
        for method, (label, _) in list(ROWS.items())[1:]:
            ours = {m: float(summary[method][f"{m}_mean"]) for m in ("acc", "AOD", "EOD")}
            change = 100 * (ours["acc"] - erm["acc"])
            met = ours["AOD"] < erm["AOD"] and ours["EOD"] < erm["EOD"] and change > -0.5
            rows.append([
                VARIANTS[bias], label.removeprefix("FairIF, "),
                f"{erm['AOD']:.4f} → {ours['AOD']:.4f} ({ours['AOD'] / erm['AOD'] - 1:+.0%})",
                f"{erm['EOD']:.4f} → {ours['EOD']:.4f} ({ours['EOD'] / erm['EOD'] - 1:+.0%})",
                f"{change:+.2f} points", "yes" if met else "**no**",
            ])  # fmt: skip
    return _list_table(header, rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = p.parse_args(argv)
    variants = [v for v in args.variants if (args.folder / f"ci-mnist-{v}-summary.csv").exists()]
    (args.folder / "table1.rst").write_text(table1(args.folder, variants))
    (args.folder / "floor.rst").write_text(floor(args.folder, variants))
    print(f"wrote {args.folder / 'table1.rst'} and {args.folder / 'floor.rst'} for {', '.join(variants)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
