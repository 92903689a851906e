"""The benchmark's outputs: a printed table, CSV files and an accuracy-AOD plot."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

METRICS = ("acc", "AD", "AOD", "EOD")
PATH_SUFFIX = " path"


def result_rows(dataset: str, seed: int, results) -> list[dict]:
    """One flat dict per fitted model."""
    rows = []
    for r in results:
        row = {"dataset": dataset, "seed": seed, "method": r.method, "groups": r.groups, "alpha": r.alpha}
        row.update({m: r.test[m] for m in METRICS})
        row.update({f"valid_{m}": r.valid[m] for m in METRICS})
        row.update(r.extra)
        rows.append(row)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and standard deviation over seeds for each method (path rows per alpha)."""
    keys: dict[tuple, list[dict]] = {}
    for row in rows:
        alpha = row["alpha"] if row["method"].endswith(PATH_SUFFIX) else None
        keys.setdefault((row["method"], row["groups"], alpha), []).append(row)
    out = []
    for (method, groups, alpha), group in keys.items():
        entry = {"method": method, "groups": groups, "alpha": alpha, "n_seeds": len(group)}
        for m in METRICS:
            values = np.array([g[m] for g in group], dtype=float)
            entry[f"{m}_mean"], entry[f"{m}_std"] = float(values.mean()), float(values.std())
        if method.endswith("(alpha tuned on valid)"):
            entry["alphas_chosen"] = " ".join(f"{g['alpha']:g}" for g in group)
        out.append(entry)
    return out


def format_table(summary: list[dict], title: str) -> str:
    """A fixed-width table of mean +- std, without the per-alpha path rows."""
    lines = [title, f"{'method':42s} {'group labels used':24s}" + "".join(f"{m:>18s}" for m in METRICS)]
    for e in summary:
        if e["method"].endswith(PATH_SUFFIX):
            continue
        cells = "".join(f"{e[f'{m}_mean']:>10.4f} +-{e[f'{m}_std']:.4f}" for m in METRICS)
        lines.append(f"{e['method']:42s} {e['groups']:24s}{cells}")
        if "alphas_chosen" in e:
            lines.append(f"{'':42s} alphas chosen per seed: {e['alphas_chosen']}")
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rows to CSV, with the union of their keys as columns."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def plot(summary: list[dict], path: Path, title: str) -> None:
    """Accuracy against AOD: FairIF's path over alpha as a curve, the other methods as points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    paths: dict[str, list[dict]] = {}
    for e in summary:
        if e["method"].endswith(PATH_SUFFIX):
            paths.setdefault(e["method"], []).append(e)
    for method, entries in paths.items():
        entries.sort(key=lambda e: -e["alpha"])
        x = [e["AOD_mean"] for e in entries]
        y = [e["acc_mean"] for e in entries]
        ax.plot(x, y, "-o", color="C0", label=f"{method} over alpha", zorder=3)
        for e in entries:
            ax.annotate(f"{e['alpha']:g}", (e["AOD_mean"], e["acc_mean"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8, color="C0")  # fmt: skip
    markers = iter("sD^v<>pP*Xh")
    for i, e in enumerate(x for x in summary if not x["method"].endswith(PATH_SUFFIX)):
        ax.errorbar(
            e["AOD_mean"], e["acc_mean"], xerr=e["AOD_std"], yerr=e["acc_std"], fmt=next(markers, "o"),
            color=f"C{i + 1}", capsize=3, label=f"{e['method']} [{e['groups']}]",
        )  # fmt: skip
    ax.set_xlabel("average odds difference (AOD, test, lower is fairer)")
    ax.set_ylabel("accuracy (test)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
