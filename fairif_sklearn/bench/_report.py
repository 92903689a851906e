"""The benchmark's outputs: a printed table, CSV files and an accuracy-AOD plot."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

METRICS = ("acc", "WGA", "AD", "AOD", "EOD")
ERM = "ERM"
LEVELS_DOWN = "levels down"
# the per-group test rates' columns: TPR[group], TNR[group], recall[class][group]
RATE_PREFIXES = ("TPR[", "TNR[", "recall[")
# the fits' own figures that the summary lists seed by seed
LISTED = ("materialization", "fit_seconds", "reweighted", "n_rounds_chosen")


def result_rows(dataset: str, seed: int, results) -> list[dict]:
    """One flat dict per fitted model."""
    rows = []
    for r in results:
        row = {"dataset": dataset, "seed": seed, "method": r.method, "groups": r.groups}
        row.update({m: r.test[m] for m in METRICS})
        row.update({f"valid_{m}": r.valid[m] for m in METRICS})
        row.update(r.rates)
        row.update(r.extra)
        rows.append(row)
    return rows


def _rate_columns(rows: list[dict]) -> list[str]:
    """The per-group test rates' columns (``TPR[group]``, ``TNR[group]``, ``recall[class][group]``)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k.startswith(RATE_PREFIXES) and k not in columns]
    return columns


def _noise(rows: list[dict], erm: dict, metric: str) -> float:
    """ERM's seed noise in ``metric``: the mean |difference| between its two initialisations."""
    other = [r for r in rows if r["method"].startswith("ERM, another") and r["seed"] in erm]
    if not other:
        return np.nan
    return float(np.mean([abs(r[metric] - erm[r["seed"]][metric]) for r in other]))


def summarise(rows: list[dict]) -> list[dict]:
    """Per method: mean and standard deviation over seeds, and the change against ERM.

    The change is measured against the ERM model of the same seed (the one
    FairIF started from): the relative change of the mean AOD and EOD, the
    accuracy change in points, and how many seeds end less fair than ERM by
    more than the noise (ERM's own seed-to-seed difference, from the row of
    ERM with another initialisation, averaged over seeds). A method whose mean
    worst-group accuracy (WGA) is below ERM's by more than ERM's noise in WGA
    (measured the same way) is flagged as levelling down: it closes gaps by
    making the worst-off cell worse, not better. The per-group test rates get
    their mean over seeds.
    """
    erm = {r["seed"]: r for r in rows if r["method"] == ERM}
    noise, noise_wga = _noise(rows, erm, "AOD"), _noise(rows, erm, "WGA")
    rate_columns = _rate_columns(rows)
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
            entry["WGA_vs_ERM_points"] = 100 * (entry["WGA_mean"] - base["WGA"])
            entry["seeds_worse_than_noise"] = int(
                sum(g["AOD"] - erm[g["seed"]]["AOD"] > noise for g in group)
            )
            entry["levels_down"] = bool(base["WGA"] - entry["WGA_mean"] > noise_wga)
        entry["erm_noise_AOD"] = noise
        entry["erm_noise_WGA"] = noise_wga
        for column in rate_columns:
            values = [g[column] for g in group if column in g]
            entry[f"{column}_mean"] = float(np.mean(values)) if values else np.nan
        for key in LISTED:
            values = [g[key] for g in group if g.get(key) is not None]
            if values:
                entry[key] = values
        out.append(entry)
    return out


def title(name: str, n_seeds: int) -> str:
    """The printed table's title."""
    return f"{name}: test set, mean +- std over {n_seeds} seeds"


