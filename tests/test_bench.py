"""The benchmark command, end to end on a tiny run."""

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from fairif_sklearn.bench import main
from fairif_sklearn.bench._methods import ALPHA_SELECTION_ACCURACY_SLACK, Result, fairif_summary

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
    argv = ["--seeds", "1", "--n-samples", "1500", "--eg-max-iter", "2", "--alphas", "1", "0.1"]
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    for method in ("ERM", "FairIF (alpha=0.1)", "FairIF (alpha tuned on valid)", "ThresholdOptimizer",
                   "ExponentiatedGradient", "Reweighing"):  # fmt: skip
        assert method in out
    assert "train (oracle)" in out and "annotated valid" in out
    with open(tmp_path / "synthetic-group_size-runs.csv") as f:
        rows = list(csv.DictReader(f))
    methods = {r["method"] for r in rows}
    assert {"ERM", "FairIF path", "Reweighing (Kamiran-Calders)"} <= methods
    assert {r["alpha"] for r in rows if r["method"] == "FairIF path"} == {"1.0", "0.1"}
    for r in rows:
        assert 0.5 < float(r["acc"]) <= 1 and 0 <= float(r["AOD"]) <= 1
    assert (tmp_path / "synthetic-group_size-summary.csv").exists()
    png = (tmp_path / "synthetic-group_size.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@pytest.mark.slow
def test_valid_size_study(tmp_path, capsys):
    argv = ["--seeds", "1", "--n-samples", "1500", "--alphas", "0.1", "--valid-fractions", "1", "0.5"]
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "FairIF [1 of valid] (alpha=0.1)" in out and "FairIF [0.5 of valid] (alpha=0.1)" in out
    assert (tmp_path / "synthetic-group_size-valid-size.png").exists()


def _result(alpha, valid_acc, valid_aod):
    scores = {"acc": valid_acc, "AD": 0.0, "AOD": valid_aod, "EOD": 0.0}
    return Result("FairIF path", "annotated valid", scores, scores, alpha)


def test_alpha_is_chosen_on_the_valid_set_never_the_test_set():
    erm = _result(None, 0.90, 0.05)
    path = [_result(1.0, 0.90, 0.04), _result(0.1, 0.899, 0.02), _result(0.01, 0.85, 0.001)]
    path[1].test = {"acc": 0.5, "AD": 1, "AOD": 1, "EOD": 1}  # a terrible test score must not matter
    default, tuned = fairif_summary(path, erm)
    assert default.alpha == 0.1
    assert tuned.alpha == 0.1  # alpha 0.01 is fairer but loses more than the accuracy slack
    assert 0.90 - 0.85 > ALPHA_SELECTION_ACCURACY_SLACK


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
    assert "stage 1 against one ERM epoch" in capsys.readouterr().out
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
