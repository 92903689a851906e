"""The results page's tables, from the CSV files ``fairif-bench`` wrote (a developer tool).

::

    python benchmarks/results_tables.py doc/results

writes, into that folder:

* ``table1.rst``: the paper's Table 1 beside ours (ERM, FairIF's defaults,
  FairIFClassifierCV), CI-MNIST;
* ``defaults.rst``: each data set's ERM against FairIF's defaults: the gaps,
  accuracy, worst-group accuracy and each group's test rates (how the gaps closed);
* ``<data set>.rst``: every method of a run, mean and spread over seeds and the
  change against the same seeds' ERM;
* ``materialization.rst``: how much of the predicted change of the annotated
  set's gaps stage 2 realised, the default fine-tune against the paper's
  retraining from scratch;
* ``valid-size.rst``: FairIF with smaller annotated sets (the paper's Table 4);
* ``random-groups.rst``: data with random groups, where FairIF should keep ERM;
* ``<data set>-seeds.rst``, for the runs of few seeds (the ResNet's): per seed, ERM's and FairIF's
  test accuracy and AOD, the annotated gaps at ERM and what FairIF did with them.

A study split over several processes (``fairif-bench --seeds 5 --first-seed 0 --out a``, then
``--first-seed 5 --out b``) is merged into one run's files first::

    python benchmarks/results_tables.py --merge a b --into doc/results [--prefix peers-]

which writes ``<prefix><data set>-runs.csv``, ``-summary.csv``, ``.txt`` (the table
``fairif-bench`` prints) and ``.png`` there, as one run over all the seeds would have.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from fairif_sklearn.bench import _report

CI_MNIST = {"group_size": "group size", "group_shift": "group shift", "class_size": "class size"}
# Wang, Wu and He, Table 1: (Acc %, AD %, AOD, EOD) of ERM ("Original") and FairIF
PAPER = {
    "group_size": {"ERM": (97.78, 1.13, 0.0127, 0.0114), "FairIF": (98.20, 0.29, 0.0001, 0.0001)},
    "group_shift": {"ERM": (98.53, 0.13, 0.0223, 0.0335), "FairIF": (98.69, 0.05, 0.0131, 0.0259)},
    "class_size": {"ERM": (97.81, 0.28, 0.0068, 0.0054), "FairIF": (97.92, 0.06, 0.0024, 0.0032)},
}
# the data sets of the main runs, in the page's order
DATA_SETS = ("ci-mnist-group_size", "ci-mnist-group_shift", "ci-mnist-class_size", "adult-sex")
SCRATCH = "FairIF [retrain='scratch', the paper's stage 2]"
# runs tabulated seed by seed (few seeds, each run in its own process)
PER_SEED = ("ci-mnist-group_shift-resnet",)


def _read(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def _list_table(header: list[str], rows: list[list[str]], widths: str | None = None) -> str:
    lines = [".. list-table::", "   :header-rows: 1"] + ([f"   :widths: {widths}"] if widths else []) + [""]
    for row in [header, *rows]:
        lines += [f"   * - {row[0]}"] + [f"     - {cell}".rstrip() for cell in row[1:]]
    return "\n".join(lines) + "\n"


def _cell(row: dict, metric: str, scale: float = 1, digits: int = 4) -> str:
    mean, std = float(row[f"{metric}_mean"]) * scale, float(row[f"{metric}_std"]) * scale
    return "—" if np.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _pct(value) -> str:
    if value in ("", None):
        return ""
    return "—" if np.isnan(float(value)) else f"{float(value):+.0%}"


def _points(value) -> str:
    return "" if value in ("", None) else f"{float(value):+.2f} pts"


def method_table(summary: list[dict]) -> str:
    """Every method of a run: mean ± std over seeds, and the change against the same seeds' ERM."""
    header = ["method", "group labels", "accuracy", "worst-group accuracy", "AD", "AOD", "EOD",
              "AOD vs ERM", "EOD vs ERM", "accuracy vs ERM", "worst group vs ERM"]  # fmt: skip
    rows = []
    for r in summary:
        acc = "" if r.get("acc_vs_ERM_points", "") == "" else f"{float(r['acc_vs_ERM_points']):+.2f} pts"
        wga = (
            ""
            if r.get("WGA_vs_ERM_points", "") in ("", None)
            else f"{float(r['WGA_vs_ERM_points']):+.2f} pts"
        )
        if r.get("levels_down") == "True":
            wga += " (levels down)"
        wga_cell = _cell(r, "WGA") if "WGA_mean" in r else "—"
        rows.append([
            r["method"], r["groups"], _cell(r, "acc"), wga_cell, _cell(r, "AD"), _cell(r, "AOD"),
            _cell(r, "EOD"), _pct(r.get("AOD_vs_ERM")), _pct(r.get("EOD_vs_ERM")), acc, wga,
        ])  # fmt: skip
    return _list_table(header, rows, widths="22 10 8 8 8 8 8 6 6 7 9")


