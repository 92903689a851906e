"""The benchmark's outputs: a printed table, CSV files and an accuracy-AOD plot."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

METRICS = ("acc", "AD", "AOD", "EOD")
ERM = "ERM"


def result_rows(dataset: str, seed: int, results) -> list[dict]:
    """One flat dict per fitted model."""
    rows = []
    for r in results:
        row = {"dataset": dataset, "seed": seed, "method": r.method, "groups": r.groups}
        row.update({m: r.test[m] for m in METRICS})
        row.update({f"valid_{m}": r.valid[m] for m in METRICS})
        row.update(r.extra)
        rows.append(row)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Per method: mean and standard deviation over seeds, and the change against ERM.

    The change is measured against the ERM model of the same seed (the one
    FairIF started from): the relative change of the mean AOD and EOD, the
    accuracy change in points, and how many seeds end less fair than ERM by
    more than the noise (ERM's own seed-to-seed difference, from the row of
    ERM with another initialisation, averaged over seeds).
    """
    erm = {r["seed"]: r for r in rows if r["method"] == ERM}
    other = [r for r in rows if r["method"].startswith("ERM, another")]
    noise = float(np.mean([abs(r["AOD"] - erm[r["seed"]]["AOD"]) for r in other])) if other else np.nan
    keys: dict[tuple, list[dict]] = {}
    for row in rows:
        keys.setdefault((row["method"], row["groups"]), []).append(row)
    out = []
    for (method, groups), group in keys.items():
        entry = {"method": method, "groups": groups, "n_seeds": len(group)}
        for m in METRICS:
            values = np.array([g[m] for g in group], dtype=float)
            entry[f"{m}_mean"], entry[f"{m}_std"] = float(values.mean()), float(values.std())
        if erm and method != ERM:
            base = {m: np.mean([erm[g["seed"]][m] for g in group]) for m in METRICS}
            entry["AOD_vs_ERM"] = entry["AOD_mean"] / base["AOD"] - 1
            entry["EOD_vs_ERM"] = entry["EOD_mean"] / base["EOD"] - 1
            entry["acc_vs_ERM_points"] = 100 * (entry["acc_mean"] - base["acc"])
            entry["seeds_worse_than_noise"] = int(
                sum(g["AOD"] - erm[g["seed"]]["AOD"] > noise for g in group)
            )
        entry["erm_noise_AOD"] = noise
        for key in ("materialization", "fit_seconds", "reweighted", "n_rounds_chosen"):
            values = [g[key] for g in group if g.get(key) is not None]
            if values:
                entry[key] = values
        out.append(entry)
    return out


def format_table(summary: list[dict], title: str) -> str:
    """A fixed-width table of mean +- std, and the change against the same seeds' ERM."""
    head = f"{'method':50s} {'group labels used':24s}" + "".join(f"{m:>17s}" for m in METRICS)
    lines = [title, head + f"{'AOD vs ERM':>12s}{'EOD vs ERM':>12s}{'acc (pts)':>11s}"]
    for e in summary:
        cells = "".join(f"{e[f'{m}_mean']:>9.4f} +-{e[f'{m}_std']:.4f}" for m in METRICS)
        change = ""
        if "AOD_vs_ERM" in e:
            change = f"{e['AOD_vs_ERM']:>+11.0%} {e['EOD_vs_ERM']:>+11.0%} {e['acc_vs_ERM_points']:>+10.2f}"
        lines.append(f"{e['method']:50s} {e['groups']:24s}{cells} {change}")
    noise = summary[0].get("erm_noise_AOD") if summary else None
    if noise is not None and np.isfinite(noise):
        lines.append(f"ERM's noise in test AOD (mean |difference| between two initialisations): {noise:.4f}")
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
    """Accuracy against AOD: each method's mean, with its spread over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    markers = iter("osD^v<>pP*Xh")
    for i, e in enumerate(summary):
        ax.errorbar(
            e["AOD_mean"], e["acc_mean"], xerr=e["AOD_std"], yerr=e["acc_std"], fmt=next(markers, "o"),
            color=f"C{i % 10}", capsize=3, label=f"{e['method']} [{e['groups']}]",
        )  # fmt: skip
    ax.set_xlabel("average odds difference (AOD, test, lower is fairer)")
    ax.set_ylabel("accuracy (test)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
