"""The benchmark command, end to end on a tiny run."""

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from fairif_sklearn.bench import main

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def _benchmark_script(name):
    """A developer script of benchmarks/ (not part of the package), imported from its file."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its measuring subprocesses import it by name too
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_tiny_run_writes_table_csv_and_png(tmp_path, capsys):
    argv = ["--seeds", "2", "--n-samples", "1500", "--eg-max-iter", "2", "--threads", "1"]
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    for method in ("ERM", "FairIF", "ERM, another initialisation", "FairIF [retrain='scratch'",
                   "FairIF [max_rounds=2]", "FairIFClassifierCV", "ThresholdOptimizer",
                   "ExponentiatedGradient", "Reweighing", "ERM's noise in test AOD"):  # fmt: skip
        assert method in out
    assert "train (oracle)" in out and "annotated valid" in out and "AOD vs ERM" in out
    with open(tmp_path / "synthetic-group_size-runs.csv") as f:
        rows = list(csv.DictReader(f))
    by_method = {}
    for r in rows:
        by_method.setdefault(r["method"], []).append(r)
        assert 0.5 < float(r["acc"]) <= 1 and 0 <= float(r["AOD"]) <= 1
    assert len(by_method["FairIF"]) == 2 and {r["reweighted"] for r in by_method["FairIF"]} <= {
        "True",
        "False",
    }
    # FairIF starts from the ERM row's model: same seed, same net (the ERM row is read off FairIF's own fit)
    with open(tmp_path / "synthetic-group_size-summary.csv") as f:
        summary = {r["method"]: r for r in csv.DictReader(f)}
    erm, other = summary["ERM"], summary["ERM, another initialisation (noise)"]
    assert float(summary["FairIF"]["erm_noise_AOD"]) > 0 and erm["AOD_mean"] != other["AOD_mean"]
    png = (tmp_path / "synthetic-group_size.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@pytest.mark.slow
def test_valid_size_study(tmp_path, capsys):
    argv = ["--seeds", "1", "--n-samples", "1500", "--valid-fractions", "1", "0.5", "--threads", "1"]
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "FairIF [1 of valid]" in out and "FairIF [0.5 of valid]" in out
    assert (tmp_path / "synthetic-group_size-valid-size.png").exists()


@pytest.mark.slow
def test_prefit_net_is_debiased_from_its_own_predictions(tmp_path, capsys):
    argv = ["--seeds", "1", "--n-samples", "1500", "--prefit", "--no-variants", "--no-cv",
            "--no-fairlearn", "--threads", "1"]  # fmt: skip
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    with open(tmp_path / "synthetic-group_size-runs.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    prefit, debiased = rows["ERM, a net trained once (prefit)"], rows["FairIF [FrozenEstimator(that net)]"]
    # the prefit net is another model than FairIF's own ERM fit, and FairIF started from it
    assert prefit["AOD"] != rows["ERM"]["AOD"]
    assert debiased["reweighted"] in ("True", "False") and debiased["gaps"]
    if debiased["reweighted"] == "False":
        assert debiased["AOD"] == prefit["AOD"]


def test_random_groups_are_left_alone(tmp_path, capsys):
    argv = ["--seeds", "1", "--n-samples", "1500", "--random-groups", "--no-variants", "--no-cv",
            "--no-fairlearn", "--threads", "1"]  # fmt: skip
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    with open(tmp_path / "synthetic-group_size-random-groups-runs.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert rows["FairIF"]["reweighted"] == "False" and rows["FairIF"]["AOD"] == rows["ERM"]["AOD"]


@pytest.mark.parametrize("dataset", ["ci-mnist", "adult"])
def test_real_data_sets_need_their_files(tmp_path, dataset, offline, capsys):
    argv = ["--dataset", dataset, "--data-home", str(tmp_path / "nowhere"), "--seeds", "1", "-q"]
    assert main(argv + ["--out", str(tmp_path)]) == 2
    assert "FAIRIF_DATA" in capsys.readouterr().err


@pytest.mark.slow
def test_stage1_benchmark_measures_the_same_scores_every_way(tmp_path, capsys):
    import json

    stage1_main = _benchmark_script("stage1").main

    sizes = ["--n", "1500", "--scores-n", "1500", "--scores-n-image", "300", "--backends-n", "800",
             "--sizes", "3000", "--grid-n", "1500"]  # fmt: skip
    argv = ["--repeats", "1", "--threads", "1", *sizes, "--no-real-data", "--out", str(tmp_path / "s1.json")]
    assert stage1_main(argv) == 0
    report = json.loads((tmp_path / "s1.json").read_text())
    out = capsys.readouterr().out
    assert (
        "stage 1 (the defaults) against one ERM epoch" in out
        and "a whole default FairIFClassifier.fit" in out
    )
    for r in report["whole_fit"]:
        assert r["fairif_in_erm_fits"] > 1 and r["cv_in_erm_fits"] > r["fairif_in_erm_fits"] * 0.5
    for r in report["stage1_vs_epoch"]:
        assert r["stage1_s"] > 0 and r["erm_epoch_s"] > 0
    for r in report["scores"]:  # the baselines compute the JVP's scores
        for how in ("per_sample_batched", "per_sample_full"):
            if how in r:
                assert r[how]["max_rel_diff_vs_jvp"] < 1e-4
    exact, *others = report["backends"]
    assert exact["backend"] == "exact"
    cg = next(b for b in others if b["backend"] == "cg (Gauss-Newton)")
    assert cg["score_correlation_with_exact"] > 0.999 and cg["gap_change_rel_diff_vs_exact"] < 0.01
    assert [g["n"] for g in report["growth"]] == [3000]
    assert report["grid_search"]["same_results"]
