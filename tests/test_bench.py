"""The benchmark command, end to end on a tiny run."""

import csv

import pytest

from fairif_sklearn.bench import main
from fairif_sklearn.bench._methods import ALPHA_SELECTION_ACCURACY_SLACK, Result, fairif_summary


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
def test_real_data_sets_need_their_files(tmp_path, dataset, offline):
    with pytest.raises(FileNotFoundError, match="FAIRIF_DATA"):
        main(["--dataset", dataset, "--data-home", str(tmp_path / "nowhere"), "--seeds", "1", "-q",
              "--out", str(tmp_path)])  # fmt: skip