def table1(folder: Path) -> str:
    """One cell per metric: the paper's figure / ours (mean ± std over seeds)."""
    header = ["variant", "model"] + [f"{m} (paper / ours)" for m in ("Acc %", "AD %", "AOD", "EOD")]
    rows = []
    for bias, name in CI_MNIST.items():
        path = folder / f"ci-mnist-{bias}-summary.csv"
        if not path.exists():
            continue
        summary = {r["method"]: r for r in _read(path)}
        for method, paper_key in (("ERM", "ERM"), ("FairIF", "FairIF"), ("FairIFClassifierCV", None)):
            if method not in summary:
                continue
            paper = PAPER[bias][paper_key] if paper_key else (None,) * 4
            formats = (("acc", 100, 2), ("AD", 100, 2), ("AOD", 1, 4), ("EOD", 1, 4))
            ours = [_cell(summary[method], m, scale, d) for m, scale, d in formats]
            cells = [
                f"{'—' if p is None else f'{p:.{f[2]}f}'} / {o}"
                for p, f, o in zip(paper, formats, ours, strict=True)
            ]
            rows.append([name, method, *cells])
    return _list_table(header, rows)


def _move(erm: dict, ours: dict, metric: str, digits: int = 4) -> str:
    return f"{float(erm[metric + '_mean']):.{digits}f} → {float(ours[metric + '_mean']):.{digits}f}"


def defaults(folder: Path) -> str:
    """ERM against FairIF's defaults on each data set: gaps, accuracy, worst-group accuracy, the seeds
    worse than ERM by more than noise, and each group's test TPR and TNR (how the gaps closed)."""
    header = ["data set", "AOD: ERM → FairIF", "EOD: ERM → FairIF", "accuracy", "worst-group accuracy",
              "each group's TPR, TNR: ERM → FairIF", "seeds worse than ERM beyond noise"]  # fmt: skip
    rows = []
    for name in DATA_SETS:
        path = folder / f"{name}-summary.csv"
        if not path.exists():
            continue
        summary = {(r["method"], r["groups"]): r for r in _read(path)}
        erm, ours = summary[("ERM", "none")], summary[("FairIF", "annotated valid")]
        if "WGA_mean" not in ours:  # a run of a version without the per-group columns
            continue
        rates = [k[: -len("_mean")] for k in ours if k.startswith(("TPR[", "TNR[")) and k.endswith("_mean")]
        wga = float(ours["WGA_vs_ERM_points"])
        rows.append([
            name,
            f"{_move(erm, ours, 'AOD')} ({float(ours['AOD_vs_ERM']):+.0%})",
            f"{_move(erm, ours, 'EOD')} ({float(ours['EOD_vs_ERM']):+.0%})",
            f"{float(ours['acc_vs_ERM_points']):+.2f} points",
            f"{_move(erm, ours, 'WGA', 3)} ({wga:+.2f} points; ERM's noise {100 * float(ours['erm_noise_WGA']):.2f})",  # noqa: E501
            "; ".join(f"{k} {_move(erm, ours, k, 3)}" for k in rates),
            f"{ours['seeds_worse_than_noise']} of {ours['n_seeds']}",
        ])  # fmt: skip
    return _list_table(header, rows)