def write_run(folder: Path, stem: str, rows: list[dict], summary: list[dict], title: str) -> list[Path]:
    """A run's files in ``folder``: its runs and summary CSVs and its accuracy-AOD plot; the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{stem}{suffix}" for suffix in ("-runs.csv", "-summary.csv", ".png")]
    write_csv(files[0], rows)
    write_csv(files[1], summary)
    plot(summary, files[2], title)
    return files


def format_table(summary: list[dict], title: str) -> str:
    """A fixed-width table of mean +- std, the change against the same seeds' ERM, and the flag of a
    method that levels down (see :func:`summarise`)."""
    head = f"{'method':50s} {'group labels used':24s}" + "".join(f"{m:>17s}" for m in METRICS)
    changes = f"{'AOD vs ERM':>12s}{'EOD vs ERM':>12s}{'acc (pts)':>11s}{'WGA (pts)':>11s}"
    lines = [title, head + changes]
    for e in summary:
        cells = "".join(f"{e[f'{m}_mean']:>9.4f} +-{e[f'{m}_std']:.4f}" for m in METRICS)
        change = ""
        if "AOD_vs_ERM" in e:
            change = (
                f"{e['AOD_vs_ERM']:>+11.0%} {e['EOD_vs_ERM']:>+11.0%} {e['acc_vs_ERM_points']:>+10.2f} "
                f"{e['WGA_vs_ERM_points']:>+10.2f}"
            )
            if e.get("levels_down"):
                change += f"  {LEVELS_DOWN}"
        lines.append(f"{e['method']:50s} {e['groups']:24s}{cells} {change}")
    noise = summary[0].get("erm_noise_AOD") if summary else None
    if noise is not None and np.isfinite(noise):
        lines.append(f"ERM's noise in test AOD (mean |difference| between two initialisations): {noise:.4f}")
    noise = summary[0].get("erm_noise_WGA") if summary else None
    line = "WGA: worst-group accuracy, the lowest over the (class, group) cells"
    if noise is not None and np.isfinite(noise):
        line += f"; ERM's noise in it: {noise:.4f}. '{LEVELS_DOWN}': mean WGA below ERM's by more than it"
    lines.append(line + ".")
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


def colours(n: int) -> list:
    """``n`` distinct colours: tab10's ten (matplotlib's default cycle), then tab20's lighter ten, then
    evenly spaced hues."""
    from matplotlib import colormaps

    palette = [colormaps["tab10"](k) for k in range(10)] + [colormaps["tab20"](k) for k in range(1, 20, 2)]
    if n <= len(palette):
        return palette[:n]
    return [colormaps["hsv"](k / n) for k in range(n)]


def figure(summary: list[dict], title: str):
    """The accuracy-AOD figure: each method's mean with its spread over seeds, each in its own colour
    (and marker), the legend to the right of the axes so that it covers no point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 5.5))
    markers = "osD^v<>pP*Xhd"
    for i, (e, colour) in enumerate(zip(summary, colours(len(summary)), strict=True)):
        ax.errorbar(
            e["AOD_mean"], e["acc_mean"], xerr=e["AOD_std"], yerr=e["acc_std"], fmt=markers[i % len(markers)],
            color=colour, capsize=3, label=f"{e['method']} [{e['groups']}]",
        )  # fmt: skip
    ax.set_xlabel("average odds difference (AOD, test, lower is fairer)")
    ax.set_ylabel("accuracy (test)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    fig.tight_layout()
    return fig


def plot(summary: list[dict], path: Path, title: str) -> None:
    """Accuracy against AOD (see :func:`figure`), saved to ``path``."""
    import matplotlib.pyplot as plt

    fig = figure(summary, title)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def split_paths(rows: list[dict]) -> list[dict]:
    """Take ``FairIFClassifierCV``'s trade-off paths out of ``rows`` (``"path"``): one flat row per
    seed and candidate."""
    out = []
    for row in rows:
        path = row.pop("path", None)
        if path is None:
            continue
        for i in range(len(path["rounds"])):
            entry = {"dataset": row["dataset"], "seed": row["seed"], "method": row["method"], "candidate": i}
            entry.update({k: v[i] for k, v in path.items() if isinstance(v, list)})
            entry["chosen"] = path["chosen"] == i
            out.append(entry)
    return out


def plot_path(path_rows: list[dict], path: Path, name: str) -> bool:
    """The out-of-fold trade-off path, each candidate's mean over seeds (error bars: the mean noise of
    its gap's difference with ERM), drawn by :class:`~fairif_sklearn.inspection.TradeoffDisplay`;
    False when there is no path."""
    if not path_rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..inspection import TradeoffDisplay

    candidates = sorted({r["candidate"] for r in path_rows})

    def mean(key, c):
        return float(np.mean([r[key] for r in path_rows if r["candidate"] == c]))

    labels = []
    for c in candidates:
        first = next(r for r in path_rows if r["candidate"] == c)
        n_chosen = sum(r["chosen"] for r in path_rows if r["candidate"] == c)
        r = first["rounds"]
        label = "ERM" if r == 0 else f"{r} round{'s' * (r > 1)}, closure {first['closure']:g}"
        labels.append(f"{label} (chosen {n_chosen}x)")
    fig, ax = plt.subplots(figsize=(8, 5.5))
    TradeoffDisplay(
        [mean("gap", c) for c in candidates],
        [mean("accuracy", c) for c in candidates],
        labels,
        [mean("gap_diff_se", c) for c in candidates],
    ).plot(ax=ax)
    n_seeds = len({r["seed"] for r in path_rows})
    ax.set_title(f"{name}: FairIFClassifierCV's path, out of fold, mean over {n_seeds} seeds")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True