def _ratios(rows: list[dict], method: str) -> list[float]:
    out = []
    for r in rows:
        if r["method"] == method:
            out += [x for x in _values(r.get("materialization", "")) if x is not None and np.isfinite(x)]
    return out


def materialization(folder: Path) -> str:
    """Median and quartiles of the realised over predicted change of the annotated gaps, per stage 2.

    One row per data set, and one for all of CI-MNIST's gaps together.
    """
    header = ["data set", "the fine-tune (default): median [quartiles]", "retrain from scratch (the paper's)"]
    per_set = {}
    for name in DATA_SETS:
        path = folder / f"{name}-runs.csv"
        if path.exists():
            runs = _read(path)
            per_set[name] = [_ratios(runs, method) for method in ("FairIF", SCRATCH)]
    pooled = [sum((v[k] for n, v in per_set.items() if n.startswith("ci-mnist")), []) for k in (0, 1)]
    rows = []
    for name, ratios in [*per_set.items(), ("ci-mnist, all variants", pooled)]:
        cells = []
        for r in ratios:
            q = np.percentile(r, [25, 50, 75]) if r else None
            cells.append(f"{q[1]:.2f} [{q[0]:.2f}, {q[2]:.2f}] ({len(r)} gaps)" if r else "—")
        rows.append([name, *cells])
    return _list_table(header, rows)


def valid_size(folder: Path) -> str:
    path = folder / "ci-mnist-group_shift-valid-size-summary.csv"
    return method_table(_read(path)) if path.exists() else ""


def random_groups(folder: Path) -> str:
    header = ["data set", "seeds", "seeds where FairIF reweighted", "FairIFClassifierCV reweighted"]
    rows = []
    for path in sorted(folder.glob("*-random-groups-runs.csv")):
        runs = _read(path)
        default = [r for r in runs if r["method"] == "FairIF"]
        cv = [r for r in runs if r["method"] == "FairIFClassifierCV"]
        rows.append([
            path.name.removesuffix("-runs.csv"), str(len(default)),
            str(sum(r["reweighted"] == "True" for r in default)),
            str(sum(r["n_rounds_chosen"] not in ("0", "") for r in cv)) if cv else "—",
        ])  # fmt: skip
    return _list_table(header, rows) if rows else ""


_JSON = {"True": "true", "False": "false"}  # a flag as Python wrote it, in JSON


def _value(cell: str):
    """A value the runs CSV wrote as Python does (a list with ``nan`` for NaN, a number, a flag)."""
    return json.loads(_JSON.get(cell) or cell.replace("nan", "NaN"))


def _values(cell: str) -> list[float]:
    """A list the runs CSV wrote (an empty cell: none)."""
    return _value(cell) if cell else []


def _joined(values, spec: str) -> str:
    return ", ".join(f"{v:{spec}}" for v in values)


def _what_fairif_did(run: dict) -> str:
    """One FairIF run's outcome from its runs-CSV row: ERM kept (and why), or the rounds kept."""
    steps = _values(run["steps"])
    if run["reweighted"] != "True":
        return "every gap within noise: ERM kept" if not steps else "round rejected: ERM kept"
    rounds = f"{len(steps)} round{'s' * (len(steps) > 1)} (steps {_joined(steps, 'g')}"
    temperatures = _values(run.get("round_temperatures", ""))
    if len(set(temperatures)) > 1:
        rounds += f"; temperatures {_joined(temperatures, '.3g')}"
    gaps, ratios = _joined(_values(run["final_gaps"]), ".3f"), _joined(_values(run["materialization"]), ".2f")
    return f"{rounds}); gaps to {gaps} (first round's materialisation {ratios})"


def per_seed(runs: list[dict]) -> str:
    """Per seed: ERM's and FairIF's test accuracy and AOD, the annotated gaps at ERM with their
    standard errors, and what FairIF did."""
    header = ["seed", "ERM accuracy", "ERM AOD", "FairIF accuracy", "FairIF AOD",
              "annotated gaps at ERM (standard errors)", "what FairIF did"]  # fmt: skip
    by_seed: dict[str, dict] = {}
    for r in runs:
        by_seed.setdefault(r["seed"], {})[r["method"]] = r
    rows = []
    for seed in sorted(by_seed, key=int):
        erm, ours = by_seed[seed]["ERM"], by_seed[seed]["FairIF"]
        gaps, errors = _values(ours["gaps"]), _values(ours["gaps_stderr"])
        rows.append([
            seed, f"{float(erm['acc']):.4f}", f"{float(erm['AOD']):.4f}", f"{float(ours['acc']):.4f}",
            f"{float(ours['AOD']):.4f}",
            f"{_joined(gaps, '.3f')} ({_joined(errors, '.3f')})",
            _what_fairif_did(ours),
        ])  # fmt: skip
    return _list_table(header, rows)


def _parsed(row: dict) -> dict:
    """A runs-CSV row as ``fairif-bench`` held it before writing (what :func:`_report.summarise` reads):
    the seed, metrics and rates as numbers, the lists and flags it summarises as Python values, and
    an empty cell as a key the run did not have."""
    out: dict = {}
    for key, value in row.items():
        if value == "":
            continue
        if key == "seed":
            out[key] = int(value)
        elif key in _report.METRICS or key.startswith(("valid_", *_report.RATE_PREFIXES)):
            out[key] = float(value)
        elif key in _report.LISTED:
            out[key] = _value(value)
        else:
            out[key] = value
    return out


def merge(folders: list[Path], into: Path, prefix: str = "") -> list[Path]:
    """The runs CSVs of one study split over processes (one data set, disjoint seeds), as one run:
    the runs and summary CSVs, the printed table and the plot; the paths written."""
    found = [sorted(folder.glob("*-runs.csv")) for folder in folders]
    names = {path.name for paths in found for path in paths}
    if any(len(paths) != 1 for paths in found) or len(names) != 1:
        raise ValueError(f"each folder must hold the runs CSV of one and the same data set, got {names}")
    rows = [row for paths in found for row in _read(paths[0])]
    fits = [(r["seed"], r["method"], r["groups"]) for r in rows]
    if len(set(fits)) != len(fits):
        raise ValueError("the folders share a seed: merge runs of disjoint seeds")
    name = names.pop().removesuffix("-runs.csv")
    summary = _report.summarise([_parsed(r) for r in rows])
    title = _report.title(name, len({r["seed"] for r in rows}))
    files = _report.write_run(into, prefix + name, rows, summary, title)
    text = into / f"{prefix}{name}.txt"
    text.write_text(
        f"merged from {', '.join(map(str, folders))}\n" + _report.format_table(summary, title) + "\n"
    )
    return [*files, text]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, nargs="?", help="write the tables of this folder's CSV files")
    p.add_argument("--merge", type=Path, nargs="+", help="merge these folders' runs instead (with --into)")
    p.add_argument("--into", type=Path, help="the folder the merged files go to")
    p.add_argument("--prefix", default="", help="put before the merged files' names")
    args = p.parse_args(argv)
    if args.merge:
        if args.into is None:
            p.error("--merge needs --into")
        print("wrote " + ", ".join(map(str, merge(args.merge, args.into, args.prefix))))
        return 0
    if args.folder is None:
        p.error("give a folder, or --merge with --into")
    written = {"table1.rst": table1(args.folder), "defaults.rst": defaults(args.folder),
               "materialization.rst": materialization(args.folder), "valid-size.rst": valid_size(args.folder),
               "random-groups.rst": random_groups(args.folder)}  # fmt: skip
    for name in PER_SEED:
        if (args.folder / f"{name}-runs.csv").exists():
            written[f"{name}-seeds.rst"] = per_seed(_read(args.folder / f"{name}-runs.csv"))
    for path in sorted(args.folder.glob("*-summary.csv")):
        if "valid-size" not in path.name:
            written[path.name.replace("-summary.csv", ".rst")] = method_table(_read(path))
    for name, text in written.items():
        (args.folder / name).write_text(text)
    print("wrote " + ", ".join(str(args.folder / n) for n in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
